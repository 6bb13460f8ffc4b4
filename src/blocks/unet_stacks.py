"""U-Net stacks as keras_unet_collection composed them (TransUNet, U2Net).

Activations are given by name, either a layer class of `blocks.vit.LAYER_ACTIVATIONS`
("ReLU", "GELU", ...) or a Keras activation name; each use gets its own
layer, placed after the convolution (and its batch norm), as the original's.
Convolutions have a bias only without batch norm; transposed convolutions
always have one (the original's layout, which weight files depend on).
"""

import keras

from blocks.vit import activation_layer


def conv_stack(x, filters: int, stack_num: int = 2, kernel_size=3, dilation_rate=1,
               activation: str = "ReLU", batch_norm: bool = False):
    """`stack_num` × [Conv2D (same padding) → BatchNormalization if `batch_norm` → activation]."""
    for _ in range(stack_num):
        x = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=not batch_norm,
                                dilation_rate=dilation_rate)(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(axis=3)(x)
        x = activation_layer(activation)(x)
    return x


def encode(x, filters: int, pool=True, activation: str | None = "ReLU", batch_norm: bool = False,
           pool_size: int = 2):
    """Downsampling by `pool_size`.

    `pool`: True or "max": MaxPooling2D; "ave": AveragePooling2D; False: a
    strided `pool_size`×`pool_size` Conv2D of `filters` (valid padding) →
    batch norm if `batch_norm` → activation (if any).
    """
    if pool is True or pool == "max":
        return keras.layers.MaxPooling2D((pool_size, pool_size))(x)
    if pool == "ave":
        return keras.layers.AveragePooling2D((pool_size, pool_size))(x)
    if pool is not False:
        raise ValueError(f"pool must be True, False, 'max' or 'ave', not {pool!r}")
    x = keras.layers.Conv2D(filters, pool_size, strides=pool_size, padding="valid", use_bias=not batch_norm)(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(axis=3)(x)
    if activation is not None:
        x = activation_layer(activation)(x)
    return x


def decode(x, filters: int, unpool=True, activation: str | None = "ReLU", batch_norm: bool = False,
           pool_size: int = 2, kernel_size=3):
    """Upsampling by `pool_size`.

    `unpool`: True or "bilinear": bilinear UpSampling2D; "nearest": nearest
    UpSampling2D; False: Conv2DTranspose of `filters` (`kernel_size`, with
    bias) → batch norm if `batch_norm` → activation (if any).
    """
    if unpool is True or unpool in ("bilinear", "nearest"):
        interpolation = "nearest" if unpool == "nearest" else "bilinear"
        return keras.layers.UpSampling2D((pool_size, pool_size), interpolation=interpolation)(x)
    if unpool is not False:
        raise ValueError(f"unpool must be True, False, 'bilinear' or 'nearest', not {unpool!r}")
    x = keras.layers.Conv2DTranspose(filters, kernel_size, strides=pool_size, padding="same")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(axis=3)(x)
    if activation is not None:
        x = activation_layer(activation)(x)
    return x


def unet_left(x, filters: int, stack_num: int = 2, activation: str = "ReLU", pool=True,
              batch_norm: bool = False, kernel_size=3):
    """An encoder level: `encode` by 2, then `conv_stack` of `stack_num` convolutions."""
    x = encode(x, filters, pool, activation, batch_norm)
    return conv_stack(x, filters, stack_num, kernel_size, activation=activation, batch_norm=batch_norm)


def unet_right(x, skips, filters: int, stack_num: int = 2, activation: str = "ReLU", unpool=True,
               batch_norm: bool = False, kernel_size=3):
    """A decoder level: `decode` by 2 → one convolution → concatenate `skips` (if any) → `conv_stack`."""
    x = decode(x, filters, unpool, activation, batch_norm)
    x = conv_stack(x, filters, 1, kernel_size, activation=activation, batch_norm=batch_norm)
    if skips:
        x = keras.layers.Concatenate(axis=3)([x, *skips])
    return conv_stack(x, filters, stack_num, kernel_size, activation=activation, batch_norm=batch_norm)
