"""TensorflowU2Net: the original's size, weight layout, keys and errors."""

import warnings

import numpy as np
import pytest
from conftest import config_text, small_model_section, write_keras2_weights

from ConfigParser import ConfigParser
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

SMALL: dict = {
    key: value
    for key, value in small_model_section(
        64, model="TensorflowU2Net", base_filters=8, num_layers=1, learning_rate=0.01,  # one epoch learns
    ).items()
    if key != "dropout_rate"  # a TensorflowUNet key
}

# The [model] section of the original's projects/TensorflowU2Net/MultipleMyeloma config, as measured.
REFERENCE = """
[model]
model          = "TensorflowU2Net"
image_width    = 512
image_height   = 512
image_channels = 3
num_layers     = 6
base_filters  = 16
num_classes    = 1
activation     = "mish"
optimizer      = "Adam"
learning_rate  = 0.0001
clipvalue      = 0.5
loss           = "bce_dice_loss"
metrics        = ["binary_accuracy"]
show_summary   = False
"""

SWIN_KEYS = {"filter_num_begin": 64, "depth": 4, "stack_num_down": 2, "stack_num_up": 2, "patch_size": (4, 4),
             "num_heads": [4, 8, 8, 8], "window_size": [4, 2, 2, 2], "num_mlp": 512, "shift_window": True}


def config(sections=None, **overrides) -> ConfigParser:
    sections = dict(sections or {})
    sections["model"] = {**SMALL, **overrides}
    return ConfigParser.from_string(config_text(sections), "m.config")


def build(**overrides):
    return create_model(config(**overrides)).model


def images(n=2, size=64):
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def expected_parameters(filters: int, layers: int, channels: int = 3, classes: int = 1) -> int:
    """The parameter count of the original's U2Net, block by block (3×3 convolutions with bias)."""
    def conv(cin, cout, k=3):
        return k * k * cin * cout + cout

    def rsu(cin, mid, out, depth):
        return conv(cin, out) + conv(out, mid) + (depth + 1) * conv(mid, mid) + depth * conv(2 * mid, mid) + conv(
            2 * mid, out)

    def rsu4f(cin, mid, out):
        return conv(cin, out) + conv(out, mid) + 3 * conv(mid, mid) + 2 * conv(2 * mid, mid) + conv(2 * mid, out)

    widths = [filters * 2**i for i in range(layers)]
    depths = [layers + 1] + [layers - i for i in range(layers - 1)]
    bottom = widths[-1]
    total = sum(rsu(cin, f // 4, f, d) for cin, f, d in zip([channels] + widths[:-1], widths, depths))
    total += 2 * rsu4f(bottom, bottom // 2, bottom) + rsu4f(2 * bottom, bottom // 2, bottom)
    below = [bottom] + widths[::-1]
    total += sum(rsu(b + f, f // 4, f, d) for b, f, d in zip(below, widths[::-1], depths[::-1]))
    sides = widths + [bottom, bottom]
    return total + sum(conv(c, classes) for c in sides) + conv(len(sides) * classes, classes, 1)


def test_the_multiple_myeloma_config_has_the_originals_size():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every key of the original's config is known
        parsed = ConfigParser.from_string(REFERENCE, "MultipleMyeloma.config")
    model = create_model(parsed).model
    assert model.count_params() == 48_982_289 == expected_parameters(16, 6)
    assert model.output_shape == (None, 512, 512, 1)


def test_the_count_rule_matches_the_originals_128px_size():
    # 12,248,895 parameters at 128², F=16, L=5 for the original; the count does not depend on the size.
    assert expected_parameters(16, 5) == 12_248_895
    assert build(base_filters=16, num_layers=5).count_params() == 12_248_895


def test_small_model_layout():
    model = build()
    assert model.count_params() == expected_parameters(8, 1)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert "BatchNormalization" not in kinds and "Conv2DTranspose" not in kinds
    assert {la.interpolation for la in model.layers if type(la).__name__ == "UpSampling2D"} == {"bilinear"}
    dilations = {la.dilation_rate[0] for la in model.layers if type(la).__name__ == "Conv2D"}
    assert dilations == {1, 2, 4, 8}
    assert kinds.count("Activation") == 3  # the sigmoid of each side output
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    assert model.name == "u2net_model"


def test_swin_keys_and_the_activation_are_accepted_and_ignored():
    plain = build().count_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build(activation="mish", **SWIN_KEYS)
    assert model.count_params() == plain
    kinds = {type(la).__name__ for la in model.layers}
    activations = {kind for kind in kinds if "ReLU" in kind or "Activation" in kind or "Mish" in kind}
    assert activations == {"ReLU", "Activation"}  # ReLU after every convolution, sigmoid side outputs


def test_several_classes_get_a_softmax_head():
    model = build(num_classes=3, loss="categorical_crossentropy")
    assert model.output_shape == (None, 64, 64, 3)
    assert model.count_params() == expected_parameters(8, 1, classes=3)
    np.testing.assert_allclose(model.predict(images(), verbose=0).sum(axis=-1), 1, atol=1e-5)


def test_keras2_weights_of_the_original_layout_load_by_layer_order(tmp_path):
    parsed = config({"train": {"model_dir": str(tmp_path)}})
    trained = create_model(parsed).model
    write_keras2_weights(tmp_path / "best_model.h5", trained)
    fresh = create_model(parsed).model
    assert load_best_weights(fresh, parsed).endswith("best_model.h5")
    np.testing.assert_allclose(fresh.predict(images(), verbose=0), trained.predict(images(), verbose=0), atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_layers": 5, "image_width": 96},
         r"\[model\] num_layers = 5: needs image_width and image_height divisible by 64 \(2\*\*\(num_layers\+1\)\); "
         r"they are 96 and 64"),
        ({"base_filters": None}, r"\[model\] base_filters = None: expected an integer >= 1"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(**overrides)
