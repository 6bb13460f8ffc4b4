"""Swin Transformer layers for Swin-UNet (Liu et al. 2021; Cao et al. 2021), as keras_unet_collection built them.

Tokens are sequences `(batch, H·W, C)` over a patch grid of `num_patch = (H, W)`.
Each layer keeps the weights, their shapes and their order of the original's
`transformer_layers.py`, so that a Keras-2 weight file of the original loads
by layer order; the relative-position index and the shifted-window attention
mask are non-trainable weights, as the original's `tf.Variable`s were, and
count in `count_params()` as they did there.

- `SwinPatchExtract`: non-overlapping p×p patches, flattened (row, column, channel).
- `SwinPatchEmbedding`: Dense projection + learned position embedding.
- `SwinWindowAttention`: windowed multi-head self-attention with relative-position bias.
- `SwinBlock`: LayerNorm → (shifted) window attention → residual; LayerNorm → MLP → residual.
- `SwinPatchMerging`: 2×2 neighbours concatenated → Dense(2C), halves the grid.
- `SwinPatchExpanding`: Conv1×1(r·C) → depth-to-space ×r, grows the grid.
- `swin_stack`: `stack_num` blocks, odd ones shifted.

All dropout and drop-path rates of the original are 0, so there are none here.
"""

import keras
import numpy as np
from keras import ops

MASKED = -100.0  # the original's additive attention mask between tokens of different shifted regions


def _constant(value, dtype):
    """An initializer filling a weight with a precomputed array (index and mask buffers)."""
    array = np.asarray(value)

    def initializer(shape, dtype=dtype):
        return ops.convert_to_tensor(array.reshape(shape), dtype=dtype)

    return initializer


