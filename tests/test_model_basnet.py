"""TensorflowBASNet: the original's size and layer layout, 8 outputs trained together, its keys and checks."""

import keras
import numpy as np
import pytest
from conftest import config_text, make_pair, write_keras2_weights

import losses
from ConfigParser import ConfigParser
from errors import ConfigError
from ModelRegistry import create_model
from blocks.conv import PointwiseConv2D
from TensorflowModelLoader import load_best_weights

SMALL: dict = {
    "model": "TensorflowBASNet",
    "image_width": 64,
    "image_height": 64,
    "image_channels": 3,
    "num_classes": 1,
    "basnet_filters": 4,
    "learning_rate": 0.001,
    "loss": "basnet_hybrid_loss",
    "metrics": ["dice_coef"],
}

# The original's BASNet (3 channels, 1 class; any size divisible by 32, the count does not depend on it):
# the prediction module 108,403,463 (input conv 1,792; the four ResNet-34 stages without their stem
# 21,292,032; stages 5-6, six residual blocks of 512 filters, 28,336,128; the dilated bridge 7,085,568;
# six decoder stages of three conv-BN-ReLU blocks and seven 3x3 side heads, the rest) and the refinement
# module 483,329: the Keras example's layout, counted layer by layer.
ORIGINAL_COUNT = 108_886_792


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


def discs(count=4, size=64, seed=0):
    rng = np.random.default_rng(seed)
    pairs = [make_pair(size, rng) for _ in range(count)]
    x = np.stack([image for image, _ in pairs]).astype("float32")
    y = (np.stack([mask for _, mask in pairs])[..., None] > 0).astype("float32")
    return x, y


def test_the_originals_network_has_its_size_and_layout():
    model = build(basnet_filters=64)[0].model
    assert model.count_params() == ORIGINAL_COUNT
    assert model.output_names == ["refined"] + [f"side_{i}" for i in range(1, 8)]
    assert all(tuple(o.shape) == (None, 64, 64, 1) for o in model.outputs)
    nested = [layer for layer in model.layers if hasattr(layer, "layers")]
    assert [layer.name for layer in nested] == [f"resnet34_block{i}" for i in range(1, 5)]
    convs = [[la for la in stage.layers if hasattr(la, "kernel")] for stage in nested]
    assert [len(c) for c in convs] == [6, 9, 13, 7]  # 2 per basic block, plus the first block's projection
    assert [c[-1].filters for c in convs] == [64, 128, 256, 512]
    finals = model.layers[-8:]
    assert all(type(la).__name__ == "Activation" and la.get_config()["activation"] == "sigmoid" for la in finals)
    assert all(la.compute_dtype == "float32" for la in finals)


def test_the_size_must_be_divisible_by_32():
    with pytest.raises(ConfigError, match=r"\[model\] image_height = 80: BASNet needs a size divisible by 32"):
        build(image_height=80)


def test_several_classes_get_softmax_outputs():
    model = build(num_classes=2, loss="categorical_crossentropy")[0].model
    assert all(tuple(o.shape) == (None, 64, 64, 2) for o in model.outputs)
    assert all(la.get_config()["activation"] == "softmax" for la in model.layers[-8:])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("basnet")
    builder, config = build(tmp_path)
    randomize(builder.model)
    return builder, config, tmp_path


def test_keras2_weights_of_the_original_layout_load_by_layer_order(small):
    builder, config, tmp_path = small
    write_keras2_weights(tmp_path / "best_model.h5", builder.model)
    fresh = build(tmp_path)[0].model
    assert load_best_weights(fresh, config).endswith("best_model.h5")
    x, _ = discs(2)
    expected, loaded = builder.model.predict(x / 255, verbose=0), fresh.predict(x / 255, verbose=0)
    assert all(np.isfinite(e).all() and e.std() > 0 for e in expected)
    for e, got in zip(expected, loaded):
        np.testing.assert_allclose(got, e, rtol=1e-4, atol=1e-6)


def test_the_loss_trains_every_output_and_metrics_read_the_refined_one(small):
    builder, _, _ = small
    model = builder.model
    x, y = discs()
    x /= 255
    outputs = model(x, training=False)
    assert all(np.isfinite(np.asarray(o)).all() for o in outputs)
    total = model.compute_loss(x, y, outputs, training=False)  # one target for all 8 outputs
    each = [float(np.mean(losses.basnet_hybrid_loss(y, o))) for o in outputs]
    assert float(total) == pytest.approx(sum(each), rel=1e-4)
    results = model.compute_metrics(x, [y] * 8, outputs)
    assert "dice_coef" in results
    assert float(results["dice_coef"]) == pytest.approx(float(np.mean(losses.dice_coef(y, outputs[0]))), rel=1e-4)
    refined = builder.inference_model.predict(x[:1], verbose=0)
    np.testing.assert_allclose(refined, np.asarray(outputs[0][:1]), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_the_strided_pointwise_convolution_equals_conv2d(size, padding):
    x = np.random.default_rng(2).normal(size=(2, size, size, 5)).astype("float32")
    conv = keras.layers.Conv2D(4, 1, strides=2, padding=padding)
    pointwise = PointwiseConv2D(4, 1, strides=2, padding=padding)
    expected = np.asarray(conv(x))
    pointwise.build(x.shape)
    pointwise.set_weights(conv.get_weights())
    np.testing.assert_allclose(np.asarray(pointwise(x)), expected, rtol=1e-6, atol=1e-6)
    assert pointwise.compute_output_shape(x.shape) == expected.shape
    assert PointwiseConv2D.from_config(pointwise.get_config()).strides == (2, 2)
