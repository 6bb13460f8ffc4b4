"""U-Net on a pretrained EfficientNet B0–B7 encoder (see [model] in docs/config.md).

The encoder is `keras.applications.EfficientNet<B?>` without its classifier;
a residual conv block (CBAR) on `block7a_project_bn` is the bridge, and five
decoder stages each upsample ×2 (nearest), concatenate a skip and apply a
CBAR with the skip's channel count. For the same config the weights, their
order and the parameter count equal the original's, so its Keras-2 weight
files load by layer order. Where it departs from the original (B6, the
two-class head, the checks): docs/differences.md, M57–M59.
"""

import keras

from blocks.conv import conv_bn_act
from blocks.encoders import PretrainedWeightsError, build_encoder, feature_maps
from blocks.heads import head
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel

BRIDGE = "block7a_project_bn"  # stride 32
# Deepest first; the input itself is the fifth skip (stride 1).
SKIPS = ("block5c_drop", "block3b_drop", "block2b_drop", "block1a_project_bn")
STRIDE = 32


def cbar_block(x, filters: int):
    """[Conv3×3 → BN → ReLU] ×2, plus a residual Conv1×1 of the input (all convolutions biased)."""
    y = conv_bn_act(x, filters, 3, "relu")
    y = conv_bn_act(y, filters, 3, "relu")
    shortcut = keras.layers.Conv2D(filters, 1)(x)
    return keras.layers.Add()([y, shortcut])


def up_block(x, skip, filters: int):
    """UpSampling2D ×2 (nearest) → concatenate [upsampled, skip] → CBAR."""
    x = keras.layers.UpSampling2D()(x)
    x = keras.layers.concatenate([x, skip], axis=3)
    return cbar_block(x, filters)


class TensorflowEfficientUNet(TensorflowModel):
    """EfficientNet-encoder U-Net.

    Reads `[model]`: image_width, image_height, image_channels, num_classes,
    efficientnet ("B0" … "B7", default "B0"), weights (default "imagenet";
    None trains from scratch; or a weights file for the encoder),
    final_activation (default sigmoid for one class, softmax for more).
    The input is not scaled here: Keras' EfficientNet rescales it itself.

    Example:
        model = TensorflowEfficientUNet("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        name = "EfficientNet" + self.model_key("efficientnet")
        weights = self.model_key("weights")
        self.check_divisible(height, width, STRIDE, "the encoder's stride")
        self.check_pretrained_channels(channels, weights, "EfficientNet")

        # === Functional Model ===
        inputs = keras.Input((height, width, channels))
        try:
            encoder = build_encoder(name, inputs, weights)
        except PretrainedWeightsError as e:
            raise self.config.error(ConfigParser.MODEL, "weights", str(e)) from None
        bridge, *skips = feature_maps(encoder, (BRIDGE,) + SKIPS)
        x = cbar_block(bridge, bridge.shape[-1])
        filters = None
        for skip in skips:
            filters = skip.shape[-1]
            x = up_block(x, skip, filters)
        x = up_block(x, inputs, filters)  # the input keeps the previous width, as the original
        outputs = head(x, self.num_classes, self.final_activation())
        return keras.Model(inputs, outputs, name="model")
