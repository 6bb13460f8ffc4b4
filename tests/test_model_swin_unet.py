"""TensorflowSwinUNet: the original's size and weight layout, the Swin layers against references, the checks."""

import math
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import tensorflow as tf
from conftest import config_text, write_keras2_weights

from blocks.swin import SwinBlock, SwinPatchExpanding, SwinPatchExtract, relative_position_index
from ConfigParser import ConfigParser
from errors import ConfigError
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights

# 64 px, patches of 4, two levels (16×16 and 8×8 patch grids), one shifted block per encoder level: ~35 k parameters.
SMALL: dict = {
    "model": "TensorflowSwinUNet",
    "image_width": 64,
    "image_height": 64,
    "image_channels": 3,
    "num_classes": 1,
    "filter_num_begin": 16,
    "depth": 2,
    "stack_num_down": 2,
    "stack_num_up": 1,
    "patch_size": (4, 4),
    "num_heads": [2, 4],
    "window_size": [4, 2],
    "num_mlp": 32,
    "shift_window": True,
    "learning_rate": 0.001,
    "loss": "bce_dice_loss",
    "metrics": ["dice_coef"],
}

# The [model] section of the original's projects/TensorflowSwinUNet/Acute-Lymphoblastic-Leukemia config.
REFERENCE = {
    "model": "TensorflowSwinUNet",
    "image_width": 256,
    "image_height": 256,
    "image_channels": 3,
    "num_classes": 1,
    "base_filters": 16,
    "num_layers": 6,
    "dropout_rate": 0.08,
    "learning_rate": 0.001,
    "filter_num_begin": 128,
    "depth": 4,
    "stack_num_down": 2,
    "stack_num_up": 2,
    "patch_size": (4, 4),
    "num_heads": [4, 8, 8, 8],
    "window_size": [4, 2, 2, 2],
    "num_mlp": 512,
    "shift_window": True,
    "loss": "binary_crossentropy",
    "metrics": ["binary_accuracy"],
    "show_summary": False,
}


def config_of(section: dict, **sections) -> ConfigParser:
    return ConfigParser.from_string(config_text({"model": section, **sections}), "m.config")


def build(**overrides):
    return create_model(config_of({**SMALL, **overrides})).model