def relative_position_index(window: int) -> np.ndarray:
    """(w², w²) indices into the (2w−1)² relative-position bias table, as the original computed them."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return relative[:, :, 0] * (2 * window - 1) + relative[:, :, 1]


def window_partition(x, window: int):
    """(B, H, W, C) → (B·nW, w, w, C), windows in row-major order per image."""
    _, height, width, channels = x.shape
    x = ops.reshape(x, (-1, height // window, window, width // window, window, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, window, window, channels))


def window_reverse(windows, window: int, height: int, width: int):
    """Inverse of `window_partition`: (B·nW, w, w, C) → (B, H, W, C)."""
    channels = windows.shape[-1]
    x = ops.reshape(windows, (-1, height // window, width // window, window, window, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height, width, channels))


def shifted_window_mask(num_patch, window: int, shift: int) -> np.ndarray:
    """(nW, w², w²) additive mask: 0 within a region of the cyclically shifted grid, −100 across regions."""
    height, width = num_patch
    regions = np.zeros((height, width))
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    label = 0
    for rows in bands:
        for cols in bands:
            regions[rows, cols] = label
            label += 1
    windows = regions.reshape(height // window, window, width // window, window).transpose(0, 2, 1, 3)
    windows = windows.reshape(-1, window * window)
    differ = windows[:, None, :] != windows[:, :, None]
    return np.where(differ, MASKED, 0.0).astype("float32")


def depth_to_space(x, rate: int):
    """TF's `depth_to_space` (NHWC): channel (i·r + j)·C' + k goes to pixel (h·r + i, w·r + j), channel k."""
    _, height, width, channels = x.shape
    out = channels // (rate * rate)
    x = ops.reshape(x, (-1, height, width, rate, rate, out))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height * rate, width * rate, out))


@keras.saving.register_keras_serializable(package="tfseg")
class SwinPatchExtract(keras.layers.Layer):
    """(B, H, W, C) → (B, (H/p)·(W/p), p·p·C): the patches of `tf.image.extract_patches`, in its order."""

    def __init__(self, patch_size: int, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = int(patch_size)

    def call(self, images):
        p = self.patch_size
        _, height, width, channels = images.shape
        x = ops.reshape(images, (-1, height // p, p, width // p, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, (height // p) * (width // p), p * p * channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        p = self.patch_size
        return (batch, (height // p) * (width // p), p * p * channels)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size}


@keras.saving.register_keras_serializable(package="tfseg")
class SwinPatchEmbedding(keras.layers.Layer):
    """Patches → tokens: `Dense(embed_dim)` plus a learned `Embedding(num_patch, embed_dim)` of positions.

    Weights, in order: the Dense kernel and bias, the position table (num_patch, embed_dim).
    """

    def __init__(self, num_patch: int, embed_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_patch = int(num_patch)
        self.embed_dim = int(embed_dim)
        self.proj = keras.layers.Dense(self.embed_dim, dtype=self.dtype_policy, name="proj")
        self.pos_embed = keras.layers.Embedding(self.num_patch, self.embed_dim, dtype=self.dtype_policy,
                                                name="pos_embed")

    def build(self, input_shape):
        self.proj.build(input_shape)
        self.pos_embed.build((self.num_patch,))

    def call(self, patches):
        return self.proj(patches) + self.pos_embed(ops.arange(self.num_patch))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.embed_dim,)

    def get_config(self):
        return {**super().get_config(), "num_patch": self.num_patch, "embed_dim": self.embed_dim}


@keras.saving.register_keras_serializable(package="tfseg")
class SwinWindowAttention(keras.layers.Layer):
    """Multi-head self-attention within (B·nW, w², C) windows, with a learned relative-position bias.

    q·k is scaled by (C // num_heads)^−0.5; `window_mask` (nW, w², w²), when given, is added per window.
    Weights, trainable first as the original's: the bias table ((2w−1)², heads), the qkv Dense
    (kernel, bias), the output Dense (kernel, bias); then the non-trainable (w², w²) index.
    """

    def __init__(self, dim: int, window_size: int, num_heads: int, qkv_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.window_size = int(window_size)
        self.num_heads = int(num_heads)
        self.qkv_bias = bool(qkv_bias)
        self.scale = (self.dim // self.num_heads) ** -0.5
        self.qkv = keras.layers.Dense(3 * self.dim, use_bias=self.qkv_bias, dtype=self.dtype_policy, name="qkv")
        self.proj = keras.layers.Dense(self.dim, dtype=self.dtype_policy, name="proj")

    def build(self, input_shape):
        w = self.window_size
        self.relative_position_bias_table = self.add_weight(
            shape=((2 * w - 1) ** 2, self.num_heads), initializer="zeros", name="relative_position_bias_table"
        )
        self.relative_position_index = self.add_weight(
            shape=(w * w, w * w), dtype="int32", trainable=False,
            initializer=_constant(relative_position_index(w), "int32"), name="relative_position_index",
        )
        self.qkv.build(input_shape)
        self.proj.build(tuple(input_shape[:-1]) + (self.dim,))

    def call(self, x, window_mask=None):
        tokens, channels = x.shape[1], x.shape[2]
        heads = self.num_heads
        qkv = ops.reshape(self.qkv(x), (-1, tokens, 3, heads, channels // heads))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2)))
        index = ops.reshape(self.relative_position_index, (-1,))
        bias = ops.take(self.relative_position_bias_table, index, axis=0)
        bias = ops.transpose(ops.reshape(bias, (tokens, tokens, heads)), (2, 0, 1))
        attn = attn + ops.cast(ops.expand_dims(bias, 0), attn.dtype)
        if window_mask is not None:
            windows = window_mask.shape[0]
            attn = ops.reshape(attn, (-1, windows, heads, tokens, tokens))
            attn = attn + ops.cast(ops.expand_dims(ops.expand_dims(window_mask, 1), 0), attn.dtype)
            attn = ops.reshape(attn, (-1, heads, tokens, tokens))
        attn = ops.softmax(attn, axis=-1)
        out = ops.transpose(ops.matmul(attn, v), (0, 2, 1, 3))
        return self.proj(ops.reshape(out, (-1, tokens, channels)))

    def compute_output_shape(self, input_shape, window_mask=None):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "window_size": self.window_size,
                "num_heads": self.num_heads, "qkv_bias": self.qkv_bias}


def effective_window(num_patch, window_size: int, shift_size: int) -> tuple[int, int]:
    """(window, shift) a block uses: a grid smaller than the window shrinks it to the grid, unshifted."""
    if min(num_patch) < window_size:
        return min(num_patch), 0
    return window_size, shift_size


@keras.saving.register_keras_serializable(package="tfseg")
class SwinBlock(keras.layers.Layer):
    """One Swin Transformer block over (B, H·W, C) tokens of a `num_patch` = (H, W) grid.

    x + WindowAttention(LayerNorm(x)) over w×w windows, cyclically shifted by `shift_size`
    (masking tokens that the shift brought together), then x + MLP(LayerNorm(x)) with
    Dense(num_mlp) → GELU (exact) → Dense(C). LayerNorm epsilon 1e-5.
    `window_size` and `shift_size` are those the block uses (see `effective_window`); H and W
    must be multiples of the window. Weights, trainable first as the original's: norm1, the
    attention's (table, qkv, proj), norm2, the two MLP Dense layers; then the non-trainable
    attention mask (nW, w², w²) when shifted, and the attention's relative-position index.
    """

    def __init__(self, dim: int, num_patch, num_heads: int, window_size: int, shift_size: int = 0,
                 num_mlp: int = 1024, qkv_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.num_patch = tuple(int(n) for n in num_patch)
        self.num_heads = int(num_heads)
        self.window_size = int(window_size)
        self.shift_size = int(shift_size)
        self.num_mlp = int(num_mlp)
        self.qkv_bias = bool(qkv_bias)
        if not 0 <= self.shift_size < self.window_size:
            raise ValueError(f"SwinBlock: shift_size {shift_size} must be in [0, window_size {window_size})")
        if any(n % self.window_size for n in self.num_patch):
            raise ValueError(f"SwinBlock: a {self.num_patch} grid is not a multiple of window {window_size}")
        policy = self.dtype_policy
        # Sub-layers in the original's order: it fixes the order of the weights.
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="norm1")
        self.attn = SwinWindowAttention(self.dim, self.window_size, self.num_heads, self.qkv_bias,
                                        dtype=policy, name="attn")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name="norm2")
        self.fc1 = keras.layers.Dense(self.num_mlp, dtype=policy, name="mlp_0")
        self.fc2 = keras.layers.Dense(self.dim, dtype=policy, name="mlp_1")

    def build(self, input_shape):
        self.attn_mask = None
        if self.shift_size > 0:
            mask = shifted_window_mask(self.num_patch, self.window_size, self.shift_size)
            self.attn_mask = self.add_weight(shape=mask.shape, trainable=False, dtype="float32",
                                             initializer=_constant(mask, "float32"), name="attn_mask")
        w = self.window_size
        self.norm1.build(input_shape)
        self.attn.build((None, w * w, self.dim))
        self.norm2.build(input_shape)
        self.fc1.build(input_shape)
        self.fc2.build(tuple(input_shape[:-1]) + (self.num_mlp,))

    def call(self, x):
        height, width = self.num_patch
        w, s = self.window_size, self.shift_size
        skip = x
        x = ops.reshape(self.norm1(x), (-1, height, width, self.dim))
        if s:
            x = ops.roll(ops.roll(x, -s, axis=1), -s, axis=2)
        windows = ops.reshape(window_partition(x, w), (-1, w * w, self.dim))
        windows = self.attn(windows, window_mask=self.attn_mask)
        x = window_reverse(ops.reshape(windows, (-1, w, w, self.dim)), w, height, width)
        if s:
            x = ops.roll(ops.roll(x, s, axis=1), s, axis=2)
        x = skip + ops.reshape(x, (-1, height * width, self.dim))
        mlp = self.fc2(keras.activations.gelu(self.fc1(self.norm2(x)), approximate=False))
        return x + mlp

    def compute_output_shape(self, input_shape):
        # Stated, so that Keras need not trace call() to learn it (building a large model is faster).
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_patch": self.num_patch,
                "num_heads": self.num_heads, "window_size": self.window_size, "shift_size": self.shift_size,
                "num_mlp": self.num_mlp, "qkv_bias": self.qkv_bias}


@keras.saving.register_keras_serializable(package="tfseg")
class SwinPatchMerging(keras.layers.Layer):
    """(B, H·W, C) → (B, H/2·W/2, 2C): the 2×2 neighbours (in the order (0,0), (1,0), (0,1), (1,1))
    concatenated, then `Dense(2C, use_bias=False)`."""

    def __init__(self, num_patch, embed_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_patch = tuple(int(n) for n in num_patch)
        self.embed_dim = int(embed_dim)
        self.linear_trans = keras.layers.Dense(2 * self.embed_dim, use_bias=False, dtype=self.dtype_policy,
                                               name="linear_trans")

    def build(self, input_shape):
        self.linear_trans.build(tuple(input_shape[:-1]) + (4 * self.embed_dim,))

    def call(self, x):
        height, width = self.num_patch
        c = self.embed_dim
        x = ops.reshape(x, (-1, height, width, c))
        x = ops.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], axis=-1)
        return self.linear_trans(ops.reshape(x, (-1, (height // 2) * (width // 2), 4 * c)))

    def compute_output_shape(self, input_shape):
        height, width = self.num_patch
        return (input_shape[0], (height // 2) * (width // 2), 2 * self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "num_patch": self.num_patch, "embed_dim": self.embed_dim}


@keras.saving.register_keras_serializable(package="tfseg")
class SwinPatchExpanding(keras.layers.Layer):
    """(B, H·W, C) → Conv1×1(r·C, no bias) → depth-to-space ×r: an (rH, rW) grid of C/r channels.

    `return_vector`: tokens (B, rH·rW, C/r) (the original then required r = 2); else the
    (B, rH, rW, C/r) feature map.
    """

    def __init__(self, num_patch, embed_dim: int, upsample_rate: int, return_vector: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.num_patch = tuple(int(n) for n in num_patch)
        self.embed_dim = int(embed_dim)
        self.upsample_rate = int(upsample_rate)
        self.return_vector = bool(return_vector)
        self.linear_trans1 = keras.layers.Conv2D(self.upsample_rate * self.embed_dim, 1, use_bias=False,
                                                 dtype=self.dtype_policy, name="linear_trans1")

    def build(self, input_shape):
        self.linear_trans1.build((None,) + self.num_patch + (self.embed_dim,))

    def call(self, x):
        height, width = self.num_patch
        r = self.upsample_rate
        x = depth_to_space(self.linear_trans1(ops.reshape(x, (-1, height, width, self.embed_dim))), r)
        if self.return_vector:
            return ops.reshape(x, (-1, height * width * r * r, x.shape[-1]))
        return x

    def compute_output_shape(self, input_shape):
        height, width = self.num_patch
        r = self.upsample_rate
        channels = self.embed_dim // r
        if self.return_vector:
            return (input_shape[0], height * width * r * r, channels)
        return (input_shape[0], height * r, width * r, channels)

    def get_config(self):
        return {**super().get_config(), "num_patch": self.num_patch, "embed_dim": self.embed_dim,
                "upsample_rate": self.upsample_rate, "return_vector": self.return_vector}


def swin_stack(x, stack_num: int, embed_dim: int, num_patch, num_heads: int, window_size: int, num_mlp: int,
               shift_window: bool):
    """`stack_num` SwinBlocks on one grid; odd-numbered ones shift by window_size // 2 if `shift_window`.

    A grid smaller than `window_size` uses the grid as its window, unshifted (`effective_window`).
    """
    shift = window_size // 2 if shift_window else 0
    for i in range(stack_num):
        window, shift_i = effective_window(num_patch, window_size, shift if i % 2 else 0)
        x = SwinBlock(embed_dim, num_patch, num_heads, window, shift_i, num_mlp)(x)
    return x
