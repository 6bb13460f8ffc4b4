"""TensorflowXceptionLikeUNet: the original's size and layer order, its keys, and a small model that trains."""

import keras
import numpy as np
import pytest
from conftest import config_text, make_pair, write_keras2_weights

from ConfigParser import ConfigParser, ConfigWarning
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

SMALL: dict = {
    "model": "TensorflowXceptionLikeUNet",
    "image_width": 64,
    "image_height": 64,
    "image_channels": 3,
    "num_classes": 1,
    "base_filters": 8,
    "num_layers": 3,
    "learning_rate": 0.003,
    "loss": "bce_dice_loss",
    "metrics": ["dice_coef"],
}


def build(tmp_path=None, **overrides):
    sections = {"model": {**SMALL, **overrides}}
    if tmp_path is not None:
        sections["train"] = {"model_dir": str(tmp_path)}
    config = ConfigParser.from_string(config_text(sections))
    return create_model(config), config


def randomize(model, seed=1):
    """Random weights of a moderate scale, BatchNorm statistics included (so that a wrong order shows)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        if weight.name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) == 1:
            value = rng.normal(0, 0.1, shape)
        else:
            value = rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
        weight.assign(value.astype("float32"))


def discs(count=8, size=64, seed=0):
    rng = np.random.default_rng(seed)
    pairs = [make_pair(size, rng) for _ in range(count)]
    x = np.stack([image for image, _ in pairs]).astype("float32")
    y = (np.stack([mask for _, mask in pairs])[..., None] > 0).astype("float32")
    return x, y


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_the_specs_size_at_128_px_16_filters_5_levels():
    model = build(image_width=128, image_height=128, base_filters=16, num_layers=5)[0].model
    assert model.count_params() == 2_068_177  # spec §3.13
    assert model.name == "Xception-UNET"
    assert model.output_shape == (None, 128, 128, 1)
    kinds = layer_kinds(model)
    assert kinds.count("SeparableConv2D") == 2 * 4 and kinds.count("Conv2DTranspose") == 2 * 5
    assert kinds.count("BatchNormalization") == 1 + 2 * 4 + 2 * 5
    assert "Rescaling" not in kinds  # the original fed the input as it came
    head = model.layers[-1]
    assert head.kernel_size == (3, 3) and head.get_config()["activation"] == "sigmoid"
    assert head.compute_dtype == "float32"


def test_diation_dilates_the_separable_convolutions_only():
    with pytest.warns(ConfigWarning, match=r"\[model\] dilation is a key of TensorflowUNet"):
        model = build(diation=(2, 2), dilation=(3, 3))[0].model  # the original read only its misspelling
    separable = [la for la in model.layers if type(la).__name__ == "SeparableConv2D"]
    assert separable and all(la.dilation_rate == (2, 2) for la in separable)
    strided = [la for la in model.layers if getattr(la, "strides", (1, 1)) == (2, 2) and hasattr(la, "kernel")]
    assert len(strided) == 1 + (SMALL["num_layers"] - 1)  # the entry and the down projections
    assert all(la.dilation_rate == (1, 1) for la in strided)


def test_the_size_must_be_divisible_by_2_to_the_num_layers():
    with pytest.raises(ConfigError, match=r"\[model\] num_layers = 3: needs .* divisible by 8 .* 60 and 60"):
        build(image_width=60, image_height=60)


def test_diation_takes_a_pair_of_positive_rates():
    with pytest.raises(ConfigError, match=r"\[model\] diation"):
        build(diation=(0, 0))


def test_several_classes_get_a_softmax_head_unless_final_activation_says_otherwise():
    model = build(num_classes=3, loss="categorical_crossentropy")[0].model
    assert model.output_shape == (None, 64, 64, 3)
    assert model.layers[-1].get_config()["activation"] == "softmax"
    model = build(num_classes=3, final_activation="sigmoid")[0].model
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


def test_small_model_trains_and_survives_a_keras_round_trip(tmp_path):
    model = build()[0].model
    x, y = discs()
    # Training-mode losses (batch statistics): inference-mode BatchNorm has hardly moved after one epoch.
    before = model.train_on_batch(x, y)[0]
    history = model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    assert set(history.history) == {"loss", "dice_coef"}
    assert model.train_on_batch(x, y)[0] < before
    model.save(tmp_path / "small.keras")
    loaded = keras.saving.load_model(tmp_path / "small.keras", compile=False)
    np.testing.assert_allclose(loaded.predict(x[:2], verbose=0), model.predict(x[:2], verbose=0), atol=1e-6)


def test_keras2_weights_of_the_original_layout_load_by_layer_order(tmp_path):
    builder, config = build(tmp_path)
    source = builder.model
    randomize(source)
    write_keras2_weights(tmp_path / "best_model.h5", source)
    fresh = build(tmp_path)[0].model
    assert load_best_weights(fresh, config).endswith("best_model.h5")
    x, _ = discs(2)
    expected = source.predict(x / 255, verbose=0)
    assert np.isfinite(expected).all() and expected.std() > 0
    np.testing.assert_allclose(fresh.predict(x / 255, verbose=0), expected, rtol=1e-5, atol=1e-6)