def original_layout(size, channels, embed, depth, down, up, patch, heads, windows, mlp, shift, classes=1):
    """Weight shapes per weighted layer of the original (keras_unet_collection's order), from the spec."""
    layers = []

    def stack(count, dim, grid, h, w):
        if grid < w:
            w, s = grid, 0
        else:
            s = w // 2 if shift else 0
        for i in range(count):
            shapes = [(dim,), (dim,), ((2 * w - 1) ** 2, h), (dim, 3 * dim), (3 * dim,), (dim, dim), (dim,),
                      (dim,), (dim,), (dim, mlp), (mlp,), (mlp, dim), (dim,)]
            if i % 2 and s:
                shapes.append(((grid // w) ** 2, w * w, w * w))  # the shifted-window attention mask
            layers.append(shapes + [(w * w, w * w)])  # the relative-position index

    grid, dim = size // patch, embed
    layers.append([(patch * patch * channels, embed), (embed,), (grid * grid, embed)])
    stack(down, dim, grid, heads[0], windows[0])
    for i in range(1, depth):
        layers.append([(4 * dim, 2 * dim)])
        dim, grid = dim * 2, grid // 2
        stack(down, dim, grid, heads[i], windows[i])
    for i in range(depth - 1):
        layers.append([(1, 1, dim, 2 * dim)])
        dim, grid = dim // 2, grid * 2
        layers.append([(2 * dim, dim)])
        stack(up, dim, grid, heads[::-1][i], windows[::-1][i])
    layers.append([(1, 1, dim, patch * dim)])
    layers.append([(1, 1, dim // patch, classes)])
    return layers


def keras2_view(model):
    """`model` as Keras 2 saved it: per layer, the trainable weights, then the non-trainable ones.

    (`layer.weights` of a Keras-3 layer with sub-layers lists its own variables first.)
    """
    layers = [SimpleNamespace(weights=layer.trainable_weights + layer.non_trainable_weights,
                              trainable_weights=layer.trainable_weights, non_trainable_weights=layer.non_trainable_weights)
              for layer in model.layers]
    return SimpleNamespace(layers=layers)


def layout(model):
    return [[tuple(w.shape) for w in layer.trainable_weights + layer.non_trainable_weights]
            for layer in model.layers if layer.weights]


# === The original's size and layout ===

IGNORED_DROPOUT = pytest.mark.filterwarnings("ignore:.*dropout_rate")  # in the original's config, read by nothing


@IGNORED_DROPOUT
def test_the_originals_config_gives_the_originals_parameter_count():
    model = create_model(config_of(REFERENCE)).model
    assert model.count_params() == 26_602_312
    assert model.name == "SwinNet"
    assert model.output_shape == (None, 256, 256, 1)
    assert layout(model) == original_layout(256, 3, 128, 4, 2, 2, 4, [4, 8, 8, 8], [4, 2, 2, 2], 512, True)
    head = model.layers[-1].get_config()
    assert head["activation"] == "sigmoid" and not head["use_bias"]
    assert model.optimizer.clipvalue == 0.5  # the original Swin-UNet's own default


@IGNORED_DROPOUT
def test_the_specs_128_px_size():
    section = {**REFERENCE, "image_width": 128, "image_height": 128, "filter_num_begin": 64}
    assert create_model(config_of(section)).model.count_params() == 8_047_928


def test_the_index_and_masks_are_non_trainable_weights_counted_as_the_original_counted_them():
    model = build()
    blocks = [layer for layer in model.layers if isinstance(layer, SwinBlock)]
    # The decoder takes the window of the level below: 2 at the top level, not 4 (keras_unet_collection's order).
    assert [(b.window_size, b.shift_size) for b in blocks] == [(4, 0), (4, 2), (2, 0), (2, 1), (2, 0)]
    shifted = blocks[1]
    assert [w.name for w in shifted.non_trainable_weights] == ["attn_mask", "relative_position_index"]
    assert len(model.non_trainable_weights) == 5 + 2
    assert model.count_params() == sum(int(np.prod(w.shape)) for w in model.weights)
    np.testing.assert_array_equal(np.asarray(shifted.attn.relative_position_index), relative_position_index(4))


def test_the_decoder_takes_the_settings_of_the_level_below_unless_mirror_decoder():
    base = dict(depth=3, num_heads=[1, 2, 4], window_size=[4, 2, 1], stack_num_up=1)
    decoder = [b for b in build(**base).layers if isinstance(b, SwinBlock)][-2:]
    assert [(b.dim, b.num_heads, b.window_size) for b in decoder] == [(32, 4, 1), (16, 2, 2)]
    decoder = [b for b in build(**base, mirror_decoder=True).layers if isinstance(b, SwinBlock)][-2:]
    assert [(b.dim, b.num_heads, b.window_size) for b in decoder] == [(32, 2, 2), (16, 1, 4)]


# === The layers against references ===

def test_patch_extraction_and_depth_to_space_are_tensorflows():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 8, 12, 3)).astype("float32")
    patches = tf.image.extract_patches(images, (1, 4, 4, 1), (1, 4, 4, 1), (1, 1, 1, 1), "VALID")
    np.testing.assert_array_equal(SwinPatchExtract(4)(images), tf.reshape(patches, (2, 6, 48)))
    tokens = rng.normal(size=(2, 6, 8)).astype("float32")
    expanding = SwinPatchExpanding((2, 3), 8, 2, return_vector=False)
    expanded = expanding(tokens)
    expected = tf.nn.depth_to_space(expanding.linear_trans1(tokens.reshape(2, 2, 3, 8)), 2)
    np.testing.assert_allclose(expanded, expected, atol=1e-6)


def _layer_norm(z, gamma, beta):
    return (z - z.mean(-1, keepdims=True)) / np.sqrt(z.var(-1, keepdims=True) + 1e-5) * gamma + beta


def _reference_block(block, x):
    """The Swin block token by token: each token attends to the tokens of its window of the shifted grid."""
    (height, width), w, s = block.num_patch, block.window_size, block.shift_size
    dim, heads = block.dim, block.num_heads
    g1, b1, table, qk, qb, pk, pb, g2, b2, f1k, f1b, f2k, f2b = [np.asarray(v, np.float64)
                                                                 for v in block.trainable_weights]
    hd = dim // heads
    qkv = _layer_norm(x, g1, b1) @ qk + qb
    q, k, v = (qkv[..., i * dim:(i + 1) * dim].reshape(len(x), height * width, heads, hd) for i in range(3))
    shifted = [((i - s) % height, (j - s) % width) for i in range(height) for j in range(width)]

    def region(a, n):
        return 0 if a < n - w else 1 if a < n - s else 2

    out = np.zeros((len(x), height * width, heads, hd))
    for t, (ta, tc) in enumerate(shifted):
        members = [u for u, (ua, uc) in enumerate(shifted) if (ua // w, uc // w) == (ta // w, tc // w)]
        bias = np.array([table[(ta % w - shifted[u][0] % w + w - 1) * (2 * w - 1)
                               + (tc % w - shifted[u][1] % w + w - 1)] for u in members])  # (n, heads)
        masked = np.array([s > 0 and (region(ta, height), region(tc, width))
                           != (region(shifted[u][0], height), region(shifted[u][1], width)) for u in members])
        logits = np.einsum("bhd,bnhd->bhn", q[:, t], k[:, members]) * hd**-0.5 + bias.T[None]
        logits = logits - 100.0 * masked[None, None]
        weights = np.exp(logits - logits.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        out[:, t] = np.einsum("bhn,bnhd->bhd", weights, v[:, members])
    x = x + out.reshape(len(x), height * width, dim) @ pk + pb
    hidden = _layer_norm(x, g2, b2) @ f1k + f1b
    hidden = 0.5 * hidden * (1 + np.vectorize(math.erf)(hidden / math.sqrt(2)))
    return x + hidden @ f2k + f2b


@pytest.mark.parametrize("grid, window, shift", [((8, 8), 4, 2), ((8, 8), 4, 0), ((4, 6), 2, 1)])
def test_the_swin_block_is_shifted_window_attention(grid, window, shift):
    rng = np.random.default_rng(1)
    block = SwinBlock(8, grid, 2, window, shift, num_mlp=16)
    x = rng.normal(size=(2, grid[0] * grid[1], 8)).astype("float32")
    block.build(x.shape)
    for variable in block.trainable_weights:  # the table starts at zero, the norms at one: make them count
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    np.testing.assert_allclose(np.asarray(block(x)), _reference_block(block, x.astype(np.float64)),
                               rtol=1e-4, atol=1e-4)


# === The small model: weights of the original's layout, heads, checks ===

def test_keras2_weights_of_the_originals_layout_load_by_layer_order(tmp_path):
    config = config_of(SMALL, train={"model_dir": str(tmp_path)})
    trained = create_model(config).model
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    for variable in trained.trainable_weights:  # every weight, the bias tables too, differs from a fresh model's
        variable.assign(np.random.default_rng(2).normal(0, 0.05, variable.shape).astype("float32"))
    write_keras2_weights(tmp_path / "best_model.h5", keras2_view(trained))
    with h5py.File(tmp_path / "best_model.h5", "r+") as f:  # the original stored the index as int64
        names = []
        f.visititems(lambda name, item: names.append(name) if getattr(item, "dtype", None) == np.int32 else None)
        for name in names:
            data = f[name][()].astype(np.int64)
            del f[name]
            f.create_dataset(name, data=data)
        assert names
    fresh = create_model(config).model
    assert load_best_weights(fresh, config).endswith("best_model.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-5)


def test_several_classes_get_a_softmax_head_unless_final_activation_says_otherwise():
    model = build(num_classes=3, loss="categorical_crossentropy")
    assert model.output_shape == (None, 64, 64, 3)
    assert model.layers[-1].get_config()["activation"] == "softmax"
    model = build(num_classes=3, final_activation="sigmoid")
    assert model.layers[-1].get_config()["activation"] == "sigmoid"


def test_a_grid_smaller_than_its_window_is_one_window_and_images_need_not_be_square():
    # 64×128 px: 16×32 and 8×16 patch grids; the bottom's 16-wide window shrinks to 8 (the original crashed),
    # and height and width keep their places (the original only built square inputs).
    model = build(image_width=128, window_size=[4, 16])
    bottom = [b for b in model.layers if isinstance(b, SwinBlock)][2:4]
    assert [(b.num_patch, b.window_size, b.shift_size) for b in bottom] == [((8, 16), 8, 0), ((8, 16), 8, 0)]
    assert model.output_shape == (None, 64, 128, 1)
    assert model.predict(np.zeros((1, 64, 128, 3), np.float32), verbose=0).shape == (1, 64, 128, 1)


def test_shift_window_unset_means_no_shift():
    section = {k: v for k, v in SMALL.items() if k != "shift_window"}
    model = create_model(config_of(section)).model
    assert all(b.shift_size == 0 for b in model.layers if isinstance(b, SwinBlock))


@pytest.mark.parametrize("overrides, key, words", [
    ({"patch_size": (4, 2)}, "patch_size", "two equal sizes"),
    ({"image_width": 66, "image_height": 66}, "patch_size", "multiples of 4"),
    ({"depth": 6, "num_heads": [1] * 6, "window_size": [1] * 6}, "depth", "multiples of patch_size·2\\*\\*"),
    ({"num_heads": [2, 4, 4]}, "num_heads", "one value per level: 2"),
    ({"window_size": [4]}, "window_size", "one value per level: 2"),
    ({"num_heads": [3, 4]}, "num_heads", "3 heads do not divide the 16 channels"),
    ({"window_size": [3, 2]}, "window_size", "a window of 3 does not tile"),
    ({"filter_num_begin": 18, "num_heads": [1, 1]}, "filter_num_begin", "multiple of 4"),
])
def test_wrong_settings_name_their_key(overrides, key, words):
    with pytest.raises(ConfigError, match=rf"\[model\] {key}.*{words}"):
        build(**overrides)


def test_window_size_is_required():
    section = {k: v for k, v in SMALL.items() if k != "window_size"}
    with pytest.raises(ConfigError, match=r"\[model\] window_size \(not set\): this key is required"):
        create_model(config_of(section))
