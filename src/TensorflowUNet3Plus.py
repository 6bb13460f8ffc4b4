"""UNet 3+: a five-level U-Net with full-scale skip connections.

Encoder level i (i = 0…4) has `base_filters·2**i` filters; each decoder
level concatenates all five scales (`blocks.full_scale`), each reduced to
`base_filters` channels, and mixes them into `num_layers·base_filters`
channels. The network is always five levels deep, whatever `num_layers`
says beyond 5; `num_layers` still sets the decoder's width, as in the
original (its filter list had `num_layers` entries, of which it used five
and counted all). The head has one channel, with dropout on its logits.
For the same config the weights, their order and the parameter count equal
the original's, so its Keras-2 weight files load by layer order.
"""

import keras

from blocks.full_scale import L2, SEED, full_scale_level, unet3plus_conv
from blocks.heads import head
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel

LEVELS = 5  # the original's depth, fixed


class TensorflowUNet3Plus(TensorflowModel):
    """UNet 3+ (Huang et al., 2020) as the original builds it.

    Reads `[model]`: image_width, image_height, image_channels, num_classes
    (must be 1), base_filters, num_layers (at least 5), dropout_rate,
    final_activation. `activation` is ignored: every block uses ReLU.

    Example:
        model = TensorflowUNet3Plus("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        base_filters = self.model_key("base_filters")
        num_layers = self.model_key("num_layers")
        rate = self.model_key("dropout_rate")
        self._check(height, width, num_layers, rate)
        filters = [base_filters * 2**i for i in range(LEVELS)]
        cat_channels = filters[0]
        upsample_channels = num_layers * cat_channels

        # === Functional Model ===
        inputs = keras.Input((height, width, channels), name="input_layer")
        encoder = [unet3plus_conv(inputs, filters[0], dropout_rate=rate)]
        for level in range(1, LEVELS):
            x = keras.layers.MaxPooling2D((2, 2))(encoder[-1])
            encoder.append(unet3plus_conv(x, filters[level], dropout_rate=rate))
        # Decoder level t takes encoder levels 0…t, the decoder levels t+1…3 and the bridge.
        decoder = {}
        for target in reversed(range(LEVELS - 1)):
            sources = [
                (encoder[level] if level <= target or level == LEVELS - 1 else decoder[level], level)
                for level in range(LEVELS)
            ]
            decoder[target] = full_scale_level(sources, target, cat_channels, upsample_channels, rate)
        # The original's head is a linear convolution, Dropout(rate), then the activation.
        x = head(decoder[0], 1, "linear", kernel_size=(3, 3), kernel_initializer=keras.initializers.HeNormal(SEED),
                 kernel_regularizer=keras.regularizers.L2(L2))
        x = keras.layers.Dropout(rate, dtype="float32")(x)
        outputs = keras.layers.Activation(self.final_activation(), dtype="float32")(x)
        return keras.Model(inputs, outputs, name="UNet_3Plus")

    def _check(self, height: int, width: int, num_layers: int, rate: float) -> None:
        if self.num_classes > 1:
            raise self.config.error(
                ConfigParser.MODEL, "num_classes",
                "TensorflowUNet3Plus's head has one channel, as the original's: use 1, or a multi-class "
                "family such as TensorflowUNet",
            )
        if num_layers < LEVELS:
            raise self.config.error(
                ConfigParser.MODEL, "num_layers",
                f"TensorflowUNet3Plus is always {LEVELS} levels deep and needs num_layers >= {LEVELS} "
                "(num_layers also sets the decoder width, num_layers·base_filters)",
            )
        factor = 2 ** (LEVELS - 1)
        for key, size in (("image_width", width), ("image_height", height)):
            if size % factor:
                raise self.config.error(
                    ConfigParser.MODEL, key, f"TensorflowUNet3Plus needs a size divisible by {factor}"
                )
        if rate * 2 >= 1:
            raise self.config.error(
                ConfigParser.MODEL, "dropout_rate",
                f"the encoder's second convolutions drop 2·dropout_rate = {2 * rate:g}, which must be below 1",
            )
