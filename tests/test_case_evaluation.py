"""2.evaluate's per-image and per-volume metrics, summary, threshold sweep and worst cases (CaseEvaluator)."""

import csv
import json
import os

import cv2
import numpy as np
import pytest
from conftest import config_text, small_model_section

from CaseEvaluator import (
    PER_IMAGE_FILE,
    PER_VOLUME_FILE,
    SUMMARY_FILE,
    WORST_DIR,
    CaseEvaluator,
    probability_at,
)
from ConfigParser import ConfigParser
from errors import ConfigError
from ImageMaskDataset import ImageMaskDataset
from segmentation_metrics import describe, surface_distances
from slice_manifest import slice_spacings
from volume_ids import slice_index

SIZE = 32


class MapModel:
    """Predicts the image itself: grey value / 255 is the probability (images are not normalised)."""

    def predict_on_batch(self, x):
        return np.asarray(x, np.float32)[..., :1] / 255.0


def square(top, left, side, shape=(SIZE, SIZE)):
    mask = np.zeros(shape, bool)
    mask[top : top + side, left : left + side] = True
    return mask


def write_slice(split, name, probability_map, truth):
    """`split/images/<name>.png` holds the predicted map (0-255), `split/masks/<name>.png` the truth (0/255)."""
    for kind, array in (("images", probability_map), ("masks", truth.astype(np.uint8) * 255)):
        os.makedirs(os.path.join(split, kind), exist_ok=True)
        cv2.imwrite(os.path.join(split, kind, name + ".png"), np.asarray(array, np.uint8))


def map_of(mask, value=255):
    return mask.astype(np.uint8) * value


def make_evaluator(tmp_path, test_dir, seed=137, eval_dir=None, **eval_keys):
    sections = {
        "model": small_model_section(SIZE),
        "train": {"seed": seed, "image_datapath": str(tmp_path / "nowhere/images")},
        "eval": dict(eval_keys),
        "test": {"image_datapath": os.path.join(test_dir, "images"), "mask_datapath": os.path.join(test_dir, "masks")},
    }
    if eval_dir:
        sections["eval"].update(image_datapath=os.path.join(eval_dir, "images"),
                                mask_datapath=os.path.join(eval_dir, "masks"))
    path = tmp_path / "case.config"
    path.write_text(config_text(sections))
    config = ConfigParser(str(path))
    dataset = ImageMaskDataset(config)
    return CaseEvaluator(config, dataset, MapModel(), "test"), dataset.pairs("test")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(cell):
    return None if cell == "" else float(cell)


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_per_image_rows_follow_the_conventions(workdir):
    split = str(workdir / "split/test")
    truth = square(4, 4, 8)
    write_slice(split, "1000_0", map_of(square(4, 6, 8)), truth)  # shifted by 2 columns
    write_slice(split, "1000_1", map_of(np.zeros((SIZE, SIZE))), np.zeros((SIZE, SIZE), bool))  # both empty
    write_slice(split, "1000_2", map_of(np.zeros((SIZE, SIZE))), truth)  # prediction empty
    evaluator, pairs = make_evaluator(workdir, split)
    evaluator.evaluate(pairs)
    rows = {row["image"]: row for row in read_csv(PER_IMAGE_FILE)}
    with open(PER_IMAGE_FILE) as f:
        header = f.readline().strip().split(",")
    assert header == ["image", "volume", "foreground_pixels", "tp", "fp", "fn", "dice", "iou", "sensitivity",
                      "specificity", "precision", "hd95_px", "assd_px"]  # no spacing known: no mm columns
    shifted = rows["1000_0.png"]
    assert (shifted["volume"], shifted["foreground_pixels"], shifted["tp"], shifted["fp"], shifted["fn"]) == (
        "1000", "64", "48", "16", "16")
    assert shifted["dice"] == "0.750000" and shifted["iou"] == f"{48 / 80:.6f}"
    assert shifted["specificity"] == f"{(SIZE * SIZE - 80) / (SIZE * SIZE - 64):.6f}"
    hd95, assd = surface_distances(square(4, 6, 8), truth)
    assert shifted["hd95_px"] == f"{hd95:.6f}" and shifted["assd_px"] == f"{assd:.6f}"
    empty = rows["1000_1.png"]
    assert (empty["dice"], empty["iou"], empty["hd95_px"], empty["assd_px"]) == ("1.000000",) * 2 + ("0.000000",) * 2
    assert empty["sensitivity"] == "" and empty["precision"] == ""  # undefined: empty cells
    missed = rows["1000_2.png"]
    assert (missed["dice"], missed["hd95_px"], missed["assd_px"], missed["precision"]) == ("0.000000", "", "", "")
    summary = json.load(open(SUMMARY_FILE))
    assert summary["counts"]["both_empty"] == 1 and summary["counts"]["prediction_empty"] == 1
    assert summary["images"]["dice"]["n"] == 3  # the Dice-0 row counts
    assert summary["images"]["hd95_px"]["n_undefined"] == 1
    assert os.path.isfile("evaluation_per_volume.csv")


