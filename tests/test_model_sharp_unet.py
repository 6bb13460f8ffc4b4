import warnings

import keras
import numpy as np
import pytest
from conftest import config_text, small_model_section, write_keras2_weights

from blocks.sharp import LAPLACIAN, FixedKernel, sharpen
from ConfigParser import ConfigParser
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

SMALL: dict = {
    key: value
    for key, value in small_model_section(64, model="TensorflowSharpUNet", filters=[8, 16], max_filter=32).items()
    if key not in ("base_filters", "num_layers", "dropout_rate")
}

# The [model] section the original's published count was measured with (model-reference-counts.md).
REFERENCE = {
    "model": "TensorflowSharpUNet",
    "image_width": 256,
    "image_height": 256,
    "image_channels": 3,
    "num_classes": 1,
    "base_ksize": (5, 5),
    "base_dilation": (2, 2),
    "ksize": (3, 3),
    "sharp_ksize": (3, 3),
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


def expected_parameters(channels, filters, max_filter, ksize=(3, 3), classes=1, connected=False):
    """The original's count, layer by layer; the dead decoder convolutions are not in its graph."""
    def conv(c_in, c_out):
        return ksize[0] * ksize[1] * c_in * c_out + c_out

    total, c_in = 0, channels
    for f in filters:
        total += conv(c_in, f) + conv(f, f)
        c_in = f
    total += conv(c_in, max_filter) + conv(max_filter, max_filter)
    up = max_filter
    for i, f in enumerate(reversed(filters)):
        total += 2 * 2 * up * f + f + 3 * 3 * f  # transposed convolution, frozen 3×3 depthwise kernel
        up = 2 * f
        if connected or i == len(filters) - 1:
            total += conv(2 * f, f) + conv(f, f)
            up = f
    return total + filters[0] * classes + classes


def test_the_counting_rule_matches_the_originals_counts():
    assert expected_parameters(3, [32, 64, 128, 256], 512, (5, 5)) == 14_036_033
    assert expected_parameters(3, [32, 64, 128, 256], 512) == 5_613_121  # spec §3.8, at 128²


def test_reference_config_parses_and_has_the_published_count():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parsed = config(REFERENCE)
    # The original's keys this family reads and ignores are accepted; dropout_rate it never read.
    assert [str(w.message).split(": ", 1)[1].split(" is ")[0] for w in caught] == ["[model] dropout_rate"]
    model = create_model(parsed).model
    assert model.count_params() == 14_036_033
    assert len(model.layers) == 30  # the dead decoder convolutions are not in the graph
    assert model.input_shape == (None, 256, 256, 3) and model.output_shape == (None, 256, 256, 1)


def test_small_model_layout_and_frozen_laplacian_skips():
    model = build(dict(SMALL, activation="mish"))
    assert model.count_params() == expected_parameters(3, [8, 16], 32)
    convs = [la for la in model.layers if type(la).__name__ == "Conv2D"]
    assert len(convs) == 2 * 2 + 2 + 2 + 1
    assert all(c.get_config()["activation"] == "relu" for c in convs[:-1])  # [model] activation is ignored
    assert convs[-1].get_config()["activation"] == "sigmoid" and convs[-1].kernel_size == (1, 1)
    sharp = [la for la in model.layers if type(la).__name__ == "DepthwiseConv2D"]
    assert [la.kernel.shape for la in sharp] == [(3, 3, 16, 1), (3, 3, 8, 1)]
    assert all(not la.trainable and not la.use_bias for la in sharp)
    np.testing.assert_array_equal(np.asarray(sharp[0].kernel)[:, :, 5, 0], np.array(LAPLACIAN))
    assert sum(int(np.prod(w.shape)) for w in model.non_trainable_weights) == 9 * (8 + 16)
    # The skip's filter sums to zero: a flat feature map sharpens to 0 away from the border.
    inputs = keras.Input((8, 8, 2))
    probe = keras.Model(inputs, sharpen(inputs))
    out = probe.predict(np.full((1, 8, 8, 2), 3.0, np.float32), verbose=0)
    np.testing.assert_allclose(out[0, 1:-1, 1:-1], 0, atol=1e-6)


def test_connected_decoder_feeds_every_levels_convolutions_forward():
    original, connected = build(SMALL), build(dict(SMALL, connected_decoder=True))
    assert connected.count_params() == expected_parameters(3, [8, 16], 32, connected=True)
    assert connected.count_params() > original.count_params()
    convs = [la for la in connected.layers if type(la).__name__ == "Conv2D"]
    assert len(convs) == 2 * 2 + 2 + 2 * 2 + 1
    first_up = next(la for la in connected.layers if type(la).__name__ == "Conv2DTranspose")
    assert first_up.kernel.shape == (2, 2, 16, 32)
    second_up = [la for la in connected.layers if type(la).__name__ == "Conv2DTranspose"][1]
    assert second_up.kernel.shape == (2, 2, 8, 16)  # from the level's convolutions, not its 32-channel concat


def test_several_classes_get_a_softmax_head():
    model = build(dict(SMALL, num_classes=3, loss="categorical_crossentropy"))
    assert model.output_shape == (None, 64, 64, 3)
    assert model.layers[-1].get_config()["activation"] == "softmax"


@pytest.mark.parametrize("connected", [False, True])
def test_original_layout_weights_load_by_layer_order(tmp_path, connected):
    section = dict(SMALL, connected_decoder=connected)
    parsed = config(section, train={"model_dir": str(tmp_path)})
    trained = create_model(parsed).model
    rng = np.random.default_rng(0)
    trained.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in trained.get_weights()])
    write_keras2_weights(tmp_path / "best_model.h5", trained)
    fresh = create_model(parsed).model
    assert load_best_weights(fresh, parsed).endswith("best_model.h5")
    for a, b in zip(fresh.weights, trained.weights):  # the frozen kernels load too
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    x = rng.uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6)


def test_keras_file_round_trip_keeps_the_frozen_kernel(tmp_path):
    model = build(SMALL)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    sharp = [la for la in loaded.layers if type(la).__name__ == "DepthwiseConv2D"]
    assert all(not la.trainable for la in sharp)
    assert isinstance(sharp[0].depthwise_initializer, FixedKernel)
    x = np.random.default_rng(1).uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"filters": []}, r"\[model\] filters = \[\]: needs at least one level"),
        ({"image_width": 66}, r"\[model\] filters = \[8, 16\]: 2 levels need image_width and image_height "
                              r"divisible by 4"),
        ({"base_ksize": (3, 3, 3)}, r"\[model\] base_ksize = \(3, 3, 3\): expected a pair"),
        ({"max_filter": 0}, r"\[model\] max_filter = 0: expected an integer >= 1"),
        ({"connected_decoder": "yes"}, r"\[model\] connected_decoder = 'yes': expected True or False"),
    ],
)
def test_bad_values_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(dict(SMALL, **overrides))
