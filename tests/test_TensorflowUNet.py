import json
import os
import warnings

import keras
import numpy as np
import pytest
from conftest import PANCREAS_CONFIG, REPO, config_text, small_model_section

from ConfigParser import ConfigParser, ConfigWarning
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowUNet import TensorflowUNet, dilation_rates, kernel_sizes

FIXTURE = os.path.join(REPO, "tests", "fixtures", "original_unet_model_sections.json")


def expected_parameters(channels, filters, layers, k0, classes=1, batch_norm=False):
    """The parameter count of the original's TensorflowUNet, counted layer by layer."""
    kernels = [k0] + [max(k0 - 2 * i, 3) for i in range(1, layers)]
    bn = 4 if batch_norm else 0  # gamma, beta, moving mean, moving variance
    total, c_in = 0, channels
    for i in range(layers):
        c, k = filters * 2**i, kernels[i]
        total += (k * k * c_in * c + c) + (k * k * c * c + c) + 2 * bn * c
        c_in = c
    for f in reversed(range(layers - 1)):
        c, k = filters * 2**f, kernels[f]
        total += 4 * (2 * c) * c + c  # 2x2 transposed conv from the level below
        total += (k * k * 2 * c * c + c) + (k * k * c * c + c) + 2 * bn * c
    return total + filters * classes + classes


def test_the_counting_rule_matches_the_originals_published_counts():
    assert expected_parameters(3, 16, 8, 9) == 124_996_849
    assert expected_parameters(3, 16, 6, 3) == 7_775_601


def test_kernel_and_dilation_rules():
    assert kernel_sizes(9, 8) == [9, 7, 5, 3, 3, 3, 3, 3]
    assert dilation_rates(3, 8) == [3, 2, 1, 1, 1, 1, 1, 1]
    assert kernel_sizes(1, 3) == [1, 3, 3]  # clamped after the first level


@pytest.fixture(scope="module")
def pancreas_model():
    return TensorflowUNet(PANCREAS_CONFIG).model


def test_pancreas_model_has_the_originals_size(pancreas_model):
    assert pancreas_model.count_params() == 124_996_849
    assert len(pancreas_model.layers) == 68
    assert pancreas_model.input_shape == (None, 512, 512, 3)
    assert pancreas_model.output_shape == (None, 512, 512, 1)


def test_pancreas_model_layer_by_layer(pancreas_model):
    kernels, dilations = [9, 7, 5, 3, 3, 3, 3, 3], [3, 2, 1, 1, 1, 1, 1, 1]
    expected = []  # (class, filters, kernel, dilation or rate)
    for i in range(8):
        conv = ("Conv2D", 16 * 2**i, kernels[i], dilations[i])
        expected += [conv, ("Dropout", round(0.05 * i, 6)), conv]
        if i < 7:
            expected.append(("MaxPooling2D",))
    for f in reversed(range(7)):
        conv = ("Conv2D", 16 * 2**f, kernels[f], dilations[f])
        expected += [("Conv2DTranspose", 16 * 2**f, 2, 1), ("Concatenate",), conv]
        expected += [("Dropout", round(0.05 * f, 6)), conv]
    expected.append(("Conv2D", 1, 1, 1))
    actual = []
    for layer in pancreas_model.layers[1:]:
        name = type(layer).__name__
        if name in ("Conv2D", "Conv2DTranspose"):
            assert layer.kernel_size[0] == layer.kernel_size[1]
            actual.append((name, layer.filters, layer.kernel_size[0], layer.dilation_rate[0]))
        elif name == "Dropout":
            actual.append((name, round(layer.rate, 6)))
        else:
            actual.append((name,))
    assert actual == expected
    convs = [layer for layer in pancreas_model.layers if type(layer).__name__ == "Conv2D"]
    assert all(c.get_config()["kernel_initializer"]["class_name"] == "HeNormal" for c in convs[:-1])
    assert convs[-1].get_config()["activation"] == "sigmoid"
    assert convs[0].get_config()["activation"] == "relu"
    assert pancreas_model.optimizer.learning_rate.numpy() == pytest.approx(7e-05)
    assert pancreas_model.optimizer.clipvalue == 0.5


def _original_configs():
    with open(FIXTURE) as f:
        return json.load(f)["configs"]


def _config_from_model_section(section: dict[str, str]) -> str:
    # Keys misplaced in [model] by the original's configs only warn.
    return "[model]\n" + "\n".join(f"{k} = {v}" for k, v in section.items()) + "\n"