def test_probability_maps_are_resized_bicubically_to_the_masks_size_and_clipped():
    rng = np.random.default_rng(0)
    p = rng.uniform(-0.2, 1.2, (16, 16, 1)).astype(np.float32)
    resized = probability_at(p, (24, 40))
    assert resized.shape == (24, 40) and resized.min() >= 0 and resized.max() <= 1
    from PIL import Image
    expected = np.clip(np.asarray(Image.fromarray(p[..., 0]).resize((40, 24), Image.BICUBIC)), 0, 1)
    np.testing.assert_allclose(resized, expected)


def tube(s):
    """Slice s of a square tube that moves 2 columns per slice."""
    return square(6, 2 * s, 4)


def test_volumes_order_slices_by_index_not_by_file_name(workdir):
    # Names sort 1, 10, 2, 3, …: the 3-D distances differ when the slices are stacked in that order.
    split = str(workdir / "split/test")
    for s in range(1, 11):
        write_slice(split, f"1000_{s}", map_of(tube(s) if s != 10 else np.zeros((SIZE, SIZE))), tube(s))
    write_slice(split, "1001_3", map_of(square(2, 2, 6)), square(3, 3, 6))
    evaluator, pairs = make_evaluator(workdir, split)
    assert [os.path.basename(p[0]) for p in pairs][:3] == ["1000_1.png", "1000_10.png", "1000_2.png"]
    evaluator.evaluate(pairs)
    volume = {row["volume"]: row for row in read_csv(PER_VOLUME_FILE)}["1000"]
    ordered = range(1, 11)
    truth = np.stack([tube(s) for s in ordered])
    prediction = np.stack([tube(s) if s != 10 else np.zeros((SIZE, SIZE), bool) for s in ordered])
    hd95, assd = surface_distances(prediction, truth)
    by_name = [1, 10, 2, 3, 4, 5, 6, 7, 8, 9]
    wrong = surface_distances(prediction[[s - 1 for s in by_name]], truth[[s - 1 for s in by_name]])
    assert round(wrong[0], 6) != round(hd95, 6)
    assert (volume["slices"], volume["hd95"], volume["assd"], volume["note"]) == ("10", f"{hd95:.6f}",
                                                                                 f"{assd:.6f}", "")
    images = read_csv(PER_IMAGE_FILE)
    for name, row in {row["volume"]: row for row in read_csv(PER_VOLUME_FILE)}.items():
        tp, fp, fn = (sum(int(r[k]) for r in images if r["volume"] == name) for k in ("tp", "fp", "fn"))
        assert (int(row["tp"]), int(row["fp"]), int(row["fn"])) == (tp, fp, fn)
        assert row["dice"] == f"{2 * tp / (2 * tp + fp + fn):.6f}"


def test_sparse_volumes_have_no_3d_distances_and_the_summary_takes_the_slice_mean(workdir):
    split = str(workdir / "split/test")
    for s in (1, 2, 5):
        write_slice(split, f"2000_{s}", map_of(square(4, 4 + s, 6)), square(4, 4, 6))
    write_slice(split, "2001_0", map_of(square(4, 4, 6)), square(4, 4, 6))  # two ids: names carry volumes
    evaluator, pairs = make_evaluator(workdir, split)
    summary = evaluator.evaluate(pairs)
    volume, whole = read_csv(PER_VOLUME_FILE)
    assert (volume["note"], volume["hd95"], volume["assd"]) == ("sparse", "", "")
    assert (whole["note"], whole["hd95"]) == ("one slice", "0.000000")
    per_slice = [number(r["hd95_px"]) for r in read_csv(PER_IMAGE_FILE) if r["volume"] == "2000"]
    assert summary["volumes"]["hd95"]["mean"] == pytest.approx((np.mean(per_slice) + 0) / 2)
    assert summary["counts"]["volumes_sparse"] == 1


