"""Segmentation metrics of binary masks as plain NumPy/SciPy functions, shared by the evaluator and the report.

No TensorFlow: these score masks already thresholded and saved, per image or per volume. The Keras metrics
of training (losses.py) are batch-level and stay separate.

Overlap scores come from the confusion counts. Surface distances follow MedPy 0.5.2
(`medpy.metric.binary.hd95` and `assd`, checked against it in tests/test_segmentation_metrics.py):
  - a mask's surface is the mask minus its binary erosion with the connectivity-1 cross, voxels beyond the
    array edge counting as background (so a mask touching the edge has surface there);
  - the directed distances are, for each surface voxel of one mask, the Euclidean distance (in `spacing`
    units) to the nearest surface voxel of the other;
  - HD95 is the 95th percentile (linear interpolation) of both directed sets pooled, and ASSD is the mean of
    the pooled set, so the larger surface weighs more (MedPy < 0.5 took the mean of the two directed means).
"""

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

Spacing = Sequence[float] | None


def _masks(prediction, truth) -> tuple[np.ndarray, np.ndarray]:
    prediction = np.asarray(prediction, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} differ in shape")
    if prediction.ndim == 0:
        raise ValueError("masks must have at least one axis")
    return prediction, truth


def confusion(prediction, truth) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) pixel/voxel counts of two boolean arrays of one shape (2-D or 3-D)."""
    prediction, truth = _masks(prediction, truth)
    tp = int(np.count_nonzero(prediction & truth))
    fp = int(np.count_nonzero(prediction)) - tp
    fn = int(np.count_nonzero(truth)) - tp
    return tp, fp, fn, prediction.size - tp - fp - fn


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def overlap_scores(tp: int, fp: int, fn: int, tn: int) -> dict[str, float | None]:
    """{"dice", "iou", "sensitivity", "specificity", "precision"} from counts.

    Both masks empty (tp + fp + fn == 0): dice = iou = 1 (a correct empty prediction, as MedPy). A ratio
    whose denominator is 0 is None (undefined), where MedPy would give 0: sensitivity when tp + fn == 0,
    precision when tp + fp == 0, specificity when tn + fp == 0.
    """
    union = tp + fp + fn
    return {
        "dice": 2 * tp / (union + tp) if union else 1.0,
        "iou": tp / union if union else 1.0,
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
    }


def _sampling(spacing: Spacing, ndim: int) -> np.ndarray | None:
    if spacing is None:
        return None
    sampling = np.asarray(spacing, dtype=np.float64)
    if sampling.shape != (ndim,) or not np.all(sampling > 0):
        raise ValueError(f"spacing {spacing!r} must be {ndim} positive numbers, one per axis")
    return sampling


def _surface(mask: np.ndarray, cross: np.ndarray) -> np.ndarray:
    # border_value=0 (the default, as in MedPy): beyond the array edge is background.
    return mask ^ ndimage.binary_erosion(mask, structure=cross, iterations=1)


def surface_distances(prediction, truth, spacing: Spacing = None) -> tuple[float | None, float | None]:
    """(hd95, assd) of two boolean arrays (2-D or 3-D) in the units of `spacing`.

    `spacing` is one size per axis (e.g. mm per voxel as (z, y, x) for a (z, y, x) array); None is 1 per
    axis, i.e. pixels. Both masks empty: (0.0, 0.0); exactly one empty: (None, None), undefined.
    """
    prediction, truth = _masks(prediction, truth)
    sampling = _sampling(spacing, prediction.ndim)
    has_prediction, has_truth = bool(prediction.any()), bool(truth.any())
    if not (has_prediction or has_truth):
        return 0.0, 0.0
    if not (has_prediction and has_truth):
        return None, None

    # Work on the bounding box of the union only (a 512² slice with a small pancreas costs a few hundred
    # pixels, not 512²). The result is exactly that of the whole array:
    #   - erosion: outside the box both masks are background, which is also what border_value=0 assumes
    #     beyond the cropped edge, so every voxel of the box has the same neighbourhood values and the
    #     surfaces are the same voxels (voxels outside the box are background, hence never surface);
    #   - distances: scipy's EDT is exact, the distance to the nearest zero of ~surface, i.e. to the nearest
    #     surface voxel; all surface voxels lie in the box, so the minimum is over the same set of offsets.
    box = ndimage.find_objects((prediction | truth).astype(np.uint8))[0]
    prediction, truth = prediction[box], truth[box]

    cross = ndimage.generate_binary_structure(prediction.ndim, 1)
    prediction_surface = _surface(prediction, cross)
    truth_surface = _surface(truth, cross)
    to_truth = ndimage.distance_transform_edt(~truth_surface, sampling=sampling)[prediction_surface]
    to_prediction = ndimage.distance_transform_edt(~prediction_surface, sampling=sampling)[truth_surface]
    pooled = np.concatenate([to_truth, to_prediction])
    return float(np.percentile(pooled, 95)), float(pooled.mean())


def _defined(values) -> np.ndarray:
    return np.asarray([v for v in values if v is not None], dtype=np.float64)


def bootstrap_ci(values, seed: int, n: int = 1000, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean of `values` (None entries skipped).

    `n` resamples drawn with numpy's default_rng(seed), so a seed gives one interval. None for no values;
    (v, v) for one.
    """
    # By hand rather than scipy.stats.bootstrap(method="percentile"), whose intervals these equal draw for
    # draw (tests): its generator keyword was renamed (random_state -> rng, scipy 1.15) inside the range
    # requirements.txt allows, and it refuses a single value; the method itself is three lines.
    data = _defined(values)
    if data.size == 0:
        return None
    if data.size == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n, data.size))].mean(axis=1)
    tail = 50 * (1 - level)
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def describe(values, seed: int) -> dict:
    """{"mean", "median", "std", "ci95": [lo, hi], "n", "n_undefined"} of per-case scores.

    None entries (an undefined score, e.g. HD95 with one mask empty) are counted in n_undefined and skipped.
    std is the sample standard deviation (ddof=1), what papers report as mean ± SD; None below 2 values.
    ci95 is `bootstrap_ci(values, seed)`; mean, median and ci95 are None without values.
    """
    values = list(values)
    data = _defined(values)
    ci = bootstrap_ci(data, seed)
    return {
        "mean": float(data.mean()) if data.size else None,
        "median": float(np.median(data)) if data.size else None,
        "std": float(data.std(ddof=1)) if data.size > 1 else None,
        "ci95": list(ci) if ci is not None else None,
        "n": int(data.size),
        "n_undefined": len(values) - int(data.size),
    }
