"""The output layer of every family: a convolution whose activation runs in float32.

The head computes in float32 even under a mixed-precision policy, so that a
sigmoid or softmax near 0 or 1 cannot underflow in float16; its weights have
the same shapes as the original's head, so weight files load unchanged.
"""

import keras


def head(x, num_classes: int, activation: str, kernel_size=(1, 1), use_bias: bool = True, name=None):
    """`Conv2D(num_classes, kernel_size, activation)` in float32."""
    return keras.layers.Conv2D(
        num_classes, kernel_size, padding="same", activation=activation, use_bias=use_bias,
        dtype="float32", name=name,
    )(x)
