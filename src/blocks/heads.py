"""The output layer of every family: a convolution whose activation runs in float32.

The head computes in float32 even under a mixed-precision policy, so that a
sigmoid or softmax near 0 or 1 cannot underflow in float16; its weights have
the same shapes as the original's head, so weight files load unchanged.
"""

import keras


def head(x, num_classes: int, activation: str | None, kernel_size=(1, 1), use_bias: bool = True, name=None,
         kernel_initializer="glorot_uniform", kernel_regularizer=None):
    """`Conv2D(num_classes, kernel_size, activation)` in float32."""
    return keras.layers.Conv2D(
        num_classes, kernel_size, padding="same", activation=activation, use_bias=use_bias,
        kernel_initializer=kernel_initializer, kernel_regularizer=kernel_regularizer, dtype="float32", name=name,
    )(x)
