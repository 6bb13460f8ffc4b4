"""Convolution stacks (Conv2D, optional BatchNormalization, activation), and a safe strided 1×1 convolution."""

import keras
from keras import ops


def conv_bn_act(x, filters: int, kernel_size=3, activation="relu", batch_norm: bool = True,
                use_bias: bool = True, dilation_rate=1, strides=1, kernel_initializer="glorot_uniform"):
    """Conv2D (same padding) → BatchNormalization (if `batch_norm`) → activation (if any)."""
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=use_bias,
                            dilation_rate=dilation_rate, kernel_initializer=kernel_initializer)(x)
    if batch_norm:
        x = keras.layers.BatchNormalization()(x)
    if activation:
        x = keras.layers.Activation(activation)(x)
    return x


@keras.saving.register_keras_serializable(package="tfseg")
class PointwiseConv2D(keras.layers.Conv2D):
    """`Conv2D(filters, 1, strides)` that applies its stride by subsampling, then convolves with stride 1.

    The weights, config and outputs are those of the Conv2D (a 1×1 kernel with
    stride s reads every s-th pixel, with "valid" or "same" padding alike). Why:
    TensorFlow 2.21's oneDNN CPU kernel of the filter gradient of a strided 1×1
    convolution corrupts memory, so training crashed on CPU.
    """

    def __init__(self, filters, kernel_size=1, strides=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, **kwargs)
        if tuple(self.kernel_size) != (1, 1) or tuple(self.dilation_rate) != (1, 1):
            raise ValueError(f"PointwiseConv2D is 1×1 and undilated; got kernel_size={kernel_size}")

    def convolution_op(self, inputs, kernel):
        sh, sw = self.strides
        if self.data_format == "channels_last":
            inputs = inputs[:, ::sh, ::sw, :]
        else:
            inputs = inputs[:, :, ::sh, ::sw]
        return ops.conv(inputs, kernel, strides=1, padding="valid", data_format=self.data_format)


def avoid_strided_pointwise(model: keras.Model) -> keras.Model:
    """Makes every strided 1×1 Conv2D of `model` (keras.applications' ResNet shortcuts) a PointwiseConv2D.

    The layers keep their weights, names and place in the graph; only how they
    compute changes (identically), so pretrained and original weight files load
    as before. Returns `model`.
    """
    for layer in model.layers:
        if (type(layer) is keras.layers.Conv2D and tuple(layer.kernel_size) == (1, 1)
                and tuple(layer.strides) != (1, 1) and tuple(layer.dilation_rate) == (1, 1)):
            layer.__class__ = PointwiseConv2D  # same attributes: a Conv2D subclass without state of its own
    return model
