"""benchmarks/learn_real_anatomy.py --config: a project's config measured on a patient split."""

import os
import sys

from conftest import REPO

from ConfigParser import ConfigParser

sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import learn_real_anatomy  # noqa: E402

RECOMMENDED = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Pancreas-T1",
                           "train_eval_infer_recommended.config")


def test_a_project_config_is_pointed_at_the_split_and_keeps_every_other_value(tmp_path):
    text, eval_dir = learn_real_anatomy.project_config(RECOMMENDED, str(tmp_path / "data"))
    measured = ConfigParser.from_string(text).to_dict()
    original = ConfigParser(RECOMMENDED).to_dict()
    assert eval_dir == "./eval_recommended"
    for split, section in (("train", "train"), ("valid", "eval"), ("test", "test")):
        for kind in ("images", "masks"):
            key = "image_datapath" if kind == "images" else "mask_datapath"
            assert measured[section][key] == str(tmp_path / "data" / split / kind)
            measured[section][key] = original[section][key]
    assert measured["infer"]["images_dir"] == str(tmp_path / "data" / "test" / "images")
    measured["infer"]["images_dir"] = original["infer"]["images_dir"]
    assert measured == original


def test_crop_splits_by_patient_into_the_centred_squares(tmp_path):
    import cv2
    import numpy as np

    source = tmp_path / "source"
    for kind in ("images", "masks"):
        (source / kind).mkdir(parents=True)
    rows = np.arange(64, dtype=np.uint8)[:, None].repeat(64, axis=1)  # intensity = row index
    for v in range(1, 5):
        mask = np.zeros((64, 64), np.uint8)
        mask[28:36, 28:36] = 200
        mask[27, 28:36] = 100  # fringe: background to the dataset, foreground if a PNG kept it
        for s in (10, 11):
            cv2.imwrite(str(source / "images" / f"P_{v:04d}-{s}.jpg"), np.dstack([rows] * 3))
            cv2.imwrite(str(source / "masks" / f"P_{v:04d}-{s}.png"), mask)
    parts = learn_real_anatomy.split(str(source), str(tmp_path / "data"), 1, 1, crop=32)
    assert parts == {"train": ["P_0001", "P_0002"], "valid": ["P_0003"], "test": ["P_0004"]}
    image = cv2.imread(str(tmp_path / "data" / "test" / "images" / "P_0004-10.png"), 0)
    jpeg = cv2.imread(str(source / "images" / "P_0004-10.jpg"), 0)
    np.testing.assert_array_equal(image, jpeg[16:48, 16:48])  # the decoded pixels, losslessly
    mask = cv2.imread(str(tmp_path / "data" / "train" / "masks" / "P_0001-11.png"), 0)
    assert mask.shape == (32, 32) and set(np.unique(mask)) == {0, 255} and np.count_nonzero(mask) == 64
