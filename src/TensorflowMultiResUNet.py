"""MultiResUNet, the original's TensorflowMultiResUNet (see [model] in docs/config.md).

Level i of the encoder (i = 0 … num_layers−1, the last being the bridge) is a
MultiRes block of nominal width `base_filters·2**i`; its skip passes through a
ResPath of num_layers − i residual units. The decoder upsamples with 2×2
transposed convolutions, concatenates the skip and applies a MultiRes block.
The input is always divided by 255. For the same config the weights, their
order and the parameter count equal the original's, so its Keras-2 weight
files load by layer order. Differences: docs/differences.md M40, M42.
"""

import keras

from blocks.heads import head
from blocks.multires import multires_block, res_path
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel


class TensorflowMultiResUNet(TensorflowModel):
    """MultiResUNet (Ibtehaz & Rahman 2020).

    Reads `[model]`: image_width, image_height, image_channels, num_classes,
    base_filters, num_layers, final_activation (default sigmoid for one
    class, softmax for more).

    Example:
        model = TensorflowMultiResUNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        num_layers = self.model_key("num_layers")
        base_filters = self.model_key("base_filters")
        self._check_depth(num_layers, height, width)

        inputs = keras.Input((height, width, channels))
        x = keras.layers.Rescaling(1.0 / 255)(inputs) if self.scales_input() else inputs
        skips = []
        for level in range(num_layers - 1):
            filters = base_filters * 2**level
            x = multires_block(x, filters)
            skips.append(res_path(x, filters, num_layers - level))
            x = keras.layers.MaxPooling2D((2, 2))(x)
        x = multires_block(x, base_filters * 2 ** (num_layers - 1))  # the bridge
        for level in reversed(range(num_layers - 1)):
            filters = base_filters * 2**level
            x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
            x = keras.layers.Concatenate()([x, skips[level]])
            x = multires_block(x, filters)
        outputs = head(x, self.num_classes, self.final_activation())
        return keras.Model(inputs, outputs, name="MultiResUNET")

    def _check_depth(self, num_layers: int, height: int, width: int) -> None:
        factor = 2 ** (num_layers - 1)
        if height % factor or width % factor:
            raise self.config.error(
                ConfigParser.MODEL, "num_layers",
                f"needs image_width and image_height divisible by {factor} (2**(num_layers-1)); "
                f"they are {width} and {height}",
            )
