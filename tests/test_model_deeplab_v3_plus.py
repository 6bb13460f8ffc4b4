"""TensorflowDeepLabV3Plus: the original's size and graph, its weight layout, the head and the checks."""

import re

import numpy as np
import pytest
from conftest import write_keras2_weights
from test_model_efficient_unet import config_of, perturbed, predict

from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

# 64 px, ResNet50 from scratch (weights None: tests never download); about 11.9 M parameters.
SMALL: dict = {
    "model": "TensorflowDeepLabV3Plus",
    "image_width": 64,
    "image_height": 64,
    "image_channels": 3,
    "num_classes": 1,
    "weights": None,
    "learning_rate": 0.001,
    "loss": "bce_dice_loss",
    "metrics": ["dice_coef"],
}

# The [model] section of the original's projects/TensorflowDeepLabV3Plus/Acute-Lymphoblastic-Leukemia config,
# counted with weights=None.
REFERENCE = {
    "model": "TensorflowDeepLabV3Plus",
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


def build(**overrides):
    return create_model(config_of({**SMALL, **overrides})).model


def test_the_originals_config_gives_the_originals_parameter_count_and_graph():
    model = create_model(config_of(REFERENCE)).model
    assert model.count_params() == 11_852_353
    assert model.output_shape == (None, 256, 256, 1)
    names = [layer.name for layer in model.layers]
    assert "conv4_block6_2_relu" in names and "conv4_block6_3_conv" not in names  # ASPP taps stride 16
    assert not any(name.startswith("conv5") for name in names)
    encoder = re.compile(r"conv\d_")  # ResNet50's layer names
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D" and not encoder.match(layer.name)]
    # ASPP: pooled 1×1 (biased), 1×1, 3×3 at rates 6, 12, 18, the 1×1 projection; the decoder; the head.
    assert [(c.filters, c.kernel_size[0], c.dilation_rate[0], c.use_bias) for c in convs] == [
        (256, 1, 1, True), (256, 1, 1, False), (256, 3, 6, False), (256, 3, 12, False), (256, 3, 18, False),
        (256, 1, 1, False), (48, 1, 1, False), (256, 3, 1, False), (256, 3, 1, False), (1, 1, 1, True),
    ]
    assert [c.get_config()["activation"] for c in convs[-3:]] == ["relu", "relu", "sigmoid"]
    concatenated = [layer for layer in model.layers if type(layer).__name__ == "Concatenate"]
    assert [tuple(t.shape[1:]) for t in concatenated[-1].input] == [(64, 64, 256), (64, 64, 48)]


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


def test_several_classes_get_a_softmax_head():
    model = build(num_classes=3, loss="categorical_crossentropy")
    assert model.output_shape == (None, 64, 64, 3)
    assert model.layers[-1].get_config()["activation"] == "softmax"
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"image_width": 72}, r"\[model\] image_width = 72: TensorflowDeepLabV3Plus needs .* divisible by 16"),
        ({"image_height": 40}, r"\[model\] image_height = 40: .* divisible by 16 .*they are 64 and 40"),
        ({"image_channels": 1, "weights": "imagenet"},
         r"\[model\] image_channels = 1: pretrained ResNet50 weights take 3 channels"),
    ],
)
def test_bad_sizes_and_channels_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(**overrides)
