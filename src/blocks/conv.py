"""Convolution stacks: Conv2D, optional BatchNormalization, activation."""

import keras


def conv_bn_act(x, filters: int, kernel_size=3, activation="relu", batch_norm: bool = True,
                use_bias: bool = True, dilation_rate=1, strides=1, kernel_initializer="glorot_uniform"):
    """Conv2D (same padding) → BatchNormalization (if `batch_norm`) → activation (if any)."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
                            dilation_rate=dilation_rate, kernel_initializer=kernel_initializer)(x)
    if batch_norm:
        x = keras.layers.BatchNormalization()(x)
    if activation:
        x = keras.layers.Activation(activation)(x)
    return x
