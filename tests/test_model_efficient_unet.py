"""TensorflowEfficientUNet: the original's size, its weight layout, the B0–B7 choice, the head and the checks."""

import warnings

import numpy as np
import pytest
from conftest import config_text, write_keras2_weights

import TensorflowEfficientUNet as efficient_unet_module
from ConfigParser import ConfigParser, ConfigWarning
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

# 64 px, B0 from scratch (weights None: tests never download); about 4 M parameters.
SMALL: dict = {
    "model": "TensorflowEfficientUNet",
    "image_width": 64,
    "image_height": 64,
    "image_channels": 3,
    "num_classes": 1,
    "efficientnet": "B0",
    "weights": None,
    "learning_rate": 0.001,
    "loss": "bce_dice_loss",
    "metrics": ["dice_coef"],
}

# The [model] section of the original's projects/TensorflowEfficientUNet/Acute-Lymphoblastic-Leukemia config,
# counted with weights=None.
REFERENCE = {
    "model": "TensorflowEfficientUNet",
    "image_width": 256,
    "image_height": 256,
    "image_channels": 3,
    "num_classes": 1,
    "base_filters": 16,
    "num_layers": 6,
    "dropout_rate": 0.08,
    "learning_rate": 0.001,
    "loss": "binary_crossentropy",
    "metrics": ["binary_accuracy"],
    "show_summary": False,
    "weights": None,
}


def config_of(section: dict, **sections) -> ConfigParser:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)  # the original's configs hold other families' keys
        return ConfigParser.from_string(config_text({"model": section, **sections}), "m.config")


def build(**overrides):
    return create_model(config_of({**SMALL, **overrides})).model


def test_the_originals_config_gives_the_originals_parameter_count_and_taps():
    model = create_model(config_of(REFERENCE)).model
    assert model.count_params() == 6_292_804
    assert model.output_shape == (None, 256, 256, 1)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    concatenated = [layer for layer in model.layers if type(layer).__name__ == "Concatenate"]
    assert [tuple(t.shape[1:]) for layer in concatenated for t in layer.input] == [
        (16, 16, 320), (16, 16, 112),  # the bridge, upsampled, with block5c_drop
        (32, 32, 112), (32, 32, 40),  # block3b_drop
        (64, 64, 40), (64, 64, 24),  # block2b_drop
        (128, 128, 24), (128, 128, 16),  # block1a_project_bn
        (256, 256, 16), (256, 256, 3),  # the input
    ]
    adds = [layer for layer in model.layers if type(layer).__name__ == "Add" and not layer.name.startswith("block")]
    assert len(adds) == 6  # the bridge CBAR and five decoder CBARs


def perturbed(model, seed=0):
    """`model` with every float weight moved off its initial value (variances kept positive)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "float" not in str(weight.dtype) or weight.name == "count":
            continue
        value = np.asarray(weight)
        value = value * rng.uniform(0.5, 1.5, value.shape)
        if "variance" not in weight.name:
            value = value + rng.normal(0, 0.02, value.shape)
        weight.assign(value.astype(value.dtype))
    for layer in model.layers:
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()  # Normalization keeps its mean and variance as tensors: refresh them
    return model


def predict(model, x):
    # A direct call: `predict` would trace a function per model, which costs seconds here.
    return np.asarray(model(x, training=False))


def test_keras2_weights_of_the_original_layout_load_by_layer_order(tmp_path):
    config = config_of(SMALL, train={"model_dir": str(tmp_path)})
    trained = perturbed(create_model(config).model)
    write_keras2_weights(tmp_path / "best_model.h5", trained)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    expected = predict(trained, x)
    fresh = create_model(config).model
    assert not np.allclose(predict(fresh, x), expected, atol=1e-4)
    assert load_best_weights(fresh, config).endswith("best_model.h5")
    np.testing.assert_allclose(predict(fresh, x), expected, atol=1e-5)


class Stop(Exception):
    pass


@pytest.mark.parametrize("variant", [f"B{i}" for i in range(8)])
def test_every_variant_names_its_keras_application(variant, monkeypatch):
    # B6 too, which the original could not build (NameError). Only the name is
    # checked, to stay fast: building stops at the encoder.
    asked = []

    def record(name, inputs, weights):
        asked.append((name, weights))
        raise Stop

    monkeypatch.setattr(efficient_unet_module, "build_encoder", record)
    with pytest.raises(Stop):
        build(efficientnet=variant)
    assert asked == [(f"EfficientNet{variant}", None)]


def test_an_unknown_variant_is_an_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"\[model\] efficientnet = 'B8': expected one of 'B0', "):
        config_of({**SMALL, "efficientnet": "B8"})


def test_two_classes_are_background_and_one_class_in_a_softmax_head():
    # The original gave num_classes = 2 a one-channel sigmoid head; here it is background + one class.
    # One-channel images, which the pretrained encoder could not take, train from scratch.
    model = build(num_classes=2, loss="categorical_crossentropy", image_channels=1)
    assert model.input_shape == (None, 64, 64, 1)
    assert model.output_shape == (None, 64, 64, 2)
    assert model.layers[-1].get_config()["activation"] == "softmax"
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 1)).astype(np.float32)
    np.testing.assert_allclose(predict(model, x).sum(axis=-1), 1, atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"image_width": 80}, r"\[model\] image_width = 80: TensorflowEfficientUNet needs .* divisible by 32"),
        ({"image_height": 48}, r"\[model\] image_height = 48: .* divisible by 32 .*they are 64 and 48"),
        ({"image_channels": 1, "weights": "imagenet"},
         r"\[model\] image_channels = 1: pretrained EfficientNet weights take 3 channels"),
    ],
)
def test_bad_sizes_and_channels_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(**overrides)
