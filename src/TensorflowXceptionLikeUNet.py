"""The Xception-like U-Net of the Keras "oxford pets" example (see [model] in docs/config.md).

With F = base_filters and L = num_layers, the filters are F·2**i (i < L): an
entry convolution of F filters with stride 2, L − 1 down blocks (F·2 … F·2**(L−1)),
L up blocks over the reversed filters, and a 3×3 head. The image size must
be divisible by 2**L. For the same config the layers, their order and the
parameter count equal the original's (2,068,177 at 128², F = 16, L = 5), so
its Keras-2 weight files load by layer order. Departures: docs/differences.md
M71, M72.
"""

import keras

from blocks.heads import head
from blocks.xception import down_block, entry_block, up_block
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel


class TensorflowXceptionLikeUNet(TensorflowModel):
    """Xception-like encoder (separable convolutions, residual projections) and transposed-conv decoder.

    Reads `[model]`: image_width, image_height, image_channels, num_classes,
    base_filters, num_layers, diation (the original's spelling), final_activation.

    Example:
        model = TensorflowXceptionLikeUNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        base_filters = self.model_key("base_filters")
        num_layers = self.model_key("num_layers")
        dilation = tuple(self.model_key("diation"))
        self._check_size(height, width, num_layers)
        filters = [base_filters * 2**i for i in range(num_layers)]

        inputs = keras.Input((height, width, channels))
        x = entry_block(inputs, filters[0])
        for f in filters[1:]:
            x = down_block(x, f, dilation)
        for f in reversed(filters):
            x = up_block(x, f, dilation)
        outputs = head(x, self.num_classes, self.final_activation(), kernel_size=(3, 3))
        return keras.Model(inputs, outputs, name="Xception-UNET")

    def _check_size(self, height: int, width: int, num_layers: int) -> None:
        # The entry convolution and the L − 1 max pools halve the size L times;
        # an odd size on the way makes the decoder's residual additions fail.
        factor = 2**num_layers
        if height % factor or width % factor:
            raise self.config.error(
                ConfigParser.MODEL, "num_layers",
                f"needs image_width and image_height divisible by {factor} (2**num_layers); "
                f"they are {width} and {height}",
            )
