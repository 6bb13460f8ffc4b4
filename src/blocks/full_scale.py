"""UNet 3+ blocks: its convolution block and the full-scale skip aggregation.

UNet 3+ (Huang et al., 2020) builds each decoder level from every encoder
level and every deeper decoder level: each source is max-pooled or
bilinearly upsampled to the level's scale, reduced by one convolution
block to `cat_channels`, and the concatenation goes through one more block.
"""

import keras

L2 = 1e-4  # the original's kernel regulariser
SEED = 5  # the original's he_normal seed (every convolution starts from the same draw)


def unet3plus_conv(x, filters: int, n: int = 2, dropout_rate: float = 0.0, batch_norm: bool = True,
                   relu: bool = True, kernel_size=(3, 3), l2: float = L2, seed: int | None = SEED):
    """`n` times: Conv2D(filters, kernel_size, same, L2(l2), he_normal(seed)) →
    Dropout(dropout_rate·i) for i = 1…n → BatchNormalization (if `batch_norm`) → ReLU (if `relu`)."""
    for i in range(1, n + 1):
        x = keras.layers.Conv2D(
            filters, kernel_size, padding="same",
            kernel_regularizer=keras.regularizers.L2(l2),
            kernel_initializer=keras.initializers.HeNormal(seed=seed),
        )(x)
        x = keras.layers.Dropout(dropout_rate * i)(x)
        if batch_norm:
            x = keras.layers.BatchNormalization()(x)
        if relu:
            x = keras.layers.Activation("relu")(x)
    return x


def rescale(x, source_level: int, target_level: int):
    """Brings a feature map of `source_level` to `target_level` (level l has 1/2**l of the input's size):
    MaxPooling2D when the source is shallower, bilinear UpSampling2D when it is deeper."""
    steps = target_level - source_level
    if steps > 0:
        return keras.layers.MaxPooling2D((2**steps, 2**steps))(x)
    if steps < 0:
        return keras.layers.UpSampling2D((2**-steps, 2**-steps), interpolation="bilinear")(x)
    return x


def full_scale_level(sources, target_level: int, cat_channels: int, out_channels: int, dropout_rate: float):
    """One UNet 3+ decoder level.

    Args:
        sources: (tensor, level) pairs, shallowest first; each is rescaled to
            `target_level`, then goes through `unet3plus_conv(cat_channels, n=1)`.
        out_channels: filters of the block after the concatenation.

    Returns:
        `unet3plus_conv(concatenate(...), out_channels, n=1)`.
    """
    parts = [
        unet3plus_conv(rescale(x, level, target_level), cat_channels, n=1, dropout_rate=dropout_rate)
        for x, level in sources
    ]
    return unet3plus_conv(keras.layers.concatenate(parts), out_channels, n=1, dropout_rate=dropout_rate)
