"""U-Net on a pretrained EfficientNetB7 encoder, its first layers frozen (see [model] in docs/config.md).

Skips are the input and the activations `block1a` … `block4a` (strides 1 to
16), the bridge `block7a_activation` (stride 32); five decoder stages of a
2×2 transposed convolution, a skip concatenation and two Conv3×3 → BN → ReLU
with 512, 256, 128, 64 and 32 filters. All encoder layers but the last 61
are frozen. The head has one channel, as the original's. For the same
config the weights, their order and the parameter count equal the
original's. Where it departs from the original: docs/differences.md, M59–M61.
"""

import keras

from blocks.conv import conv_bn_act
from blocks.encoders import PretrainedWeightsError, build_encoder, feature_maps
from blocks.heads import head
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel

BRIDGE = "block7a_activation"  # stride 32
SKIPS = ("block4a_activation", "block3a_activation", "block2a_activation", "block1a_activation")  # deepest first
DECODER_FILTERS = (512, 256, 128, 64, 32)
TRAINABLE_LAST = 61  # encoder layers left trainable, counted from the end of EfficientNetB7's layer list
STRIDE = 32


def conv_block(x, filters: int):
    """[Conv3×3 (he_normal, biased) → BN → ReLU] ×2."""
    x = conv_bn_act(x, filters, 3, "relu", kernel_initializer="he_normal")
    return conv_bn_act(x, filters, 3, "relu", kernel_initializer="he_normal")


def decoder_block(x, skip, filters: int):
    """Conv2DTranspose(filters, 2, stride 2) → concatenate [x, skip] → `conv_block`."""
    x = keras.layers.Conv2DTranspose(filters, (2, 2), strides=2, padding="same")(x)
    x = keras.layers.Concatenate()([x, skip])
    return conv_block(x, filters)


class TensorflowEfficientNetB7UNet(TensorflowModel):
    """EfficientNetB7-encoder U-Net with a one-channel head.

    Reads `[model]`: image_width, image_height, image_channels, num_classes
    (1: the head has one channel), weights (default "imagenet"; None trains
    from scratch; or a weights file for the encoder), final_activation
    (default sigmoid). base_filters and num_layers are accepted and ignored.

    Example:
        model = TensorflowEfficientNetB7UNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        weights = self.model_key("weights")
        self._check_classes()
        self._check_size(height, width)
        self._check_channels(channels, weights)

        # === Functional Model ===
        inputs = keras.Input((height, width, channels), name="input_image")
        try:
            encoder = build_encoder("EfficientNetB7", inputs, weights)
        except PretrainedWeightsError as e:
            raise self.config.error(ConfigParser.MODEL, "weights", str(e)) from None
        for layer in encoder.layers[:-TRAINABLE_LAST]:
            layer.trainable = False
        x, *skips = feature_maps(encoder, (BRIDGE,) + SKIPS)
        for skip, filters in zip(skips + [inputs], DECODER_FILTERS):
            x = decoder_block(x, skip, filters)
        outputs = head(x, 1, self.final_activation())
        return keras.Model(inputs, outputs, name="EfficientNetB7_U-Net")

    def create_loss(self):
        self._check_classes()  # before the loss check, which would blame the loss
        return super().create_loss()

    # === Checks ===

    def _check_classes(self) -> None:
        if self.num_classes > 1:
            raise self.config.error(
                ConfigParser.MODEL, "num_classes",
                "TensorflowEfficientNetB7UNet's head has one channel, as the original's: use num_classes = 1, "
                "or a family with a multi-class head (e.g. TensorflowEfficientUNet)",
            )

    def _check_size(self, height: int, width: int) -> None:
        for key, size in (("image_width", width), ("image_height", height)):
            if size % STRIDE:
                raise self.config.error(
                    ConfigParser.MODEL, key,
                    f"TensorflowEfficientNetB7UNet needs image_width and image_height divisible by {STRIDE} "
                    f"(the encoder's stride); they are {width} and {height}",
                )

    def _check_channels(self, channels: int, weights) -> None:
        if weights is not None and channels != 3:
            raise self.config.error(
                ConfigParser.MODEL, "image_channels",
                "pretrained EfficientNetB7 weights take 3 channels; use image_channels = 3, or weights = None",
            )
