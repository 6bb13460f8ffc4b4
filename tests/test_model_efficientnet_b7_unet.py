"""TensorflowEfficientNetB7UNet: the original's size, its frozen layers, its weight layout and the checks.

The model has 56.7 M parameters at any size and takes seconds to build, so
this file builds it once.
"""

import numpy as np
import pytest
from conftest import write_keras2_weights
from test_model_efficient_unet import config_of, perturbed, predict

from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

# No small variant: the EfficientNetB7 encoder fixes the size (56.7 M parameters), so the zoo test does the
# forward pass and the weights round trips only, no training. 64 px, weights None (tests never download).
SMALL: dict = {
    "model": "TensorflowEfficientNetB7UNet",
    "image_width": 64,
    "image_height": 64,
    "image_channels": 3,
    "num_classes": 1,
    "weights": None,
    "learning_rate": 0.0001,
    "loss": "bce_dice_loss",
    "metrics": ["dice_coef"],
}

# The [model] section of the original's projects/TensorflowEfficientNetB7UNet/Acute-Lymphoblastic-Leukemia
# config, counted with weights=None.
REFERENCE = {
    "model": "TensorflowEfficientNetB7UNet",
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


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("b7")
    config = config_of(REFERENCE, train={"model_dir": str(folder)})
    return config, create_model(config).model, folder


def test_the_originals_config_gives_the_originals_parameter_count(reference):
    _, model, _ = reference
    assert model.count_params() == 56_725_112
    assert model.name == "EfficientNetB7_U-Net"
    assert model.layers[0].name == "input_image"
    assert model.output_shape == (None, 256, 256, 1)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    concatenated = [layer for layer in model.layers if type(layer).__name__ == "Concatenate"]
    assert [tuple(layer.input[1].shape[1:]) for layer in concatenated] == [
        (16, 16, 480), (32, 32, 288), (64, 64, 192), (128, 128, 64), (256, 256, 3),  # block4a … block1a, input
    ]


def test_all_encoder_layers_but_the_last_61_are_frozen(reference):
    _, model, _ = reference
    names = [layer.name for layer in model.layers]
    first_trainable = names.index("block7a_expand_conv")  # the 61st layer from the end of EfficientNetB7
    frozen = [layer for layer in model.layers[:first_trainable] if layer.weights]
    assert frozen and not any(layer.trainable for layer in frozen)
    assert all(layer.trainable for layer in model.layers[first_trainable:])
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 15_756_193  # block7a's expansion and depthwise stages, and the decoder


def test_keras2_weights_of_the_original_layout_load_by_layer_order(reference):
    config, model, folder = reference
    x = np.random.default_rng(0).uniform(0, 255, (1, 256, 256, 3)).astype(np.float32)
    expected = predict(perturbed(model, seed=1), x)
    write_keras2_weights(folder / "best_model.h5", model)
    assert not np.allclose(predict(perturbed(model, seed=2), x), expected, atol=1e-4)
    assert load_best_weights(model, config).endswith("best_model.h5")
    np.testing.assert_allclose(predict(model, x), expected, atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_classes": 2}, r"\[model\] num_classes = 2: TensorflowEfficientNetB7UNet's head has one channel"),
        ({"num_classes": 3, "loss": "categorical_crossentropy"}, r"\[model\] num_classes = 3: .*one channel"),
        ({"image_width": 80}, r"\[model\] image_width = 80: TensorflowEfficientNetB7UNet needs .* by 32"),
        ({"image_channels": 1, "weights": "imagenet"},
         r"\[model\] image_channels = 1: pretrained EfficientNetB7 weights take 3 channels"),
    ],
)
def test_bad_values_name_the_key_before_the_model_is_built(overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_model(config_of({**SMALL, **overrides}))