def test_spacing_from_the_manifest_above_the_split_gives_mm(workdir):
    split = str(workdir / "split/test")
    names = [f"3000_{s}" for s in range(3)]
    for s, name in enumerate(names):
        write_slice(split, name, map_of(square(4, 4 + s, 6)), square(4, 4, 6))
    with open(workdir / "split/manifest.csv", "w", newline="") as f:  # where split_master writes it
        writer = csv.writer(f)
        writer.writerow(["image", "volume", "slice", "spacing_x_mm", "spacing_y_mm", "spacing_z_mm", "square_side",
                         "size", "rotation", "normalize", "split"])
        for s, name in enumerate(names):  # 0.75 mm voxels, a 64-pixel square resized to 32: 1.5 mm pixels
            writer.writerow([name + ".png", "3000", s, 0.75, 0.75, 3.0, 64, SIZE, 270, True, "test"])
        writer.writerow(["3001_0.png", "3001", 0, 0.75, 0.75, 3.0, 64, SIZE, 270, True, "test"])
    write_slice(split, "3001_0", map_of(square(4, 4, 6)), square(4, 4, 6))
    evaluator, pairs = make_evaluator(workdir, split)
    summary = evaluator.evaluate(pairs)
    for row in read_csv(PER_IMAGE_FILE):
        if row["hd95_px"]:
            assert number(row["hd95_mm"]) == pytest.approx(1.5 * number(row["hd95_px"]), abs=1e-5)
            assert number(row["assd_mm"]) == pytest.approx(1.5 * number(row["assd_px"]), abs=1e-5)
    truth = np.stack([square(4, 4, 6)] * 3)
    prediction = np.stack([square(4, 4 + s, 6) for s in range(3)])
    hd95, _ = surface_distances(prediction, truth, (3.0, 1.5, 1.5))
    assert read_csv(PER_VOLUME_FILE)[0]["hd95"] == f"{hd95:.6f}"
    assert summary["volume_distance_unit"] == "mm"


