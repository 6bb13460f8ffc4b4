"""Sharp U-Net blocks: the frozen depthwise "sharpening" filter of the skip connections.

The Sharp U-Net (Zunair and Ben Hamza, 2021) filters every encoder feature
map, channel by channel, with a fixed 3×3 kernel before the decoder
concatenates it. The kernel is called "sharpening" but is a Laplacian
(its weights sum to 0): it keeps edges and removes flat regions. It is a
non-trainable weight of a `DepthwiseConv2D`, so that it is counted and
stored as the original stored it, and loads from the original's files.
"""

import keras
from keras import ops

LAPLACIAN = ((-1.0, -1.0, -1.0), (-1.0, 8.0, -1.0), (-1.0, -1.0, -1.0))


@keras.saving.register_keras_serializable(package="tfseg")
class FixedKernel(keras.initializers.Initializer):
    """Initialises a depthwise kernel of shape (kh, kw, channels, multiplier)
    with one fixed (kh, kw) kernel for every channel and multiplier."""

    def __init__(self, kernel=LAPLACIAN):
        self.kernel = [[float(v) for v in row] for row in kernel]

    def __call__(self, shape, dtype=None):
        kernel = ops.convert_to_tensor(self.kernel, dtype=dtype or "float32")
        rows, cols = len(self.kernel), len(self.kernel[0])
        if tuple(shape[:2]) != (rows, cols):
            raise ValueError(f"FixedKernel: a {rows}×{cols} kernel cannot fill a weight of shape {tuple(shape)}")
        return ops.broadcast_to(ops.reshape(kernel, (rows, cols, 1, 1)), tuple(shape))

    def get_config(self):
        return {"kernel": self.kernel}


def sharpen(x, kernel=LAPLACIAN, name=None):
    """Filters each channel of `x` with the fixed `kernel` (same padding, no bias).

    A `DepthwiseConv2D` whose only weight, shape (kh, kw, channels, 1), is
    the kernel repeated per channel and is not trainable.
    """
    size = (len(kernel), len(kernel[0]))
    return keras.layers.DepthwiseConv2D(
        size, padding="same", use_bias=False, depthwise_initializer=FixedKernel(kernel),
        trainable=False, name=name,
    )(x)


def relu_conv(x, filters: int, kernel_size=(3, 3), dilation_rate=(1, 1)):
    """`Conv2D(filters, kernel_size, activation="relu", padding="same")`, default initialisers."""
    return keras.layers.Conv2D(
        filters, kernel_size, activation="relu", padding="same", dilation_rate=dilation_rate
    )(x)
