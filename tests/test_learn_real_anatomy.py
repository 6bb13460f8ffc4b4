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
