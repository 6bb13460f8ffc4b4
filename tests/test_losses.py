"""Each loss and metric against values worked out by hand."""

import math

import numpy as np
import pytest

import losses

# One 2×2 image: y = [[1, 0], [1, 1]], p = [[0.9, 0.2], [0.6, 0.1]].
Y = np.array([[1, 0], [1, 1]], np.float32).reshape(1, 2, 2, 1)
P = np.array([[0.9, 0.2], [0.6, 0.1]], np.float32).reshape(1, 2, 2, 1)
# Σy = 3, Σp = 1.8, Σy·p = 1.6, Σ(y + p − y·p) = 3.2
BCE_PIXELS = [-math.log(0.9), -math.log(0.8), -math.log(0.6), -math.log(0.1)]
BCE_MEAN = sum(BCE_PIXELS) / 4
DICE = (2 * 1.6 + 1) / (3 + 1.8 + 1)


def value(name, y=Y, p=P):
    return float(np.mean(np.asarray(losses.get(name)(y, p))))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("dice_coef", DICE),
        ("dice_loss", 1 - DICE),
        ("iou_coef", 1.6 / 3.2),
        ("iou_loss", 1 - 1.6 / 3.2),
        ("bce_dice_loss", (BCE_MEAN + 1 - DICE) / 2),
        ("bce_iou_loss", (BCE_MEAN + 0.5) / 2),
        ("binary_crossentropy", BCE_MEAN),
        ("binary_accuracy", 3 / 4),
        # round(y·p) = [1, 0, 1, 0]: 2 of the 3 positives found.
        ("sensitivity", 2 / (3 + 1e-7)),
        # round((1−y)(1−p)) = [0, 1, 0, 0]: the one negative found.
        ("specificity", 1 / (1 + 1e-7)),
    ],
)
def test_values_on_a_small_example(name, expected):
    assert value(name) == pytest.approx(expected, rel=1e-5)


def test_bce_dice_loss_is_the_bce_map_plus_the_batch_dice_term():
    loss_map = np.asarray(losses.bce_dice_loss(Y, P))
    assert loss_map.shape == (1, 2, 2)
    expected = (np.array(BCE_PIXELS).reshape(1, 2, 2) + 1 - DICE) / 2
    np.testing.assert_allclose(loss_map, expected, rtol=1e-5)


def test_dice_is_computed_over_the_whole_batch_not_per_image():
    y = np.stack([np.ones((2, 2, 1)), np.zeros((2, 2, 1))]).astype(np.float32)
    p = np.stack([np.ones((2, 2, 1)), np.ones((2, 2, 1))]).astype(np.float32)
    # Batch: Σy = 4, Σp = 8, Σyp = 4 → (8 + 1) / (12 + 1); per-image means would give (1 + 1/9) / 2.
    assert value("dice_coef", y, p) == pytest.approx(9 / 13, rel=1e-6)


def test_empty_prediction_of_an_empty_mask_scores_perfectly():
    zeros = np.zeros((2, 4, 4, 1), np.float32)
    assert value("dice_coef", zeros, zeros) == pytest.approx(1.0)
    assert value("iou_coef", zeros, zeros) == pytest.approx(1.0)  # the original: NaN
    assert value("iou_loss", zeros, zeros) == pytest.approx(0.0)


def test_ssim_and_basnet_hybrid_loss_on_constant_images():
    y = np.ones((1, 16, 16, 1), np.float32)
    p = np.full((1, 16, 16, 1), 0.5, np.float32)
    # Constant images: SSIM = (2·1·0.5 + C1) / (1 + 0.25 + C1), C1 = (0.01·1)²;
    # the contrast term is 1 up to float32 rounding in TensorFlow's variances.
    ssim = (1 + 1e-4) / (1.25 + 1e-4)
    assert float(np.mean(losses.ssim_loss(y, p))) == pytest.approx(1 - ssim, abs=1e-3)
    # BCE = ln 2; IoU = Σ0.5 / Σ1 = 0.5.
    expected = (math.log(2) + (1 - ssim) + 0.5) / 3
    assert value("basnet_hybrid_loss", y, p) == pytest.approx(expected, abs=1e-3)


def test_inputs_of_other_dtypes_are_scored_in_float32():
    assert value("dice_coef", Y.astype(bool), P.astype(np.float16)) == pytest.approx(DICE, rel=1e-3)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="did you mean 'dice_coef'.*known: bce_dice_loss"):
        losses.get("dice_coeff")


def test_names_are_the_logged_names():
    assert all(function.__name__ == name for name, function in losses.FUNCTIONS.items())


# === Several classes ===
# One image of two pixels: classes [0, 2]; softmax outputs per pixel.
CLASSES = np.array([0, 2], np.float32).reshape(1, 1, 2, 1)
PROBABILITIES = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], np.float32).reshape(1, 1, 2, 3)
# Batch Dice per class (smoothing 1): class 0 (2·0.7 + 1) / (1 + 0.8 + 1),
# class 1 (absent) 1 / (0 + 0.5 + 1), class 2 (2·0.6 + 1) / (1 + 0.7 + 1).
CLASS_DICE = [2.4 / 2.8, 1 / 1.5, 2.2 / 2.7]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("dice_coef", (CLASS_DICE[1] + CLASS_DICE[2]) / 2),  # the foreground classes only
        ("categorical_dice_loss", 1 - sum(CLASS_DICE) / 3),  # every class
        ("categorical_crossentropy", (-math.log(0.7) - math.log(0.6)) / 2),
        ("sparse_categorical_crossentropy", (-math.log(0.7) - math.log(0.6)) / 2),
        # Per channel against the one-hot map: 6 values.
        ("binary_crossentropy", -sum(math.log(v) for v in (0.7, 0.8, 0.9, 0.9, 0.7, 0.6)) / 6),
    ],
)
def test_class_maps_are_scored_against_several_channels(name, expected):
    assert value(name, CLASSES, PROBABILITIES) == pytest.approx(expected, rel=1e-5)


def test_per_class_dice_is_logged_by_class_number():
    metric = losses.class_dice_coef(2)
    assert metric.__name__ == "dice_coef_class2"
    assert float(metric(CLASSES, PROBABILITIES)) == pytest.approx(CLASS_DICE[2], rel=1e-5)


def test_one_hot_targets_and_one_channel_masks_are_left_alone():
    y, p = losses.targets(CLASSES, PROBABILITIES)
    np.testing.assert_array_equal(np.asarray(y)[0, 0], [[1, 0, 0], [0, 0, 1]])
    y, _ = losses.targets(Y, P)
    np.testing.assert_array_equal(np.asarray(y), Y)
