"""Losses and metrics of the original toolkit, as plain functions (docs/differences.md, M3, M8),
and the categorical ones multi-class segmentation needs.

Dice and IoU are computed over the whole batch tensor, flattened, exactly as
the original does: they are batch-level scores, not per-image means. Each
function casts to float32 first so that mixed-precision predictions are
scored in full precision.

Masks arrive as class maps (B, H, W, 1): 0/1, or 0…N−1 for N classes. With
an N-channel prediction (`[model] num_classes = N > 1`) the map is one-hot
encoded first (`targets`), so binary losses apply per channel (multi-label,
sigmoid outputs), and `dice_coef`, `iou_coef`, `sensitivity` and
`specificity` become the mean over the foreground classes 1…N−1: existing
`[model] metrics` keep their names and meaning.

`[model] loss` and `[model] metrics` name these functions; `get(name)`
resolves a name, and the metric is logged under the function's own name
(`dice_coef`, `val_dice_coef`, ...).
"""

import difflib

import keras
from keras import ops

SMOOTH = 1.0  # the original's Dice smoothing
EPSILON = 1e-7  # keras.backend.epsilon(), the original's ε in sensitivity


def targets(y_true, y_pred):
    """float32 (y_true, y_pred) with y_true one-hot when y_pred has N > 1 channels."""
    y_true = ops.cast(y_true, "float32")
    channels = y_pred.shape[-1]
    if channels is not None and channels > 1 and y_true.shape[-1] == 1:
        y_true = ops.one_hot(ops.cast(ops.squeeze(y_true, -1), "int32"), channels)
    return y_true, ops.cast(y_pred, "float32")


def _flat(y, p):
    return ops.reshape(y, [-1]), ops.reshape(p, [-1])


def _foreground_mean(score, y_true, y_pred):
    """score(y, p) for one channel; for N channels the mean over channels 1…N−1."""
    y, p = targets(y_true, y_pred)
    channels = p.shape[-1]
    if channels is None or channels == 1:
        return score(y, p)
    return ops.mean(ops.stack([score(y[..., k], p[..., k]) for k in range(1, channels)]))


def _dice(y, p):
    y, p = _flat(y, p)
    return (2.0 * ops.sum(y * p) + SMOOTH) / (ops.sum(y) + ops.sum(p) + SMOOTH)


def dice_coef(y_true, y_pred):
    """(2·Σ(y·p) + 1) / (Σy + Σp + 1) over the batch (per foreground class, averaged)."""
    return _foreground_mean(_dice, y_true, y_pred)


def dice_loss(y_true, y_pred):
    return 1.0 - dice_coef(y_true, y_pred)


def _iou(y, p):
    y, p = _flat(y, p)
    intersection = ops.sum(y * p)
    union = ops.sum(y + p - y * p)
    return ops.where(union > 0, intersection / ops.maximum(union, EPSILON), 1.0)


def iou_coef(y_true, y_pred):
    """Σ(y·p) / Σ(y + p − y·p) over the batch, 1 when both are empty.

    The original has no smoothing and returns NaN for an all-empty batch,
    which poisons a loss; an empty prediction of an empty mask is perfect.
    """
    return _foreground_mean(_iou, y_true, y_pred)


def iou_loss(y_true, y_pred):
    return 1.0 - iou_coef(y_true, y_pred)


def _bce_map(y_true, y_pred):
    """Per-pixel binary cross-entropy, averaged over the channel axis."""
    return keras.losses.binary_crossentropy(*targets(y_true, y_pred))


def binary_crossentropy(y_true, y_pred):
    """Keras's, on one-hot targets for N channels (per-channel, multi-label)."""
    return _bce_map(y_true, y_pred)


def binary_accuracy(y_true, y_pred):
    """Keras's: the share of (p > 0.5) == y, over every channel."""
    return keras.metrics.binary_accuracy(*targets(y_true, y_pred))


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
    y, p = targets(y_true, y_pred)
    # keras.ops.image.ssim (Keras >= 3.15) runs on every backend and equals tf.image.ssim,
    # the original's, to float32 round-off; older Keras has none, so SSIM needs the TF backend there.
    ssim = getattr(ops.image, "ssim", None)
    if ssim is None:
        import tensorflow as tf

        ssim = tf.image.ssim
    return 1.0 - ssim(y, p, max_val=1.0)


def basnet_hybrid_loss(y_true, y_pred):
    """(mean BCE + ssim_loss + iou_loss) / 3."""
    bce = ops.mean(_bce_map(y_true, y_pred))
    return (bce + ssim_loss(y_true, y_pred) + iou_loss(y_true, y_pred)) / 3.0


def _sensitivity(y, p):
    y, p = _flat(y, p)
    true_positives = ops.sum(ops.round(ops.clip(y * p, 0.0, 1.0)))
    positives = ops.sum(ops.round(ops.clip(y, 0.0, 1.0)))
    return true_positives / (positives + EPSILON)


def sensitivity(y_true, y_pred):
    """True-positive rate with predictions rounded at 0.5."""
    return _foreground_mean(_sensitivity, y_true, y_pred)


def _specificity(y, p):
    y, p = _flat(y, p)
    true_negatives = ops.sum(ops.round(ops.clip((1 - y) * (1 - p), 0.0, 1.0)))
    negatives = ops.sum(ops.round(ops.clip(1 - y, 0.0, 1.0)))
    return true_negatives / (negatives + EPSILON)


def specificity(y_true, y_pred):
    """True-negative rate with predictions rounded at 0.5."""
    return _foreground_mean(_specificity, y_true, y_pred)


# === Categorical (softmax over N = num_classes channels, class 0 = background) ===


def categorical_crossentropy(y_true, y_pred):
    """Per-pixel cross-entropy of the softmax output against the one-hot map."""
    return keras.losses.categorical_crossentropy(*targets(y_true, y_pred))


def sparse_categorical_crossentropy(y_true, y_pred):
    """The same cross-entropy, taking the (B, H, W, 1) class map directly."""
    return keras.losses.sparse_categorical_crossentropy(
        ops.cast(y_true, "int32"), ops.cast(y_pred, "float32")
    )


def categorical_dice_loss(y_true, y_pred):
    """1 − the mean batch Dice over all N classes, background included.

    Averaging over every class (as segmentation_models' DiceLoss does by
    default) keeps the loss defined when a batch lacks a foreground class.
    """
    y, p = targets(y_true, y_pred)
    scores = [_dice(y[..., k], p[..., k]) for k in range(p.shape[-1])]
    return 1.0 - ops.mean(ops.stack(scores))


def class_dice_coef(k: int):
    """The batch Dice of class `k` alone, logged as `dice_coef_class<k>`."""

    def metric(y_true, y_pred):
        y, p = targets(y_true, y_pred)
        return _dice(y[..., k], p[..., k])

    metric.__name__ = f"dice_coef_class{k}"
    return metric


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
        binary_crossentropy,
        binary_accuracy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        categorical_dice_loss,
    )
}
# Losses for a softmax output over N > 1 classes; the others are binary.
CATEGORICAL = ("categorical_crossentropy", "sparse_categorical_crossentropy", "categorical_dice_loss")


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
