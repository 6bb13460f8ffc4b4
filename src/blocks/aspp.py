"""Atrous spatial pyramid pooling (ASPP), the context module of DeepLabV3 and DeepLabV3+."""

import keras

from blocks.conv import conv_bn_act


def aspp(x, filters: int = 256, rates=(6, 12, 18), kernel_initializer="he_normal"):
    """ASPP over a feature map of static height and width.

    Five branches, concatenated in this order, then Conv1×1 → BN → ReLU:
    1. average pooling over the whole map → Conv1×1 (biased) → BN → ReLU →
       bilinear upsampling back to the map's size;
    2. Conv1×1 → BN → ReLU;
    3.–5. Conv3×3 with dilation `rates[i]` → BN → ReLU.
    Every convolution but the pooled branch's is unbiased.

    Args:
        x: the feature map (batch, height, width, channels).
        filters: channels of every branch and of the output.
        rates: the dilation rates of the 3×3 branches.
        kernel_initializer: of every convolution.
    """
    height, width = x.shape[1], x.shape[2]
    pooled = keras.layers.AveragePooling2D(pool_size=(height, width))(x)
    pooled = conv_bn_act(pooled, filters, 1, "relu", use_bias=True, kernel_initializer=kernel_initializer)
    pooled = keras.layers.UpSampling2D(size=(height, width), interpolation="bilinear")(pooled)
    branches = [pooled, conv_bn_act(x, filters, 1, "relu", use_bias=False, kernel_initializer=kernel_initializer)]
    for rate in rates:
        branches.append(conv_bn_act(x, filters, 3, "relu", use_bias=False, dilation_rate=rate,
                                    kernel_initializer=kernel_initializer))
    x = keras.layers.Concatenate(axis=-1)(branches)
    return conv_bn_act(x, filters, 1, "relu", use_bias=False, kernel_initializer=kernel_initializer)