def test_manifest_spacing_follows_the_rotation_for_anisotropic_voxels(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text("image,spacing_x_mm,spacing_y_mm,spacing_z_mm,square_side,size,rotation\n"
                    "a_1.png,1.0,2.0,5.0,100,50,0\nb_1.png,1.0,2.0,5.0,100,50,90\nold_1.png,1.0,2.0,5.0,,50,0\n")
    spacings = slice_spacings(str(path))
    assert spacings["a_1.png"] == (2.0, 4.0, 5.0, 50)  # rows along x, columns along y, × 100 / 50
    assert spacings["b_1.png"] == (4.0, 2.0, 5.0, 50)  # a quarter turn swaps them
    assert "old_1.png" not in spacings  # no square_side: resize factor unknown


def test_the_converter_records_the_square_side_the_spacing_needs(tmp_path):
    import split_master
    from ImageMaskDatasetGenerator import ImageMaskDatasetGenerator
    from synthetic_phantoms import write_phantoms

    write_phantoms(str(tmp_path / "nifti"), count=2, seed=5, shape=(48, 40, 8))
    ImageMaskDatasetGenerator(size=32).generate(
        str(tmp_path / "nifti/imagesTr"), str(tmp_path / "nifti/labelsTr"), str(tmp_path / "master"), progress=False)
    split_master.split_master(str(tmp_path / "master"), str(tmp_path / "split"), seed=1)
    rows = read_csv(tmp_path / "split/manifest.csv")
    assert rows and {r["square_side"] for r in rows} == {"48"}  # max(48, 40), before the resize to 32
    spacings = slice_spacings(str(tmp_path / "split/manifest.csv"))
    row = rows[0]
    rows_mm, cols_mm = float(row["spacing_y_mm"]), float(row["spacing_x_mm"])  # rotation 270: swapped
    assert spacings[row["image"]] == pytest.approx((rows_mm * 48 / 32, cols_mm * 48 / 32,
                                                    float(row["spacing_z_mm"]), 32))


def test_summary_statistics_are_seeded_with_the_train_seed(workdir):
    split = str(workdir / "split/test")
    for s in range(6):
        write_slice(split, f"{4000 + s}_0", map_of(square(4, 4 + s, 8)), square(4, 4, 8))
    evaluator, pairs = make_evaluator(workdir, split, seed=7)
    summary = evaluator.evaluate(pairs)
    dice = [number(r["dice"]) for r in read_csv(PER_IMAGE_FILE)]
    expected = describe(dice, 7)
    assert summary["images"]["dice"]["ci95"] == pytest.approx(expected["ci95"], abs=1e-6)
    assert summary["images"]["dice"]["mean"] == pytest.approx(np.mean(dice), abs=1e-6)
    assert set(summary) >= {"images", "volumes", "threshold", "model", "config_sha256", "toolkit"}
    assert set(summary["volumes"]) == {"dice", "iou", "hd95", "assd"}
    assert set(summary["images"]["dice"]) >= {"mean", "median", "std", "ci95", "n_undefined"}
    assert summary["model"] == "TensorflowUNet" and summary["threshold"] == 0.5
    import hashlib
    assert summary["config_sha256"] == hashlib.sha256((workdir / "case.config").read_bytes()).hexdigest()


def test_the_threshold_sweep_chooses_on_validation_never_on_test(workdir):
    core, ring = square(8, 8, 8), square(6, 6, 12) & ~square(8, 8, 8)
    # Probabilities: core 0.8, ring 0.302. Validation's truth includes the ring (best: t <= 0.3), test's does not
    # (best: t >= 0.4).
    probabilities = map_of(core, 204) + map_of(ring, 77)
    for s in range(3):
        write_slice(str(workdir / "split/valid"), f"5000_{s}", probabilities, core | ring)
        write_slice(str(workdir / "split/test"), f"6000_{s}", probabilities, core)
    evaluator, pairs = make_evaluator(workdir, str(workdir / "split/test"), eval_dir=str(workdir / "split/valid"),
                                      threshold_sweep=True)
    sweep = evaluator.evaluate(pairs)["threshold_sweep"]
    assert sweep["best"] == 0.3  # ties among 0.1-0.3 go to the one nearest 0.5
    assert sweep["validation"]["0.3"] == 1.0 and sweep["validation"]["0.5"] < 1.0
    assert sweep["test_dice_at_best"] == pytest.approx(2 * 64 / (64 + 144))


def test_worst_cases_outline_truth_and_prediction(workdir):
    split = str(workdir / "split/test")
    write_slice(split, "7000_0", map_of(square(4, 4, 8)), square(4, 4, 8))  # perfect: never a worst case
    write_slice(split, "7001_0", map_of(square(4, 4, 8)), square(4, 8, 8))
    write_slice(split, "7001_1", map_of(square(4, 4, 8)), square(4, 20, 8))  # the most wrong slice
    (workdir / WORST_DIR).mkdir()
    (workdir / WORST_DIR / "keep.txt").write_text("a file of the user's")
    evaluator, pairs = make_evaluator(workdir, split, worst_cases=2)
    evaluator.evaluate(pairs)
    assert sorted(os.listdir(WORST_DIR)) == ["7001_7001_1.png", "keep.txt"]
    picture = cv2.imread(os.path.join(WORST_DIR, "7001_7001_1.png"))
    assert picture.shape == (SIZE, SIZE, 3)
    assert tuple(picture[4, 24]) == (0, 255, 0)  # truth outline, green
    assert tuple(picture[4, 6]) == (0, 0, 255)  # prediction outline, red


class LabelModel:
    """Three classes from the image: grey < 50 background, < 150 class 1, else class 2 (one-hot)."""

    def predict_on_batch(self, x):
        grey = np.asarray(x, np.float32)[..., 0]
        return np.stack([grey < 50, (grey >= 50) & (grey < 150), grey >= 150], axis=-1).astype(np.float32)


def test_several_classes_are_scored_one_by_one(workdir):
    split = str(workdir / "split/test")
    one, two, two_predicted = square(2, 2, 6), square(16, 16, 8), square(16, 18, 8)
    for kind, array in (("images", map_of(one, 100) + map_of(two_predicted, 200)),
                        ("masks", one.astype(np.uint8) + 2 * two.astype(np.uint8))):
        os.makedirs(os.path.join(split, kind), exist_ok=True)
        for name in ("1000_0", "1001_0"):
            cv2.imwrite(os.path.join(split, kind, name + ".png"), array)
    sections = {"model": small_model_section(SIZE, num_classes=3, loss="categorical_crossentropy"),
                "test": {"image_datapath": os.path.join(split, "images"),
                         "mask_datapath": os.path.join(split, "masks")}}
    config = ConfigParser.from_string(config_text(sections), "multi.config")
    dataset = ImageMaskDataset(config)
    summary = CaseEvaluator(config, dataset, LabelModel(), "test").evaluate(dataset.pairs("test"))
    rows = read_csv(PER_IMAGE_FILE)
    assert [(r["image"], r["class"]) for r in rows] == [("1000_0.png", "1"), ("1000_0.png", "2"),
                                                         ("1001_0.png", "1"), ("1001_0.png", "2")]
    assert rows[0]["dice"] == "1.000000" and rows[1]["dice"] == f"{2 * 48 / (64 + 64):.6f}"
    assert list(read_csv(PER_VOLUME_FILE)[0])[:3] == ["volume", "class", "slices"]
    assert summary["classes"]["1"]["volumes"]["dice"]["mean"] == 1.0
    assert summary["classes"]["2"]["images"]["dice"]["mean"] == pytest.approx(0.75)
    assert summary["threshold"] is None
    # Two names, two ids: no volume ids, so each unit is named by its stem.
    assert sorted(os.listdir(WORST_DIR)) == ["1000_0_1000_0_class2.png", "1001_0_1001_0_class2.png"]


@pytest.mark.parametrize("key, value", [("threshold", 1.5), ("worst_cases", -1), ("pixel_spacing", (0, 1)),
                                        ("threshold_sweep", 1)])
def test_bad_eval_values_name_the_key(tmp_path, key, value):
    with pytest.raises(ConfigError, match=rf"\[eval\] {key}"):
        ConfigParser.from_string(config_text({"eval": {key: value}}), "bad.config")


def test_a_missing_manifest_is_named(workdir):
    split = str(workdir / "split/test")
    write_slice(split, "1000_0", map_of(square(4, 4, 8)), square(4, 4, 8))
    with pytest.raises(ConfigError, match=r"\[eval\] manifest = .*nowhere.csv.*does not exist"):
        make_evaluator(workdir, split, manifest=str(workdir / "nowhere.csv"))


def test_slice_index_reads_the_number_after_the_separator():
    assert [slice_index(n) for n in ("PANCREAS_0001-1106.jpg", "10003_21.jpg", "scan.jpg", "a_b.png")] == [
        1106, 21, None, None]


class CornerModel:
    """Predicts the top-left quadrant whatever the image: mirroring moves it to the other three."""

    def predict_on_batch(self, x):
        out = np.zeros((*np.shape(x)[:3], 1), np.float32)
        out[:, : SIZE // 2, : SIZE // 2] = 1.0
        return out


def test_infer_mirror_averages_the_four_mirrorings_before_scoring(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    split = str(tmp_path / "split/test")
    truth = square(0, 0, SIZE // 2)
    write_slice(split, "1000_0", map_of(truth), truth)
    summaries = []
    for mirror in (False, True):
        sections = {
            "model": small_model_section(SIZE),
            "train": {"seed": 137, "image_datapath": str(tmp_path / "nowhere/images")},
            "infer": {"mirror": mirror},
            "test": {"image_datapath": os.path.join(split, "images"), "mask_datapath": os.path.join(split, "masks")},
        }
        config = ConfigParser.from_string(config_text(sections), str(tmp_path / "case.config"))
        dataset = ImageMaskDataset(config)
        summaries.append(CaseEvaluator(config, dataset, CornerModel(), "test").evaluate(dataset.pairs("test")))
        assert summaries[-1]["mirror"] is mirror
    plain, mirrored = summaries
    assert plain["images"]["dice"]["mean"] == 1.0
    # 1/4 everywhere after averaging: below the 0.5 threshold, so nothing is predicted
    assert mirrored["images"]["dice"]["mean"] == 0.0
