import warnings

import numpy as np
import pytest
from conftest import config_text, small_model_section, write_keras2_weights

from ConfigParser import ConfigParser
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

SMALL: dict = small_model_section(
    64, model="TensorflowUNet3Plus", base_filters=4, num_layers=5, dropout_rate=0.05, learning_rate=0.0003
)

# The [model] section the original's published count was measured with (model-reference-counts.md).
REFERENCE = {
    "model": "TensorflowUNet3Plus",
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


def config(section, **sections):
    return ConfigParser.from_string(config_text({"model": section, **sections}), "m.config")


def build(section):
    return create_model(config(section)).model


def expected_parameters(channels, base_filters, num_layers):
    """The original's count: five levels, decoder blocks of num_layers·base_filters filters."""
    filters = [base_filters * 2**i for i in range(5)]
    upsample = num_layers * base_filters

    def block(c_in, c_out, batch_norm=True):  # 3×3 convolution with bias, BN's four vectors
        return 9 * c_in * c_out + c_out + (4 * c_out if batch_norm else 0)

    total, c_in = 0, channels
    for f in filters:
        total += block(c_in, f) + block(f, f)
        c_in = f
    for target in (3, 2, 1, 0):
        for level in range(5):
            c = filters[level] if level <= target or level == 4 else upsample
            total += block(c, base_filters)
        total += block(5 * base_filters, upsample)
    return total + block(upsample, 1, batch_norm=False)


def test_the_counting_rule_matches_the_originals_counts():
    assert expected_parameters(3, 16, 6) == 1_753_905  # model-reference-counts.md
    assert expected_parameters(3, 16, 5) == 1_693_537  # spec §3.11


def test_reference_config_parses_quietly_and_has_the_published_count():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = config(REFERENCE)
    model = create_model(parsed).model
    assert model.count_params() == 1_753_905
    assert model.name == "UNet_3Plus"
    assert model.input_shape == (None, 256, 256, 3) and model.output_shape == (None, 256, 256, 1)


def test_small_model_layout():
    model = build(dict(SMALL, activation="mish"))
    assert model.count_params() == expected_parameters(3, 4, 5)
    kinds = [type(la).__name__ for la in model.layers]
    assert kinds.count("Conv2D") == 10 + 4 * 6 + 1 and kinds.count("BatchNormalization") == 10 + 4 * 6
    assert kinds[-3:] == ["Conv2D", "Dropout", "Activation"]  # dropout on the head's logits
    head, dropout, activation = model.layers[-3:]
    assert head.kernel.shape == (3, 3, 20, 1) and head.get_config()["activation"] == "linear"
    assert dropout.rate == pytest.approx(0.05)
    assert activation.get_config()["activation"] == "sigmoid"
    assert head.dtype_policy.compute_dtype == activation.dtype_policy.compute_dtype == "float32"
    convs = [la for la in model.layers if type(la).__name__ == "Conv2D"][:-1]
    for conv in convs:
        cfg = conv.get_config()
        assert cfg["kernel_initializer"]["class_name"] == "HeNormal"
        assert cfg["kernel_initializer"]["config"]["seed"] == 5
        assert cfg["kernel_regularizer"]["config"]["l2"] == pytest.approx(1e-4)
    rates = [round(la.rate, 6) for la in model.layers if type(la).__name__ == "Dropout"]
    assert rates[:4] == [0.05, 0.1, 0.05, 0.1]  # dropout_rate·i in the encoder's two-convolution blocks
    assert all(type(la).__name__ != "Activation" or la.get_config()["activation"] in ("relu", "sigmoid")
               for la in model.layers)  # [model] activation is ignored
    upsampling = [la for la in model.layers if type(la).__name__ == "UpSampling2D"]
    assert len(upsampling) == 10 and all(la.interpolation == "bilinear" for la in upsampling)


def test_original_layout_weights_load_by_layer_order(tmp_path):
    parsed = config(SMALL, train={"model_dir": str(tmp_path)})
    trained = create_model(parsed).model
    rng = np.random.default_rng(0)
    trained.set_weights([w + rng.normal(0, 0.01, w.shape).astype(w.dtype) for w in trained.get_weights()])
    write_keras2_weights(tmp_path / "best_model.h5", trained)
    fresh = create_model(parsed).model
    assert load_best_weights(fresh, parsed).endswith("best_model.h5")
    for a, b in zip(fresh.weights, trained.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    x = rng.uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    # Eager calls: a compiled predict function of this graph costs seconds to build.
    np.testing.assert_allclose(np.asarray(fresh(x, training=False)), np.asarray(trained(x, training=False)), atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_classes": 3, "loss": "categorical_crossentropy"},
         r"\[model\] num_classes = 3: TensorflowUNet3Plus's head has one channel, as the original's"),
        ({"num_classes": 2, "final_activation": "sigmoid"}, r"\[model\] num_classes = 2: .*has one channel"),
        ({"num_layers": 4}, r"\[model\] num_layers = 4: TensorflowUNet3Plus is always 5 levels deep"),
        ({"image_width": 72}, r"\[model\] image_width = 72: TensorflowUNet3Plus needs a size divisible by 16"),
        ({"image_height": 40}, r"\[model\] image_height = 40: .*divisible by 16"),
        ({"dropout_rate": 0.5}, r"\[model\] dropout_rate = 0.5: .*2·dropout_rate = 1, which must be below 1"),
        ({"dropout_rate": None}, r"\[model\] dropout_rate = None: expected a number"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(dict(SMALL, **overrides))


def test_dropout_rate_is_required_as_in_the_original():
    section = {k: v for k, v in SMALL.items() if k != "dropout_rate"}
    with pytest.raises(ConfigError, match=r"\[model\] dropout_rate \(not set\): this key is required"):
        build(section)
