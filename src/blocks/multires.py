"""MultiResUNet blocks (Ibtehaz & Rahman 2020): the MultiRes block and the ResPath.

Every convolution is bias-free and followed by BatchNormalization, in the
order the original built them, so that weight files load by layer order.
"""

import keras

from blocks.conv import conv_bn_act

ALPHA = 1.67  # the paper's width multiplier W = alpha · filters


def multires_widths(filters: int, alpha: float = ALPHA) -> tuple[int, int, int]:
    """Channels of the three chained 3×3 convolutions of a MultiRes block of `filters`."""
    width = filters * alpha
    return int(width * 0.167), int(width * 0.333), int(width * 0.5)


def multires_block(x, filters: int, alpha: float = ALPHA):
    """Three chained 3×3 Conv → BN → ReLU, concatenated, plus a 1×1 shortcut of the input.

    output = BN(ReLU(BN(concat[a, b, c]) + BN(Conv1×1(x)))), a, b and c having
    `multires_widths(filters, alpha)` channels; the output has their sum.

    Args:
        x: the input tensor (N, H, W, C).
        filters: the block's nominal width (the paper's U).
        alpha: the width multiplier.
    """
    widths = multires_widths(filters, alpha)
    branches, y = [], x
    for width in widths:
        y = conv_bn_act(y, width, 3, "relu", use_bias=False)
        branches.append(y)
    y = keras.layers.Concatenate()(branches)
    y = keras.layers.BatchNormalization()(y)
    shortcut = conv_bn_act(x, sum(widths), 1, None, use_bias=False)
    # The concatenation first, then the shortcut: this fixes the weight files' layer order.
    y = keras.layers.Activation("relu")(keras.layers.Add()([y, shortcut]))
    return keras.layers.BatchNormalization()(y)


def res_path(x, filters: int, length: int):
    """`length` residual units: x = BN(ReLU(BN(Conv3×3(x)) + BN(Conv1×1(x)))), each with `filters` channels.

    Args:
        x: the skip tensor (N, H, W, C).
        filters: channels of every convolution.
        length: the number of units (0 returns `x`).
    """
    for _ in range(length):
        y = conv_bn_act(x, filters, 3, None, use_bias=False)
        shortcut = conv_bn_act(x, filters, 1, None, use_bias=False)
        y = keras.layers.Activation("relu")(keras.layers.Add()([y, shortcut]))
        x = keras.layers.BatchNormalization()(y)
    return x
