"""Sharp U-Net: a U-Net whose skip connections pass a frozen Laplacian filter.

Encoder: for each f in `filters`, two ReLU convolutions and a 2×2 max-pool;
bridge: two convolutions of `max_filter`. Decoder, deepest first: a 2×2
transposed convolution, concatenated with the sharpened skip
(`blocks.sharp.sharpen`), then two convolutions. Every convolution uses
`base_ksize` and `dilation`.

The original transposed each level's concatenation instead of its
convolutions, so only the last level's convolutions were in its graph; that
graph is the default here (same weights, same count: its files load), and
`[model] connected_decoder = True` builds the network as the paper draws it
(docs/differences.md M66).
"""

import keras

from blocks.heads import head
from blocks.sharp import relu_conv, sharpen
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel


class TensorflowSharpUNet(TensorflowModel):
    """Sharp U-Net.

    Reads `[model]`: image_width, image_height, image_channels, num_classes,
    filters, max_filter, base_ksize, dilation, connected_decoder,
    final_activation. `activation`, `base_filters` and `num_layers` are
    ignored, as in the original (every convolution uses ReLU).

    Example:
        model = TensorflowSharpUNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        filters = list(self.model_key("filters"))
        max_filter = self.model_key("max_filter")
        self.kernel_size = tuple(self.model_key("base_ksize"))
        self.dilation = tuple(self.model_key("dilation"))
        connected = bool(self.model_key("connected_decoder"))
        self._check(filters, height, width)

        # === Functional Model ===
        inputs = keras.Input((height, width, channels))
        x, skips = inputs, []
        for f in filters:
            x = self._pair(x, f)
            skips.append(x)
            x = keras.layers.MaxPooling2D((2, 2))(x)
        up = self._pair(x, max_filter)
        last = len(filters) - 1
        for i, f in enumerate(reversed(filters)):
            sharpened = sharpen(skips[last - i])
            upsampled = keras.layers.Conv2DTranspose(f, (2, 2), strides=(2, 2), padding="same")(up)
            up = keras.layers.concatenate([upsampled, sharpened], axis=3)
            if connected:
                up = self._pair(up, f)
            elif i == last:
                # The original's graph: the next level transposes the concatenation, so
                # only the last level's convolutions reach the output.
                up = self._pair(up, f)
        outputs = head(up, self.num_classes, self.final_activation())
        return keras.Model(inputs, outputs, name="model")

    def _pair(self, x, filters: int):
        x = relu_conv(x, filters, self.kernel_size, self.dilation)
        return relu_conv(x, filters, self.kernel_size, self.dilation)

    def _check(self, filters: list[int], height: int, width: int) -> None:
        if not filters:
            raise self.config.error(ConfigParser.MODEL, "filters", "needs at least one level, e.g. [32, 64, 128, 256]")
        factor = 2 ** len(filters)
        if height % factor or width % factor:
            raise self.config.error(
                ConfigParser.MODEL, "filters",
                f"{len(filters)} levels need image_width and image_height divisible by {factor} "
                f"(2**len(filters)); they are {width} and {height}",
            )
