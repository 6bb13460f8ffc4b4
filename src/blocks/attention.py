"""Attention U-Net blocks (Oktay et al. 2018): the attention gate and its two-convolution block.

Both use biased 3×3 / 1×1 convolutions with Keras' default initializer, in the
order the original built them, so that weight files load by layer order.
"""

import keras


def _dropout(x, rate: float, seed=None):
    return keras.layers.Dropout(rate, seed=seed)(x) if rate > 0 else x


def conv_block(x, filters: int, dropout_rate: float = 0.0, seed=None):
    """Conv 3×3 → BN → ReLU → Conv 3×3 → Dropout (when `dropout_rate` > 0) → BN → ReLU.

    Args:
        x: the input tensor (N, H, W, C).
        filters: output channels of both convolutions.
        dropout_rate: rate of the dropout after the second convolution; 0 adds no layer.
        seed: the dropout's seed (None: unseeded).
    """
    x = keras.layers.Conv2D(filters, 3, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same")(x)
    x = _dropout(x, dropout_rate, seed)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.Activation("relu")(x)


def attention_gate(g, s, filters: int, dropout_rate: float = 0.0, seed=None):
    """The skip `s` weighted by a gate computed from the gating signal `g` and `s` itself.

    gate = sigmoid(Conv1×1(ReLU(BN(Conv1×1(g)) + BN(Dropout(Conv1×1(s)))))), every convolution
    with `filters` channels; returns gate · s, so `filters` must equal the channels of `s`.

    Args:
        g: the gating signal, the same height and width as `s` (the upsampled deeper level).
        s: the skip tensor to weight.
        filters: channels of the three 1×1 convolutions.
        dropout_rate: rate of the dropout on the skip's projection; 0 adds no layer.
        seed: the dropout's seed (None: unseeded).
    """
    wg = keras.layers.Conv2D(filters, 1, padding="same")(g)
    wg = keras.layers.BatchNormalization()(wg)
    ws = keras.layers.Conv2D(filters, 1, padding="same")(s)
    ws = _dropout(ws, dropout_rate, seed)
    ws = keras.layers.BatchNormalization()(ws)
    # Input order (g first, then the gate first) fixes the layer order of the weight files.
    x = keras.layers.Activation("relu")(keras.layers.Add()([wg, ws]))
    x = keras.layers.Conv2D(filters, 1, padding="same")(x)
    gate = keras.layers.Activation("sigmoid")(x)
    return keras.layers.Multiply()([gate, s])
