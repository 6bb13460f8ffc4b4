"""`[infer] largest_component`: the helper (src/postprocess.py), 2.evaluate after it, 3.infer's masks and volumes."""

import json
import os

import cv2
import nibabel as nib
import numpy as np
import pytest
from conftest import config_text, small_model_section
from test_case_evaluation import SIZE, LabelModel, MapModel, map_of, read_csv, square, write_slice
from test_volume_inference import RAS, GreyThreshold, expected_labels, save_volume, smooth_volume

from CaseEvaluator import PER_IMAGE_FILE, PER_VOLUME_FILE, SUMMARY_FILE, CaseEvaluator
from ConfigParser import ConfigParser
from ImageMaskDataset import ImageMaskDataset
from Inferencer import Inferencer
from postprocess import FACES, largest_component, largest_component_per_class, neighbours
from VolumeInferencer import VolumeInferencer


def tube_and_decoy(slices=5, shape=(20, 20)):
    """A 3×3 tube through every slice (9·slices voxels) and, on the middle slice only, a 5×5 decoy
    (25 voxels): per slice the decoy is larger there, in 3-D the tube is."""
    volume = np.zeros((slices, *shape), bool)
    volume[:, 2:5, 2:5] = True
    volume[slices // 2, 10:15, 10:15] = True
    return volume


def test_3d_keeps_the_tube_and_2d_keeps_the_larger_decoy_on_its_slice():
    volume = tube_and_decoy()
    tube = volume.copy()
    tube[:, 10:15, 10:15] = False
    kept = largest_component(volume)
    assert kept.dtype == bool and kept.shape == volume.shape
    np.testing.assert_array_equal(kept, tube)
    per_slice = np.stack([largest_component(s) for s in volume])
    assert per_slice[2, 10:15, 10:15].all() and not per_slice[2, 2:5, 2:5].any()  # the decoy wins in 2-D
    np.testing.assert_array_equal(np.delete(per_slice, 2, 0), np.delete(tube, 2, 0))
    assert not np.array_equal(per_slice, kept)


def test_empty_stays_empty_and_one_component_is_unchanged():
    for shape in ((8, 8), (3, 8, 8)):
        assert not largest_component(np.zeros(shape, np.uint8)).any()
    one = square(4, 4, 8)
    np.testing.assert_array_equal(largest_component(one.astype(np.uint8) * 255), one)
    with pytest.raises(ValueError, match="2-D or 3-D"):
        largest_component(np.zeros(8))


def test_full_connectivity_joins_diagonal_neighbours_faces_do_not():
    mask = np.zeros((6, 6), bool)
    mask[0:2, 0:2] = True  # 4 pixels
    mask[2:5, 2:5] = True  # 9 pixels, touching the first at one corner
    assert largest_component(mask).sum() == 13
    assert largest_component(mask, FACES).sum() == 9
    assert (neighbours(2), neighbours(3), neighbours(3, FACES)) == (8, 26, 6)


def test_each_class_keeps_its_own_largest_component():
    labels = np.zeros((12, 12), np.uint8)
    labels[0:4, 0:4] = 1  # 16
    labels[8:9, 8:9] = 1  # a speck of class 1
    labels[0:2, 8:12] = 2  # 8
    labels[6:12, 0:3] = 2  # 18: class 2's largest
    kept = largest_component_per_class(labels)
    assert kept.dtype == np.uint8
    assert (kept == 1).sum() == 16 and kept[8, 8] == 0
    assert (kept == 2).sum() == 18 and not kept[0:2, 8:12].any()
    volume = np.stack([labels, labels])  # 3-D too
    np.testing.assert_array_equal(largest_component_per_class(volume), np.stack([kept, kept]))


# --- 2.evaluate ---------------------------------------------------------------------------------------


def evaluate(tmp_path, split, largest, model=None, num_classes=1):
    sections = {
        "model": small_model_section(SIZE, num_classes=num_classes,
                                     **({"loss": "categorical_crossentropy"} if num_classes > 1 else {})),
        "train": {"seed": 137, "image_datapath": str(tmp_path / "nowhere/images")},
        "infer": {"largest_component": largest},
        "test": {"image_datapath": os.path.join(split, "images"), "mask_datapath": os.path.join(split, "masks")},
    }
    config = ConfigParser.from_string(config_text(sections), str(tmp_path / "case.config"))
    dataset = ImageMaskDataset(config)
    summary = CaseEvaluator(config, dataset, model or MapModel(), "test").evaluate(dataset.pairs("test"))
    return summary, read_csv(PER_IMAGE_FILE), read_csv(PER_VOLUME_FILE)


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_false_positive_speck_is_dropped_before_scoring(workdir):
    split = str(workdir / "split/test")
    truth = square(4, 4, 10)
    write_slice(split, "1000_0", map_of(truth | square(24, 24, 2)), truth)  # a 2×2 false-positive speck
    write_slice(split, "1001_0", map_of(square(6, 6, 8)), square(6, 6, 8))
    off, images_off, _ = evaluate(workdir, split, False)
    on, images_on, volumes_on = evaluate(workdir, split, True)
    assert off["largest_component"] is False
    assert images_off[0]["fp"] == "4" and images_on[0]["fp"] == "0"
    assert on["images"]["dice"]["mean"] == 1.0 > off["images"]["dice"]["mean"]
    assert on["volumes"]["dice"]["mean"] > off["volumes"]["dice"]["mean"]
    assert on["largest_component"]["how"] == "2-D per image"  # one slice a volume (two ids: no volume ids)
    assert on["largest_component"]["connectivity"] == {"2-D": 8, "3-D": 26}
    assert volumes_on[0]["fp"] == "0"


def write_tube_and_decoy(split, name, indices):
    """Slices of `tube_and_decoy` (the truth: the tube) at the given slice numbers, two volumes."""
    volume = tube_and_decoy(len(indices), (SIZE, SIZE))
    truth = np.zeros_like(volume)
    truth[:, 2:5, 2:5] = True
    for s, index in enumerate(indices):
        write_slice(split, f"{name}_{index}", map_of(volume[s]), truth[s])


def test_contiguous_volumes_are_post_processed_in_3d_sparse_ones_per_image(workdir):
    split = str(workdir / "split/test")
    write_tube_and_decoy(split, "1000", [0, 1, 2, 3, 4])  # contiguous
    write_tube_and_decoy(split, "1001", [0, 1, 2, 3, 4])
    summary, images, volumes = evaluate(workdir, split, True)
    assert summary["largest_component"]["how"] == "3-D per volume"
    assert summary["largest_component"]["volumes_3d"] == 2
    assert all(v["dice"] == "1.000000" and v["fp"] == "0" for v in volumes)
    assert all(r["fp"] == "0" for r in images)
    for r in images:  # the per-image rows sum to the per-volume ones
        assert r["tp"] == "9"
    # Sparse slice numbers: per image, where the decoy is the larger component of its slice.
    split = str(workdir / "split/sparse")
    write_tube_and_decoy(split, "2000", [0, 2, 4, 6, 8])
    write_tube_and_decoy(split, "2001", [0, 1, 2, 3, 4])
    summary, images, volumes = evaluate(workdir, split, True)
    assert summary["largest_component"]["how"] == "3-D per volume where contiguous, else 2-D per image"
    assert (summary["largest_component"]["volumes_3d"], summary["largest_component"]["volumes_2d"]) == (1, 1)
    sparse, whole = volumes
    assert sparse["note"] == "sparse" and (sparse["fp"], sparse["fn"]) == ("25", "9")
    assert (whole["fp"], whole["fn"], whole["dice"]) == ("0", "0", "1.000000")
    middle = {r["image"]: r for r in images}["2000_4.png"]
    assert (middle["tp"], middle["fp"], middle["fn"]) == ("0", "25", "9")


def test_several_classes_keep_each_class_largest_component(workdir):
    split = str(workdir / "split/test")
    one, speck, two = square(2, 2, 6), square(20, 2, 2), square(16, 16, 8)
    for kind, array in (("images", map_of(one | speck, 100) + map_of(two, 200)),
                        ("masks", one.astype(np.uint8) + 2 * two.astype(np.uint8))):
        os.makedirs(os.path.join(split, kind), exist_ok=True)
        for name in ("1000_0", "1000_1", "1001_0"):  # two volume ids: names carry volumes
            cv2.imwrite(os.path.join(split, kind, name + ".png"), array)
    off, _, _ = evaluate(workdir, split, False, LabelModel(), num_classes=3)
    on, images, _ = evaluate(workdir, split, True, LabelModel(), num_classes=3)
    assert off["classes"]["1"]["images"]["dice"]["mean"] < 1.0
    assert on["classes"]["1"]["images"]["dice"]["mean"] == 1.0 == on["classes"]["2"]["images"]["dice"]["mean"]
    assert on["largest_component"]["how"] == "3-D per volume where contiguous, else 2-D per image"
    recorded = json.load(open(SUMMARY_FILE))["largest_component"]
    assert (recorded["volumes_3d"], recorded["volumes_2d"]) == (1, 1)  # 1001 has one slice
    assert [r["class"] for r in images] == ["1", "2"] * 3


# --- 3.infer --------------------------------------------------------------------------------------------


def infer_setup(tmp_path, picture, infer, num_classes=1):
    folder = tmp_path / "images"
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "a.png"), picture)
    model = small_model_section(SIZE, num_classes=num_classes,
                                **({"loss": "categorical_crossentropy"} if num_classes > 1 else {}))
    sections = {
        "model": model,
        "infer": {"images_dir": str(folder), "output_dir": str(tmp_path / "out"), **infer},
        "segmentation": {"colorize": False},
    }
    return ConfigParser.from_string(config_text(sections), "i.config")


