"""DeepLabV3+ on a pretrained ResNet50 encoder (see [model] in docs/config.md).

ASPP on `conv4_block6_2_relu` (stride 16), upsampled ×4 and concatenated
with the stride-4 features of `conv2_block3_2_relu` reduced to 48 channels;
two Conv3×3 → BN → ReLU, a bilinear ×4 upsampling to the input size and the
1×1 head. No input preprocessing, as the original. For the same config the
weights, their order and the parameter count equal the original's. Where it
departs from the original (the weights key, the checks): docs/differences.md,
M59, M62.
"""

import keras

from blocks.aspp import aspp
from blocks.conv import conv_bn_act
from blocks.encoders import PretrainedWeightsError, build_encoder, feature_maps
from blocks.heads import head
from ConfigParser import ConfigParser
from TensorflowModel import TensorflowModel

HIGH_LEVEL = "conv4_block6_2_relu"  # stride 16
LOW_LEVEL = "conv2_block3_2_relu"  # stride 4
STRIDE = 16
FILTERS = 256
LOW_LEVEL_FILTERS = 48


def decoder_conv(x, filters: int = FILTERS):
    """Conv3×3 with a ReLU inside (unbiased, he_normal) → BN → ReLU.

    The ReLU inside the convolution is the original's (a second ReLU after
    the batch normalization follows); it changes no weight.
    """
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", use_bias=False,
                            kernel_initializer="he_normal")(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


class TensorflowDeepLabV3Plus(TensorflowModel):
    """DeepLabV3+ with a ResNet50 encoder.

    Reads `[model]`: image_width, image_height (both divisible by 16),
    image_channels (3 with pretrained weights), num_classes, weights
    (default "imagenet"; None trains from scratch; or a weights file for the
    encoder), final_activation (default sigmoid for one class, softmax for
    more). base_filters and num_layers are accepted and ignored.

    Example:
        model = TensorflowDeepLabV3Plus("./train_eval_infer.config").model
    """

    def create(self) -> keras.Model:
        # === Config ===
        height = self.model_key("image_height")
        width = self.model_key("image_width")
        channels = self.model_key("image_channels")
        weights = self.model_key("weights")
        self.check_divisible(height, width, STRIDE, "the stride of its ASPP features")
        self.check_pretrained_channels(channels, weights, "ResNet50")

        # === Functional Model ===
        inputs = keras.Input((height, width, channels))
        try:
            encoder = build_encoder("ResNet50", inputs, weights)
        except PretrainedWeightsError as e:
            raise self.config.error(ConfigParser.MODEL, "weights", str(e)) from None
        high, low = feature_maps(encoder, (HIGH_LEVEL, LOW_LEVEL))
        x = aspp(high, FILTERS)
        x = keras.layers.UpSampling2D(size=(STRIDE // 4, STRIDE // 4), interpolation="bilinear")(x)
        low = conv_bn_act(low, LOW_LEVEL_FILTERS, 1, "relu", use_bias=False, kernel_initializer="he_normal")
        x = keras.layers.Concatenate(axis=-1)([x, low])
        x = decoder_conv(x)
        x = decoder_conv(x)
        x = keras.layers.UpSampling2D(size=(4, 4), interpolation="bilinear")(x)
        outputs = head(x, self.num_classes, self.final_activation())
        return keras.Model(inputs, outputs, name="model")