@pytest.mark.parametrize("original", _original_configs(), ids=lambda c: c["path"].split("projects/")[1])
def test_every_original_unet_config_builds_with_the_original_size(original):
    section = original["model_section"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        config = ConfigParser.from_string(_config_from_model_section(section), original["path"])
    get = lambda key: config.get("model", key)  # noqa: E731
    if not config.has("model", "loss"):
        # The original crashed on this config (eval(None)); we say what to fix.
        with pytest.raises(ConfigError, match=r"\[model\] loss \(not set\): this key is required"):
            TensorflowUNet(config)
        return
    model = TensorflowUNet(config).model
    expected = expected_parameters(
        get("image_channels"),
        get("base_filters"),
        get("num_layers"),
        get("base_kernels")[1],
        get("num_classes"),
        bool(get("normalization")),
    )
    assert model.count_params() == expected
    compiled = model.get_compile_config()
    assert compiled["loss"]["config"] == get("loss")
    assert [m["config"] for m in compiled["metrics"]] == get("metrics")
    if get("activation") == "mish":
        first_conv = next(la for la in model.layers if type(la).__name__ == "Conv2D")
        assert first_conv.get_config()["activation"] == "mish"


def test_small_model_trains_and_predicts_probabilities():
    config = ConfigParser.from_string(config_text({"model": small_model_section(32)}))
    model = create_model(config).model
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    y = (x[..., :1] > 128).astype("float32")
    history = model.fit(x, y, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "dice_coef"}
    p = model.predict(x, verbose=0)
    assert p.shape == (4, 32, 32, 1) and 0 <= p.min() and p.max() <= 1


def test_input_normalize_is_a_rescaling_layer_and_normalization_adds_batchnorm():
    section = small_model_section(32, input_normalize=True, normalization=True, activation="mish")
    model = create_model(ConfigParser.from_string(config_text({"model": section}))).model
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[1] == "Rescaling" and "Lambda" not in kinds
    assert model.layers[1].scale == pytest.approx(1 / 255)
    assert kinds.count("BatchNormalization") == kinds.count("Conv2D") - 1
    section["input_normalize"] = False
    model = create_model(ConfigParser.from_string(config_text({"model": section}))).model
    assert "Rescaling" not in [type(layer).__name__ for layer in model.layers]


def test_adamw_and_clipvalue_default():
    section = small_model_section(32, optimizer="AdamW")
    model = create_model(ConfigParser.from_string(config_text({"model": section}))).model
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.clipvalue == 0.2  # the original's default


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model": "TensorflowUNett"}, r"\[model\] model = 'TensorflowUNett': unknown model; did you mean 'TensorflowUNet'\?"),
        ({"model": "Tensorflow3DUNet"}, r"unknown model.*\(available: TensorflowUNet, TensorflowAttentionUNet"),
        ({"num_layers": 7}, r"\[model\] num_layers = 7: needs image_width and image_height divisible by 64"),
        ({"dilation": (2, 1)}, r"\[model\] dilation = \(2, 1\): the two rates must be equal"),
        ({"dropout_rate": 0.6}, r"\[model\] dropout_rate = 0.6: .* must be below 1"),
        ({"loss": "dice_los"}, r"\[model\] loss = 'dice_los': .*did you mean 'dice_loss'\?"),
        ({"metrics": ["dice_coef", "accuracyy"]}, r"\[model\] metrics = .*'accuracyy': unknown name"),
        ({"activation": "relux"}, r"\[model\] activation = 'relux': expected one of relu, mish"),
    ],
)
def test_bad_model_values_name_the_key(overrides, message):
    config = ConfigParser.from_string(config_text({"model": small_model_section(32, **overrides)}), "m.config")
    with pytest.raises(ConfigError, match=message):
        create_model(config)


def test_building_needs_no_data_folder(tmp_path):
    sections = {
        "model": small_model_section(32),
        "train": {"image_datapath": str(tmp_path / "nowhere"), "mask_datapath": str(tmp_path / "no")},
    }
    assert create_model(ConfigParser.from_string(config_text(sections))).model.built


def test_several_classes_get_a_softmax_head_unless_sigmoid_is_asked_for():
    def build(**overrides):
        return create_model(ConfigParser.from_string(config_text({"model": small_model_section(32, **overrides)}))).model

    softmax = build(num_classes=3, loss="categorical_crossentropy")
    assert softmax.output_shape == (None, 32, 32, 3)
    assert softmax.layers[-1].get_config()["activation"] == "softmax"
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(softmax.predict(x, verbose=0).sum(axis=-1), 1, atol=1e-5)
    labels = np.random.default_rng(1).integers(0, 3, (2, 32, 32, 1)).astype(np.float32)
    assert np.isfinite(softmax.fit(x, labels, epochs=1, verbose=0).history["loss"][0])
    multi_label = build(num_classes=3, final_activation="sigmoid", loss="bce_dice_loss")
    assert multi_label.layers[-1].get_config()["activation"] == "sigmoid"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_classes": 3}, r"\[model\] loss = 'bce_dice_loss': a binary loss for a softmax output over 3 classes"),
        ({"loss": "categorical_crossentropy"}, r"a categorical loss needs \[model\] num_classes > 1"),
        ({"num_classes": 3, "final_activation": "sigmoid", "loss": "categorical_dice_loss"},
         r"categorical losses need a softmax output"),
    ],
)
def test_a_loss_that_does_not_fit_the_output_is_named(overrides, message):
    config = ConfigParser.from_string(config_text({"model": small_model_section(32, **overrides)}))
    with pytest.raises(ConfigError, match=message):
        create_model(config)
