"""Attention U-Net, the original's TensorflowAttentionUNet (see [model] in docs/config.md).

Level i of the encoder (i = 0 … num_layers−1, the last being the bridge) is a
two-convolution block of `base_filters·2**i` filters; the decoder upsamples
bilinearly, weights each skip with an attention gate driven by the upsampled
tensor, concatenates and applies the same block. Dropout has one fixed rate
(`dropout_rate`, default 0.1). For the same config the weights, their order
and the parameter count equal the original's, so its Keras-2 weight files
load by layer order. Differences: docs/differences.md M40, M41.
"""

import keras

from blocks.attention import attention_gate, conv_block
from blocks.heads import head
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel


class TensorflowAttentionUNet(TensorflowModel):
    """U-Net with attention-gated skips (Oktay et al. 2018).

    Reads `[model]`: image_width, image_height, image_channels, num_classes,
    base_filters, num_layers, dropout_rate (default 0.1), final_activation
    (default sigmoid for one class, softmax for more). The input is not scaled.

    Example:
        model = TensorflowAttentionUNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        num_layers = self.model_key("num_layers")
        base_filters = self.model_key("base_filters")
        rate = self.model_key("dropout_rate")
        self._check_depth(num_layers, height, width)

        inputs = keras.Input((height, width, channels))
        x, skips = inputs, []
        for level in range(num_layers - 1):
            x = conv_block(x, base_filters * 2**level, rate)
            skips.append(x)
            x = keras.layers.MaxPooling2D((2, 2))(x)
        x = conv_block(x, base_filters * 2 ** (num_layers - 1), rate)  # the bridge
        for level in reversed(range(num_layers - 1)):
            filters = base_filters * 2**level
            x = keras.layers.UpSampling2D(2, interpolation="bilinear")(x)
            gated = attention_gate(x, skips[level], filters, rate)
            x = keras.layers.Concatenate()([x, gated])
            x = conv_block(x, filters, rate)
        outputs = head(x, self.num_classes, self.final_activation())
        return keras.Model(inputs, outputs, name="Attention-UNET")

    def _check_depth(self, num_layers: int, height: int, width: int) -> None:
        factor = 2 ** (num_layers - 1)
        if height % factor or width % factor:
            raise self.config.error(
                ConfigParser.MODEL, "num_layers",
                f"needs image_width and image_height divisible by {factor} (2**(num_layers-1)); "
                f"they are {width} and {height}",
            )
