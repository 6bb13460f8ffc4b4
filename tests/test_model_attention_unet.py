"""TensorflowAttentionUNet: the original's size, its weight layout, the gates, the head and the checks."""

import numpy as np
import pytest
from conftest import config_text, write_keras2_weights

from ConfigParser import ConfigParser
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

# 64 px, 8 filters, 3 levels: about 32 k parameters.
SMALL: dict = {
    "model": "TensorflowAttentionUNet",
    "image_width": 64,
    "image_height": 64,
    "image_channels": 3,
    "num_classes": 1,
    "base_filters": 8,
    "num_layers": 3,
    "dropout_rate": 0.05,
    "learning_rate": 0.001,
    "loss": "bce_dice_loss",
    "metrics": ["dice_coef"],
}

# The [model] section of the original's projects/TensorflowAttentionUNet/Acute-Lymphoblastic-Leukemia config.
REFERENCE = {
    "model": "TensorflowAttentionUNet",
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


def kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_the_originals_config_gives_the_originals_parameter_count():
    model = create_model(config_of(REFERENCE)).model
    assert model.count_params() == 8_229_073
    assert model.name == "Attention-UNET"
    assert model.output_shape == (None, 256, 256, 1)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


@pytest.mark.parametrize("rate", [0.05, 0.0])
def test_weights_come_in_the_originals_layer_order(rate):
    # Keras orders layers by depth, ties by traversal from the output, as Keras 2 did for the original's graph:
    # with dropout the skip's projection Ws is one layer deeper than the gating signal's Wg, so it comes first.
    model = build(base_filters=4, num_layers=2, dropout_rate=rate)
    shapes = [tuple(w.shape) for layer in model.layers for w in layer.weights[:1]]
    wg, ws = (1, 1, 8, 4), (1, 1, 4, 4)
    assert shapes == [
        (3, 3, 3, 4), (4,), (3, 3, 4, 4), (4,),  # level 0: conv, BN, conv, BN
        (3, 3, 4, 8), (8,), (3, 3, 8, 8), (8,),  # bridge
        *((ws, wg) if rate else (wg, ws)), (4,), (4,), (1, 1, 4, 4),  # gate: projections, BN(Wg), BN(Ws), psi
        (3, 3, 12, 4), (4,), (3, 3, 4, 4), (4,),  # decoder block on [upsampled, gated skip]
        (1, 1, 4, 1),  # head
    ]


def test_no_input_scaling_one_dropout_rate_and_bilinear_upsampling():
    model = build()
    names = kinds(model)
    assert "Rescaling" not in names and "Lambda" not in names
    dropouts = [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"]
    assert dropouts == pytest.approx([0.05] * (5 + 2))  # 5 conv blocks, 2 gates
    ups = [layer for layer in model.layers if type(layer).__name__ == "UpSampling2D"]
    assert [u.interpolation for u in ups] == ["bilinear", "bilinear"]
    assert names.count("Multiply") == 2
    assert "Dropout" not in kinds(build(dropout_rate=0.0))


def test_dropout_rate_defaults_to_the_originals_0_1():
    section = dict(SMALL)
    del section["dropout_rate"]
    model = create_model(config_of(section)).model
    assert {layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"} == {0.1}


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
    model = build(num_classes=3, loss="categorical_crossentropy", metrics=["dice_coef"])
    assert model.output_shape == (None, 64, 64, 3)
    assert model.layers[-1].get_config()["activation"] == "softmax"
    model = build(num_classes=3, final_activation="sigmoid")
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


def test_sizes_the_depth_cannot_halve_name_num_layers():
    with pytest.raises(ConfigError, match=r"\[model\] num_layers = 4: needs .* divisible by 8"):
        build(num_layers=4, image_width=60, image_height=60)


@pytest.mark.parametrize("rate", [1.0, -0.1])
def test_dropout_rate_outside_0_1_names_the_key(rate):
    with pytest.raises(ConfigError, match=r"\[model\] dropout_rate"):
        config_of({**SMALL, "dropout_rate": rate})
