"""Xception-like blocks of the Keras "oxford pets" segmentation U-Net (TensorflowXceptionLikeUNet).

Each block keeps the layer order of the original, so weight files written by
it load by layer order: a down block is [ReLU → SeparableConv → BN] ×2 →
MaxPool(3, stride 2) plus a strided 1×1 projection of its input; an up block
is [ReLU → Conv2DTranspose → BN] ×2 → UpSampling(2) plus an upsampled 1×1
projection of its input.
"""

import keras

from blocks.conv import PointwiseConv2D


def entry_block(x, filters: int, activation: str = "relu"):
    """Conv2D 3×3, stride 2 → BatchNormalization → activation: halves the size."""
    x = keras.layers.Conv2D(filters, 3, strides=2, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation(activation)(x)


def down_block(x, filters: int, dilation=(1, 1), activation: str = "relu"):
    """Two separable convolutions and a 3×3/2 max pool, plus a 1×1/2 projection of `x`.

    `dilation` applies to the separable convolutions (stride 1); the strided
    projection cannot be dilated.
    """
    residual = x
    for _ in range(2):
        x = keras.layers.Activation(activation)(x)
        x = keras.layers.SeparableConv2D(filters, 3, dilation_rate=dilation, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
    residual = PointwiseConv2D(filters, 1, strides=2, padding="same")(residual)  # a Conv2D
    return keras.layers.add([x, residual])


def up_block(x, filters: int, dilation=(1, 1), activation: str = "relu"):
    """Two 3×3 transposed convolutions and a ×2 upsampling, plus an upsampled 1×1 projection of `x`.

    `dilation` is given to the 1×1 projection as the original did (a 1×1
    kernel is the same at any rate).
    """
    residual = x
    for _ in range(2):
        x = keras.layers.Activation(activation)(x)
        x = keras.layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.UpSampling2D(2)(x)
    residual = keras.layers.UpSampling2D(2)(residual)
    residual = keras.layers.Conv2D(filters, 1, dilation_rate=dilation, padding="same")(residual)
    return keras.layers.add([x, residual])
