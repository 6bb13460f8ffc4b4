"""BASNet's prediction and residual refinement modules (Qin et al.), as in the Keras example.

The prediction module is an encoder (an input convolution, the four ResNet-34
stages, two stages of three residual blocks), a bridge of three dilated
convolutions and six decoder stages; the bridge and each decoder stage have
a side head resized to the input. The refinement module is a small U-Net of
four stages whose output is added to the first side head. Heads return
logits; the model applies the final activation. Layer order follows the
original's graph, so its weight files load by layer order.
"""

import keras

from blocks.heads import head
from blocks.resnet34 import resnet34_stage


def residual_block(x, filters: int, activation: str | None = "relu"):
    """[Conv3×3 → BN → ReLU → Conv3×3 → BN] + x (identity) → activation; convolutions without bias."""
    residual = x
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Add()([x, residual])
    if activation:
        x = keras.layers.Activation(activation)(x)
    return x


def convolution_block(x, filters: int, dilation: int = 1):
    """Conv3×3 (with bias, `dilation`) → BatchNormalization → ReLU."""
    x = keras.layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation)(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


def side_head(x, channels: int, size=None):
    """Conv3×3 to `channels` logits (float32), bilinearly resized to `size` = (height, width) if given."""
    x = head(x, channels, "linear", kernel_size=(3, 3))
    if size is not None:
        x = keras.layers.Resizing(size[0], size[1], dtype="float32")(x)
    return x


def _upsample(x):
    """Bilinear ×2 resize (a Resizing layer, as the original)."""
    return keras.layers.Resizing(x.shape[1] * 2, x.shape[2] * 2)(x)


def prediction_module(inputs, channels: int, filters: int = 64, stages: int = 6):
    """The coarse predictor; returns the 7 side logits, finest decoder stage first, the bridge's last.

    Args:
        inputs: the image tensor (H, W, C), H and W divisible by 32.
        channels: output channels of every side head.
        filters: the first ResNet stage's width (64 in the original); the
            deeper stages, the bridge and the decoder use filters·8 at most.
        stages: encoder and decoder stages (6: four ResNet-34 stages and two
            of three residual blocks).
    """
    size = inputs.shape[1:3]
    x = keras.layers.Conv2D(filters, 3, padding="same")(inputs)
    encoder = []
    for i in range(stages):
        if i < 4:
            x = resnet34_stage(i, x.shape[-1], filters)(x)
            encoder.append(x)
            x = keras.layers.Activation("relu")(x)
        else:
            x = keras.layers.MaxPooling2D(2, strides=2)(x)
            for _ in range(3):
                x = residual_block(x, filters * 8)
            encoder.append(x)

    for _ in range(3):  # bridge
        x = convolution_block(x, filters * 8, dilation=2)
    bridge = x

    decoder = []
    for i in reversed(range(stages)):
        if i != stages - 1:
            x = _upsample(x)
        x = keras.layers.concatenate([encoder[i], x], axis=-1)
        for _ in range(3):
            x = convolution_block(x, filters * 8)
        decoder.append(x)
    decoder.reverse()
    decoder.append(bridge)
    return [side_head(d, channels, size) for d in decoder]


def refinement_module(coarse, channels: int, filters: int = 64, stages: int = 4):
    """The residual refinement module: coarse logits + a small U-Net's correction of them.

    Args:
        coarse: the first side head's logits (H, W, channels), H and W divisible by 2**stages.
        channels: output channels.
        filters: filters of every convolution (64 in the original).
        stages: encoder and decoder stages (4).
    """
    x = keras.layers.Conv2D(filters, 3, padding="same")(coarse)
    encoder = []
    for _ in range(stages):
        x = convolution_block(x, filters)
        encoder.append(x)
        x = keras.layers.MaxPooling2D(2, strides=2)(x)
    x = convolution_block(x, filters)
    for i in reversed(range(stages)):
        x = _upsample(x)
        x = keras.layers.concatenate([encoder[i], x], axis=-1)
        x = convolution_block(x, filters)
    x = side_head(x, channels)
    return keras.layers.Add(dtype="float32")([coarse, x])


@keras.saving.register_keras_serializable(package="tfseg")
class DeeplySupervisedModel(keras.Model):
    """A functional model whose every output is trained against the one target; metrics see output 0.

    `fit(x, y)` with one `y` applies the compiled loss to each output and sums
    them (as Keras 2 did for a multi-output model); the compiled metrics are
    computed on the first output only, under their plain names.
    """

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if isinstance(y_pred, (list, tuple)) and y is not None and not isinstance(y, (list, tuple, dict)):
            y = [y] * len(y_pred)
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, (list, tuple)):
            y_pred = y_pred[0]
            if isinstance(y, (list, tuple)):
                y = y[0]
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)
