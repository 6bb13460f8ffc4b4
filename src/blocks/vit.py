"""Vision-transformer layers (TransUNet), and the layer-class activations of keras_unet_collection.

The original's TransUNet names activations by Keras layer class ("ReLU",
"GELU", ...); `activation_layer` builds one such layer per use, as the
original did, so that a PReLU keeps its own weights. `GELU` is the tanh
approximation the original used, `Snake` its periodic activation.
"""

import keras
from keras import ops

# Layer-class names the original accepted for an activation.
LAYER_ACTIVATIONS = ("ReLU", "LeakyReLU", "PReLU", "ELU", "GELU", "Snake", "Softmax")

_SQRT_2_OVER_PI = 0.7978845608028654


@keras.saving.register_keras_serializable(package="tfseg")
class GELU(keras.layers.Layer):
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the original's GELU (no weights)."""

    def call(self, x):
        return 0.5 * x * (1.0 + ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="tfseg")
class Snake(keras.layers.Layer):
    """x + sin²(β·x)/β with one scalar β (initial `beta`), frozen unless `train_beta`.

    The original kept β as one (non-trainable by default) variable, so it
    counts as one parameter.
    """

    def __init__(self, beta: float = 0.5, train_beta: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.beta_init = float(beta)
        self.train_beta = bool(train_beta)

    def build(self, input_shape):
        self.beta = self.add_weight(
            name="beta_factor", shape=(), initializer=keras.initializers.Constant(self.beta_init),
            trainable=self.train_beta,
        )

    def call(self, x):
        beta = ops.cast(self.beta, x.dtype)
        return x + ops.square(ops.sin(beta * x)) / beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "beta": self.beta_init, "train_beta": self.train_beta}


def activation_layer(name: str) -> keras.layers.Layer:
    """A new layer for `name`: one of LAYER_ACTIVATIONS, else a Keras activation name ("relu", "mish")."""
    if name == "ReLU":
        return keras.layers.ReLU()
    if name == "LeakyReLU":
        return keras.layers.LeakyReLU(negative_slope=0.3)  # Keras 2's default slope, as the original's
    if name == "PReLU":
        return keras.layers.PReLU()
    if name == "ELU":
        return keras.layers.ELU()
    if name == "GELU":
        return GELU()
    if name == "Snake":
        return Snake()
    if name == "Softmax":
        return keras.layers.Softmax()
    return keras.layers.Activation(name)


@keras.saving.register_keras_serializable(package="tfseg")
class PatchEmbedding(keras.layers.Layer):
    """Dense(embed_dim) of each patch plus a learned position embedding.

    Input (batch, num_patches, features); weights in the original's order:
    projection kernel, projection bias, position table (num_patches, embed_dim).
    """

    def __init__(self, num_patches: int, embed_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.num_patches = int(num_patches)
        self.embed_dim = int(embed_dim)
        self.proj = keras.layers.Dense(self.embed_dim)
        self.pos_embed = keras.layers.Embedding(self.num_patches, self.embed_dim)

    def build(self, input_shape):
        self.proj.build(input_shape)
        self.pos_embed.build((self.num_patches,))

    def call(self, patches):
        positions = ops.arange(self.num_patches)
        return self.proj(patches) + ops.cast(self.pos_embed(positions), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "num_patches": self.num_patches, "embed_dim": self.embed_dim}


def patch_embedding(x, embed_dim: int):
    """A (batch, H, W, C) map as H·W one-pixel patches, each embedded: (batch, H·W, embed_dim)."""
    height, width, channels = x.shape[1:]
    x = keras.layers.Reshape((height * width, channels))(x)
    return PatchEmbedding(height * width, embed_dim)(x)


def vit_mlp(x, units, activation: str = "GELU"):
    """Dense(u) → activation for each u in `units` (the activation follows the last one too)."""
    for u in units:
        x = keras.layers.Dense(u)(x)
        x = activation_layer(activation)(x)
    return x


def vit_block(x, num_heads: int, key_dim: int, mlp_units, activation: str = "GELU"):
    """LayerNorm → MultiHeadAttention → add; LayerNorm → `vit_mlp` → add.

    `mlp_units` ends with the embedding size, so the residual adds fit.
    """
    attended = keras.layers.LayerNormalization()(x)
    attended = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=key_dim)(attended, attended)
    x = keras.layers.Add()([attended, x])
    mlp = keras.layers.LayerNormalization()(x)
    mlp = vit_mlp(mlp, mlp_units, activation)
    return keras.layers.Add()([mlp, x])
