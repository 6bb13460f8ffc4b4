"""The "Slightly Flexible" U-Net, the original's primary model (see [model] in docs/config.md).

Level i of the encoder (i = 0 … num_layers−1, the last being the bridge) has
`base_filters·2**i` filters, kernel `max(k0 − 2·i, 3)`, dilation
`max(d0 − i, 1)` and dropout `dropout_rate·i`; the decoder mirrors it with
2×2 transposed convolutions and skip concatenations. For the same config the
layers, their order and the parameter count equal the original's, so its
Keras-2 weight files load by topology. Where it departs from the original
(key checks, the multi-class head): docs/differences.md, M1, M2, M6, M7.
"""

import keras

from blocks.heads import head
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel

DROPOUT_SEED = 137  # the original's seed for `dropout_seed_fixing = True`


def kernel_sizes(k0: int, num_layers: int) -> list[int]:
    """Per-level kernel sizes: k0, then shrinking by 2 per level down to 3."""
    return [k0] + [max(k0 - 2 * i, 3) for i in range(1, num_layers)]


def dilation_rates(d0: int, num_layers: int) -> list[int]:
    """Per-level dilation rates: d0, then shrinking by 1 per level down to 1."""
    return [max(d0 - i, 1) for i in range(num_layers)]


class TensorflowUNet(TensorflowModel):
    """U-Net with per-level kernel sizes, dilations and dropout rates.

    Reads `[model]`: image_width, image_height, image_channels, num_classes,
    base_filters, num_layers, base_kernels (default (3, 3)), dilation
    (default (1, 1)), dropout_rate, activation (default "relu"),
    final_activation (default "sigmoid", or "softmax" when num_classes > 1),
    input_normalize (default True:
    a Rescaling(1/255) first layer), normalization (default False: no
    BatchNormalization), dropout_seed_fixing (default False).

    Example:
        model = TensorflowUNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        self.num_layers = self.model_key("num_layers")
        self.base_filters = self.model_key("base_filters")
        self.dropout_rate = self.model_key("dropout_rate")
        self.kernels = kernel_sizes(self._base_kernel(), self.num_layers)
        self.dilations = dilation_rates(self._base_dilation(), self.num_layers)
        self.act = self.activation()
        self.batch_norm = bool(self.model_key("normalization"))
        seeded = self.model_key("dropout_seed_fixing")
        self.dropout_seed = DROPOUT_SEED if seeded else None
        self._check_depth(height, width)
        self._check_dropout()

        # === Functional Model ===
        inputs = keras.Input((height, width, channels))
        x = inputs
        if self.scales_input(self.model_key("input_normalize")):
            x = keras.layers.Rescaling(1.0 / 255)(x)
        x, skips = self._encoder(x)
        x = self._decoder(x, skips)
        outputs = head(x, self.num_classes, self.final_activation())
        return keras.Model(inputs, outputs, name="model")

    # === Layers ===

    def _encoder(self, x):
        skips = []
        for level in range(self.num_layers):
            x = self._block(x, level)
            if level < self.num_layers - 1:
                skips.append(x)
                x = keras.layers.MaxPooling2D((2, 2))(x)
        return x, skips

    def _decoder(self, x, skips):
        for level in reversed(range(self.num_layers - 1)):
            x = keras.layers.Conv2DTranspose(
                self._filters(level), (2, 2), strides=(2, 2), padding="same"
            )(x)
            x = keras.layers.concatenate([x, skips[level]])
            x = self._block(x, level)
        return x

    def _block(self, x, level: int):
        """Conv → [BN] → Dropout → Conv → [BN] at one level's settings."""
        x = self._conv_bn(x, level)
        x = keras.layers.Dropout(self.dropout_rate * level, seed=self.dropout_seed)(x)
        return self._conv_bn(x, level)

    def _conv_bn(self, x, level: int):
        size, rate = self.kernels[level], self.dilations[level]
        x = keras.layers.Conv2D(
            self._filters(level),
            (size, size),
            activation=self.act,
            kernel_initializer="he_normal",
            dilation_rate=(rate, rate),
            padding="same",
        )(x)
        if self.batch_norm:
            x = keras.layers.BatchNormalization()(x)
        return x

    def _filters(self, level: int) -> int:
        return self.base_filters * 2**level

    # === Checks ===

    def _base_kernel(self) -> int:
        # The original took the second element of any pair (it unpacks the
        # pair into one name twice); an even or unequal pair is a mistake.
        k0, k1 = self.model_key("base_kernels")
        if k0 != k1 or k0 % 2 == 0:
            raise self.config.error(
                ConfigParser.MODEL, "base_kernels", "expected two equal odd sizes, e.g. (5, 5)"
            )
        return k0

    def _base_dilation(self) -> int:
        d0, d1 = self.model_key("dilation")
        if d0 != d1:
            raise self.config.error(
                ConfigParser.MODEL, "dilation", "the two rates must be equal"
            )
        return d0

    def _check_depth(self, height: int, width: int) -> None:
        factor = 2 ** (self.num_layers - 1)
        if height % factor or width % factor:
            raise self.config.error(
                ConfigParser.MODEL,
                "num_layers",
                f"needs image_width and image_height divisible by {factor} "
                f"(2**(num_layers-1)); they are {width} and {height}",
            )

    def _check_dropout(self) -> None:
        deepest = self.dropout_rate * (self.num_layers - 1)
        if deepest >= 1:
            raise self.config.error(
                ConfigParser.MODEL,
                "dropout_rate",
                f"the deepest level's rate dropout_rate*(num_layers-1) = "
                f"{deepest:g} must be below 1",
            )
