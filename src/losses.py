"""Losses and metrics of the original toolkit, as plain functions (spec §4.1).

Dice and IoU are computed over the whole batch tensor, flattened, exactly as
the original does: they are batch-level scores, not per-image means. Each
function casts to float32 first so that mixed-precision predictions are
scored in full precision.

`[model] loss` and `[model] metrics` name these functions; `get(name)`
resolves a name, and the metric is logged under the function's own name
(`dice_coef`, `val_dice_coef`, ...).
"""

import difflib

import keras
from keras import ops

SMOOTH = 1.0  # the original's Dice smoothing
EPSILON = 1e-7  # keras.backend.epsilon(), the original's ε in sensitivity


def _flat(y_true, y_pred):
    return (
        ops.reshape(ops.cast(y_true, "float32"), [-1]),
        ops.reshape(ops.cast(y_pred, "float32"), [-1]),
    )


def dice_coef(y_true, y_pred):
    """(2·Σ(y·p) + 1) / (Σy + Σp + 1) over the batch."""
    y, p = _flat(y_true, y_pred)
    return (2.0 * ops.sum(y * p) + SMOOTH) / (ops.sum(y) + ops.sum(p) + SMOOTH)


def dice_loss(y_true, y_pred):
    return 1.0 - dice_coef(y_true, y_pred)


def iou_coef(y_true, y_pred):
    """Σ(y·p) / Σ(y + p − y·p) over the batch, 1 when both are empty.

    The original has no smoothing and returns NaN for an all-empty batch,
    which poisons a loss; an empty prediction of an empty mask is perfect.
    """
    y, p = _flat(y_true, y_pred)
    intersection = ops.sum(y * p)
    union = ops.sum(y + p - y * p)
    return ops.where(union > 0, intersection / ops.maximum(union, EPSILON), 1.0)


def iou_loss(y_true, y_pred):
    return 1.0 - iou_coef(y_true, y_pred)


def _bce_map(y_true, y_pred):
    """Per-pixel binary cross-entropy, averaged over the channel axis."""
    return keras.losses.binary_crossentropy(
        ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    )


def bce_dice_loss(y_true, y_pred):
    """(BCE + dice_loss) / 2.

    The scalar Dice term is broadcast over the (B, H, W) BCE map, and Keras
    averages the map, as in the original: (mean BCE + 1 − Dice) / 2.
    """
    return 0.5 * (_bce_map(y_true, y_pred) + dice_loss(y_true, y_pred))


def bce_iou_loss(y_true, y_pred):
    """(mean BCE + iou_loss) / 2, a scalar."""
    return 0.5 * (ops.mean(_bce_map(y_true, y_pred)) + iou_loss(y_true, y_pred))


def ssim_loss(y_true, y_pred):
    """1 − SSIM per image (11×11 Gaussian window, σ 1.5, max value 1)."""
    # keras.ops has no SSIM; TensorFlow's is the one the original used.
    import tensorflow as tf

    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    return 1.0 - tf.image.ssim(y_true, y_pred, max_val=1.0)


def basnet_hybrid_loss(y_true, y_pred):
    """(mean BCE + ssim_loss + iou_loss) / 3."""
    bce = ops.mean(_bce_map(y_true, y_pred))
    return (bce + ssim_loss(y_true, y_pred) + iou_loss(y_true, y_pred)) / 3.0


def sensitivity(y_true, y_pred):
    """True-positive rate with predictions rounded at 0.5."""
    y, p = _flat(y_true, y_pred)
    true_positives = ops.sum(ops.round(ops.clip(y * p, 0.0, 1.0)))
    positives = ops.sum(ops.round(ops.clip(y, 0.0, 1.0)))
    return true_positives / (positives + EPSILON)


def specificity(y_true, y_pred):
    """True-negative rate with predictions rounded at 0.5."""
    y, p = _flat(y_true, y_pred)
    true_negatives = ops.sum(ops.round(ops.clip((1 - y) * (1 - p), 0.0, 1.0)))
    negatives = ops.sum(ops.round(ops.clip(1 - y, 0.0, 1.0)))
    return true_negatives / (negatives + EPSILON)


# Names a config may use for `loss` or in `metrics`: the original's, and the
# Keras built-ins its configs name (logged under these same names).
FUNCTIONS = {
    f.__name__: f
    for f in (
        bce_dice_loss,
        dice_loss,
        iou_loss,
        bce_iou_loss,
        basnet_hybrid_loss,
        dice_coef,
        iou_coef,
        sensitivity,
        specificity,
        keras.losses.binary_crossentropy,
        keras.metrics.binary_accuracy,
    )
}


def get(name: str):
    """The function `name` refers to.

    Raises:
        KeyError: with a message listing the known names.
    """
    if name in FUNCTIONS:
        return FUNCTIONS[name]
    close = difflib.get_close_matches(str(name), list(FUNCTIONS), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise KeyError(f"unknown name; {hint}known: {', '.join(FUNCTIONS)}")
