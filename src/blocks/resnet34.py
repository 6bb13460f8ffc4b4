"""ResNet-34 (v1, basic blocks) stages, written with keras only, laid out as keras_cv's ResNet34Backbone.

The original's BASNet took the four stages of `keras_cv.models.ResNet34Backbone`
(without its stem) as four nested models; `resnet34_stage` builds the same
nested model, the same layers in the same order, so that a weight file of the
original loads by layer order. Each stage ends at the last block's addition,
before its ReLU, as the original's cut did.
"""

import keras

from blocks.conv import PointwiseConv2D

STAGE_BLOCKS = (3, 4, 6, 3)  # basic blocks per ResNet-34 stage
STAGE_STRIDES = (1, 2, 2, 2)
BN_EPSILON = 1.001e-5  # keras_cv's ResNet batch-norm epsilon


def basic_block(x, filters: int, stride: int = 1, conv_shortcut: bool = False, out_activation: bool = True):
    """ResNet v1 basic block: [Conv3×3 → BN → ReLU → Conv3×3 → BN] + shortcut [→ ReLU].

    Args:
        x: the input tensor.
        filters: filters of both 3×3 convolutions (no bias).
        stride: stride of the first convolution and of the shortcut projection.
        conv_shortcut: project the shortcut with Conv1×1 (no bias) → BN; else identity.
        out_activation: end with a ReLU after the addition.
    """
    shortcut = x
    if conv_shortcut:
        shortcut = PointwiseConv2D(filters, 1, strides=stride, use_bias=False)(x)
        shortcut = keras.layers.BatchNormalization(epsilon=BN_EPSILON)(shortcut)
    x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON)(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON)(x)
    x = keras.layers.Add()([shortcut, x])
    if out_activation:
        x = keras.layers.Activation("relu")(x)
    return x


def resnet34_stage(index: int, in_channels: int, filters: int = 64, name: str | None = None) -> keras.Model:
    """Stage `index` (0–3) of ResNet-34 as a nested model, input channels `in_channels`.

    `filters` is the first stage's width (64 in ResNet-34); stage i has
    filters·2**i. The first block of stages 1–3 halves the size and projects
    its shortcut; stage 0 keeps the size and its shortcuts are identities.
    """
    width = filters * 2**index
    inputs = keras.Input((None, None, in_channels))
    x = inputs
    blocks = STAGE_BLOCKS[index]
    for b in range(blocks):
        x = basic_block(
            x, width,
            stride=STAGE_STRIDES[index] if b == 0 else 1,
            conv_shortcut=(b == 0 and index > 0),
            out_activation=b < blocks - 1,
        )
    return keras.Model(inputs, x, name=name or f"resnet34_block{index + 1}")
