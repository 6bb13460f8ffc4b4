"""segmentation_metrics: hand-worked values, the empty-mask conventions, and agreement with MedPy 0.5.2."""

import inspect

import numpy as np
import pytest
from scipy import ndimage, stats

import segmentation_metrics as sm


@pytest.fixture(scope="module")
def medpy():
    # scripts/test.sh installs medpy; a skip here means it could not even be imported.
    return pytest.importorskip("medpy.metric.binary", reason="medpy==0.5.2 (test-only reference) is not importable")


def blobs(shape, density, seed, sigma=2.0):
    """Smooth blobs: Gaussian-filtered noise above the quantile that leaves `density` of the voxels on."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), sigma)
    return noise > np.quantile(noise, 1 - density)


def speckle(shape, density, seed):
    return np.random.default_rng(seed).random(shape) < density


def hand_made_pairs():
    square = np.zeros((30, 30), bool)
    square[5:15, 5:15] = True
    shifted = np.roll(square, (3, 7), axis=(0, 1))
    ring = np.zeros((30, 30), bool)
    ring[8:22, 8:22] = True
    ring[12:18, 12:18] = False  # a hole: its rim is surface too
    edge = np.zeros((30, 30), bool)
    edge[:, :6] = True  # touches three image edges: surface there, as MedPy's erosion sees it
    two = np.zeros((30, 30), bool)
    two[2:5, 2:5] = two[20:28, 18:29] = True
    cube = np.zeros((8, 16, 16), bool)
    cube[2:6, 4:12, 4:12] = True
    return [
        (square, shifted),
        (square, ring),
        (ring, edge),
        (two, square),
        (edge, edge),
        (cube, np.roll(cube, (1, 2, -1), axis=(0, 1, 2))),
    ]


def random_pairs():
    pairs = []
    for shape in [(40, 50), (12, 20, 24)]:
        for seed, density in enumerate([0.02, 0.1, 0.3, 0.6]):
            truth = blobs(shape, density, seed)
            pairs.append((blobs(shape, density * 1.3, seed + 100), truth))  # overlapping blobs
            pairs.append((speckle(shape, density, seed + 200), truth))  # scattered voxels, many surfaces
    return pairs


def spacings(ndim):
    return [None, (0.7, 1.3)] if ndim == 2 else [None, (2.5, 0.7, 0.7), (0.7, 0.7, 2.5)]


def assert_agrees_with_medpy(medpy, prediction, truth, case):
    assert prediction.any() and truth.any(), case
    tp, fp, fn, tn = sm.confusion(prediction, truth)
    assert (tp, fp, fn, tn) == (
        np.sum(prediction & truth),
        np.sum(prediction & ~truth),
        np.sum(~prediction & truth),
        np.sum(~prediction & ~truth),
    ), case
    scores = sm.overlap_scores(tp, fp, fn, tn)
    assert scores["dice"] == pytest.approx(medpy.dc(prediction, truth), abs=1e-6), case
    assert scores["iou"] == pytest.approx(medpy.jc(prediction, truth), abs=1e-6), case
    assert scores["sensitivity"] == pytest.approx(medpy.sensitivity(prediction, truth), abs=1e-6), case
    assert scores["specificity"] == pytest.approx(medpy.specificity(prediction, truth), abs=1e-6), case
    assert scores["precision"] == pytest.approx(medpy.precision(prediction, truth), abs=1e-6), case
    for spacing in spacings(prediction.ndim):
        hd95, assd = sm.surface_distances(prediction, truth, spacing)
        where = f"{case}, spacing {spacing}"
        assert hd95 == pytest.approx(medpy.hd95(prediction, truth, voxelspacing=spacing), abs=1e-6), where
        assert assd == pytest.approx(medpy.assd(prediction, truth, voxelspacing=spacing), abs=1e-6), where
        assert (hd95, assd) == pytest.approx(sm.surface_distances(truth, prediction, spacing), abs=1e-9), where


# One test per family, not per pair: conftest's per-test Keras clear_session costs ~0.3 s each.
def test_hand_made_masks_agree_with_medpy(medpy):
    for index, (prediction, truth) in enumerate(hand_made_pairs()):
        assert_agrees_with_medpy(medpy, prediction, truth, f"hand-made pair {index}")


def test_random_masks_agree_with_medpy(medpy):
    for index, (prediction, truth) in enumerate(random_pairs()):
        assert_agrees_with_medpy(medpy, prediction, truth, f"random pair {index}, shape {truth.shape}")


def test_small_masks_in_a_large_slice_agree_with_medpy(medpy):
    # The bounding-box shortcut on the case it is for: a 512² slice, masks far from the edges.
    truth = np.zeros((512, 512), bool)
    truth[300:318, 200:230] = blobs((18, 30), 0.5, 1, sigma=1.5)
    prediction = np.roll(truth, (2, -3), axis=(0, 1))
    prediction[250, 400] = True  # a stray pixel far from the truth
    spacing = (0.8, 0.6)
    hd95, assd = sm.surface_distances(prediction, truth, spacing)
    assert hd95 == pytest.approx(medpy.hd95(prediction, truth, voxelspacing=spacing), abs=1e-6)
    assert assd == pytest.approx(medpy.assd(prediction, truth, voxelspacing=spacing), abs=1e-6)


def test_two_pixels_three_apart():
    a = np.zeros((7, 9), bool)
    b = np.zeros((7, 9), bool)
    a[3, 2] = b[3, 5] = True
    assert sm.surface_distances(a, b) == (3.0, 3.0)
    assert sm.surface_distances(a, b, spacing=(2.0, 0.5)) == (1.5, 1.5)  # 3 px along axis 1 at 0.5 units
    assert sm.confusion(a, b) == (0, 1, 1, 61)


def test_assd_pools_both_directions():
    # A 3-px bar against its first pixel: bar -> pixel 0, 1, 2; pixel -> bar 0. MedPy 0.5.2 pools the
    # four distances (mean 0.75), not the two directed means ((1 + 0) / 2).
    bar = np.zeros((5, 7), bool)
    bar[2, 2:5] = True
    dot = np.zeros((5, 7), bool)
    dot[2, 2] = True
    hd95, assd = sm.surface_distances(bar, dot)
    assert assd == pytest.approx(0.75)
    assert hd95 == pytest.approx(1.85)  # sorted (0, 0, 1, 2), position 0.95 * 3 = 2.85 -> 1 + 0.85
    assert sm.overlap_scores(*sm.confusion(bar, dot))["dice"] == pytest.approx(2 / 4)


def test_surface_of_a_mask_touching_the_edge():
    # Beyond the array is background: the full 3x3 mask is all surface but its centre, as in MedPy.
    full = np.ones((3, 3), bool)
    centre = np.zeros((3, 3), bool)
    centre[1, 1] = True
    hd95, assd = sm.surface_distances(full, centre)
    # full's 8 rim pixels -> centre: 4 at 1, 4 at √2; centre -> rim: 1.
    pooled = np.array([1] * 4 + [np.sqrt(2)] * 4 + [1])
    assert assd == pytest.approx(pooled.mean())
    assert hd95 == pytest.approx(np.percentile(pooled, 95))


def test_both_masks_empty():
    empty = np.zeros((4, 5, 6), bool)
    assert sm.confusion(empty, empty) == (0, 0, 0, 120)
    assert sm.overlap_scores(0, 0, 0, 120) == {
        "dice": 1.0,
        "iou": 1.0,
        "sensitivity": None,
        "specificity": 1.0,
        "precision": None,
    }
    assert sm.overlap_scores(0, 0, 0, 0)["specificity"] is None
    assert sm.surface_distances(empty, empty, spacing=(1, 2, 3)) == (0.0, 0.0)


def test_one_mask_empty():
    empty = np.zeros((6, 6), bool)
    some = empty.copy()
    some[1:3, 1:4] = True
    missed = sm.overlap_scores(*sm.confusion(empty, some))  # nothing predicted
    assert missed == {"dice": 0.0, "iou": 0.0, "sensitivity": 0.0, "specificity": 1.0, "precision": None}
    spurious = sm.overlap_scores(*sm.confusion(some, empty))  # prediction where there is nothing
    assert spurious == {"dice": 0.0, "iou": 0.0, "sensitivity": None, "specificity": 30 / 36, "precision": 0.0}
    assert sm.surface_distances(empty, some) == (None, None)
    assert sm.surface_distances(some, empty) == (None, None)


def test_identical_masks():
    mask = blobs((20, 20, 20), 0.2, 3)
    assert sm.surface_distances(mask, mask, (0.7, 0.7, 2.5)) == (0.0, 0.0)
    assert sm.overlap_scores(*sm.confusion(mask, mask))["dice"] == 1.0


def test_rejects_mismatched_shapes_and_spacing():
    with pytest.raises(ValueError, match="shape"):
        sm.confusion(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="spacing"):
        sm.surface_distances(np.ones((4, 4)), np.ones((4, 4)), spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        sm.surface_distances(np.ones((4, 4)), np.ones((4, 4)), spacing=(1.0, 0.0))


def test_bootstrap_ci_is_seeded_and_holds_the_mean():
    values = np.random.default_rng(0).normal(0.7, 0.1, 200)
    ci = sm.bootstrap_ci(values, seed=5)
    assert ci == sm.bootstrap_ci(list(values), seed=5)
    assert ci != sm.bootstrap_ci(values, seed=6)
    low, high = ci
    assert low < values.mean() < high
    # The percentile interval of a mean is close to the normal one, mean ± 1.96 SE.
    assert high - low == pytest.approx(2 * 1.96 * values.std(ddof=1) / np.sqrt(200), rel=0.15)
    narrow_low, narrow_high = sm.bootstrap_ci(values, seed=5, level=0.5)
    assert low < narrow_low < narrow_high < high


@pytest.mark.parametrize("size, seed, n, level", [(37, 5, 1000, 0.95), (12, 9, 500, 0.8)])
def test_bootstrap_ci_matches_scipy_percentile_bootstrap(size, seed, n, level):
    # scipy.stats.bootstrap draws its resamples from the generator in the same way, so one seed gives one
    # interval in both; the keyword that takes the generator was renamed in scipy 1.15.
    values = np.random.default_rng(size).normal(0.7, 0.1, size)
    keyword = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
    reference = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=n,
        confidence_level=level,
        method="percentile",
        **{keyword: np.random.default_rng(seed)},
    ).confidence_interval
    assert sm.bootstrap_ci(values, seed, n=n, level=level) == pytest.approx((reference.low, reference.high), abs=1e-12)


def test_bootstrap_ci_few_values():
    assert sm.bootstrap_ci([], seed=0) is None
    assert sm.bootstrap_ci([None, None], seed=0) is None
    assert sm.bootstrap_ci([0.4, None], seed=0) == (0.4, 0.4)
    assert sm.bootstrap_ci([0.3, 0.3, 0.3], seed=0) == pytest.approx((0.3, 0.3))
    low, high = sm.bootstrap_ci([0.0, 1.0], seed=0)
    assert 0.0 <= low < 0.5 < high <= 1.0


def test_describe():
    summary = sm.describe([0.5, None, 0.9, 0.6, 0.8, None], seed=1)
    assert summary["mean"] == pytest.approx(0.7)
    assert summary["median"] == pytest.approx(0.7)
    assert summary["std"] == pytest.approx(np.sqrt(0.1 / 3))  # sample SD: squared deviations 0.1, over n - 1
    assert (summary["n"], summary["n_undefined"]) == (4, 2)
    low, high = summary["ci95"]
    assert 0.5 <= low < 0.7 < high <= 0.9
    assert summary == sm.describe((v for v in [0.5, None, 0.9, 0.6, 0.8, None]), seed=1)


def test_describe_few_values():
    one = sm.describe([0.4], seed=0)
    assert one == {"mean": 0.4, "median": 0.4, "std": None, "ci95": [0.4, 0.4], "n": 1, "n_undefined": 0}
    none = sm.describe([None, None], seed=0)
    assert none == {"mean": None, "median": None, "std": None, "ci95": None, "n": 0, "n_undefined": 2}