@pytest.mark.parametrize("binarize", [True, False], ids=["binarized", "soft"])
def test_infer_writes_masks_without_the_speck(tmp_path, binarize):
    blob, speck = square(4, 4, 10), square(24, 24, 3)
    picture = map_of(blob | speck, 230)
    for largest in (False, True):
        config = infer_setup(tmp_path, picture, {"binarize": binarize, "largest_component": largest})
        [path] = Inferencer(MapModel(), config).infer()
        mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        assert mask[4:14, 4:14].min() > 150
        if largest:
            assert mask[22:29, 22:29].max() < 30  # gone (a JPEG mask: allow ringing)
        else:
            assert mask[24:27, 24:27].min() > 150


def test_infer_keeps_each_class_largest_component_in_label_maps(tmp_path):
    one, speck, two = square(2, 2, 6), square(24, 2, 3), square(16, 16, 8)
    picture = map_of(one | speck, 100) + map_of(two, 200)
    config = infer_setup(tmp_path, picture, {"largest_component": True}, num_classes=3)
    [path] = Inferencer(LabelModel(), config).infer()
    labels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert path.endswith(".png") and labels.shape == (SIZE, SIZE)
    assert (labels[2:8, 2:8] == 1).all() and (labels[16:24, 16:24] == 2).all()
    assert not labels[24:27, 2:5].any()  # class 1's speck is background now


def test_volumes_keep_the_largest_3d_component(tmp_path):
    data = smooth_volume()  # a blob and a smaller bar
    save_volume(tmp_path / "volumes", "case_01.nii.gz", data, RAS)
    sections = {
        "model": small_model_section(48),
        "dataset": {"image_normalize": True},
        "infer": {"volumes_dir": str(tmp_path / "volumes"), "output_dir": str(tmp_path / "out"),
                  "volume_size": 0, "largest_component": True},
    }
    config = ConfigParser.from_string(config_text(sections), str(tmp_path / "v.config"))
    [written] = VolumeInferencer(Inferencer(GreyThreshold(), config), config).infer()
    labels = np.asarray(nib.load(written).dataobj)
    raw = expected_labels(data)
    assert (labels != raw).any() and labels.sum() > 0.5 * raw.sum()
    assert raw[27:34, 10:19].all() and not labels[27:34, 10:19].any()  # the bar was dropped, the blob kept
    # Full connectivity does not depend on the axis order or direction: the stored order gives the same.
    np.testing.assert_array_equal(labels, largest_component(raw).astype(np.uint8))
