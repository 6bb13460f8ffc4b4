"""TensorflowMultiResUNet: the original's size, its weight layout, the blocks, the head and the checks."""

import warnings

import numpy as np
import pytest
from conftest import config_text, write_keras2_weights

from blocks.multires import multires_widths
from ConfigParser import ConfigParser, ConfigWarning
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

# 64 px, 8 filters, 2 levels (a ResPath of 2 units): about 11 k parameters.
SMALL: dict = {
    "model": "TensorflowMultiResUNet",
    "image_width": 64,
    "image_height": 64,
    "image_channels": 3,
    "num_classes": 1,
    "base_filters": 8,
    "num_layers": 2,
    "learning_rate": 0.001,
    "loss": "bce_dice_loss",
    "metrics": ["dice_coef"],
}

# The [model] section of the original's projects/TensorflowMultiResUNet/Acute-Lymphoblastic-Leukemia config.
REFERENCE = {
    "model": "TensorflowMultiResUNet",
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
}


def config_of(section: dict, **sections) -> ConfigParser:
    return ConfigParser.from_string(config_text({"model": section, **sections}), "m.config")


def build(**overrides):
    return create_model(config_of({**SMALL, **overrides})).model


def of_kind(model, name: str) -> list:
    return [layer for layer in model.layers if type(layer).__name__ == name]


def test_the_originals_config_gives_the_originals_parameter_count():
    # MultiResUNet has no dropout: the original's configs set dropout_rate all the same, and it only warns.
    with pytest.warns(ConfigWarning, match=r"dropout_rate is a key of .*not of TensorflowMultiResUNet"):
        config = config_of(REFERENCE)
    model = create_model(config).model
    assert model.count_params() == 8_174_749
    assert model.name == "MultiResUNET"
    assert model.output_shape == (None, 256, 256, 1)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


def test_the_specs_128_px_five_level_size():
    model = build(image_width=128, image_height=128, base_filters=16, num_layers=5)
    assert model.count_params() == 2_037_611


def test_block_widths_are_the_originals_truncations():
    assert multires_widths(16) == (4, 8, 13)  # W = 26.72
    assert multires_widths(8) == (2, 4, 6)
    assert multires_widths(4) == (1, 2, 3)


def test_weights_come_in_the_originals_layer_order():
    # F = 4, two levels. Keras orders layers by depth, ties by traversal from the output, as Keras 2 did for the
    # original's graph; this pins the order, which the original's weight files depend on.
    model = build(base_filters=4, num_layers=2)
    shapes = [tuple(layer.weights[0].shape) for layer in model.layers if layer.weights]
    assert shapes == [
        (3, 3, 3, 1), (1,), (3, 3, 1, 2), (2,), (3, 3, 2, 3), (3,), (1, 1, 3, 6), (6,), (6,), (6,),
        (3, 3, 6, 2), (2,), (3, 3, 2, 4), (4,), (3, 3, 6, 4), (1, 1, 6, 4), (3, 3, 4, 6), (4,), (4,), (6,),
        (1, 1, 6, 12), (4,), (12,), (12,), (3, 3, 4, 4), (1, 1, 4, 4), (4,), (4,), (12,), (2, 2, 4, 12), (4,),
        (3, 3, 8, 1), (1,), (3, 3, 1, 2), (2,), (3, 3, 2, 3), (3,), (1, 1, 8, 6), (6,), (6,), (6,),
        (1, 1, 6, 1),
    ]


def test_input_scaled_convolutions_bias_free_respaths_shorten_with_depth():
    model = build(num_layers=3, base_filters=4)
    assert type(model.layers[1]).__name__ == "Rescaling"
    assert model.layers[1].scale == pytest.approx(1 / 255)
    convs = of_kind(model, "Conv2D")
    assert not any(conv.use_bias for conv in convs[:-1]) and convs[-1].use_bias
    # One Add per MultiRes block (5) and per ResPath unit (3 at level 0, 2 at level 1).
    assert len(of_kind(model, "Add")) == 5 + 3 + 2
    assert not of_kind(model, "Dropout")
    assert [t.kernel_size for t in of_kind(model, "Conv2DTranspose")] == [(2, 2), (2, 2)]


def test_keras2_weights_of_the_original_layout_load_by_layer_order(tmp_path):
    config = config_of(SMALL, train={"model_dir": str(tmp_path)})
    trained = create_model(config).model
    rng = np.random.default_rng(0)
    for weight in trained.weights:  # moved away from the initial values; variances stay positive
        weight.assign(np.asarray(weight) + rng.normal(0, 0.05, weight.shape).astype("float32"))
    write_keras2_weights(tmp_path / "best_model.h5", trained)
    fresh = create_model(config).model
    assert load_best_weights(fresh, config).endswith("best_model.h5")
    x = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-5)


def test_more_classes_give_a_softmax_head_unless_final_activation_says_otherwise():
    # The original's head was sigmoid whatever num_classes said (M42).
    model = build(num_classes=3, loss="categorical_crossentropy")
    assert model.output_shape == (None, 64, 64, 3)
    assert model.layers[-1].get_config()["activation"] == "softmax"
    model = build(num_classes=3, final_activation="sigmoid")
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


def test_sizes_the_depth_cannot_halve_name_num_layers():
    with pytest.raises(ConfigError, match=r"\[model\] num_layers = 3: needs .* divisible by 4"):
        build(num_layers=3, image_width=66, image_height=66)


def test_small_section_parses_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        config_of(SMALL)
