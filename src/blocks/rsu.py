"""U²-Net blocks (Qin et al. 2020): residual U-blocks (RSU, RSU-4F) and the side outputs.

Convolutions are 3×3 through `blocks.unet_stacks.conv_stack`; the layer
order equals the original's (keras_unet_collection's), which its weight
files depend on.
"""

import keras

from blocks.unet_stacks import conv_stack, decode, encode


def rsu(x, mid_filters: int, out_filters: int, depth: int, activation: str = "ReLU",
        batch_norm: bool = False, pool=True, unpool=True):
    """Residual U-block with `depth` down/upsamplings (the paper's RSU-(depth+2)).

    in: conv → `out_filters`; down 0: conv → `mid_filters`; `depth` times
    [encode, conv]; bottom: conv, dilation 2; `depth` times [concatenate
    the skip, conv, decode]; concatenate down 0, conv → `out_filters`; add in.
    The input's size must be divisible by 2**depth.
    """
    def conv(t, filters, dilation=1):
        return conv_stack(t, filters, 1, dilation_rate=dilation, activation=activation, batch_norm=batch_norm)

    x_in = conv(x, out_filters)
    skips = [conv(x_in, mid_filters)]
    x = skips[0]
    for _ in range(depth):
        x = encode(x, mid_filters, pool, activation, batch_norm)
        x = conv(x, mid_filters)
        skips.append(x)
    x = conv(x, mid_filters, dilation=2)
    for skip in reversed(skips[1:]):
        x = keras.layers.Concatenate(axis=-1)([x, skip])
        x = conv(x, mid_filters)
        x = decode(x, mid_filters, unpool, activation, batch_norm)
    x = keras.layers.Concatenate(axis=-1)([x, skips[0]])
    x = conv(x, out_filters)
    return keras.layers.Add()([x, x_in])


def rsu4f(x, mid_filters: int, out_filters: int, dilations=(1, 2, 4, 8), activation: str = "ReLU",
          batch_norm: bool = False):
    """Residual U-block without resampling: dilated convolutions (1, 2, 4, 8) instead.

    in: conv → `out_filters`; one conv → `mid_filters` per dilation; back up
    through the dilations but the last, each [concatenate, conv]; a last
    [concatenate, conv → `out_filters`]; add in.
    """
    def conv(t, filters, dilation=1):
        return conv_stack(t, filters, 1, dilation_rate=dilation, activation=activation, batch_norm=batch_norm)

    x_in = conv(x, out_filters)
    skips = []
    x = x_in
    for d in dilations:
        x = conv(x, mid_filters, dilation=d)
        skips.append(x)
    skips = skips[:-1][::-1]  # the deepest map is x itself
    ups = list(dilations[:-1])[::-1]
    for skip, d in zip(skips[:-1], ups[:-1]):
        x = keras.layers.Concatenate(axis=-1)([x, skip])
        x = conv(x, mid_filters, dilation=d)
    x = keras.layers.Concatenate(axis=-1)([x, skips[-1]])
    x = conv(x, out_filters)
    return keras.layers.Add()([x, x_in])


def side_outputs(features, channels: int, unpool=True):
    """U²-Net's side outputs, shallowest first: each map → Conv3×3(`channels`) → upsampled → sigmoid.

    `features[i]` is at 1/2**i of the input size and is upsampled by 2**i
    (the first is not). Returns the list of side maps, all at input size.
    """
    sides = []
    for i, x in enumerate(features):
        x = keras.layers.Conv2D(channels, 3, padding="same")(x)
        if i:
            x = decode(x, channels, unpool, activation=None, pool_size=2**i)
        sides.append(keras.layers.Activation("sigmoid")(x))
    return sides
