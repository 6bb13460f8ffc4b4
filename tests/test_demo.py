"""The demo project: its config is the Pancreas-T1 config sized for a CPU."""

import os
import re

from conftest import PANCREAS_CONFIG, REPO

from ConfigParser import ConfigParser

DEMO = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Demo")
ALLOWED = {
    ("model", "image_width"), ("model", "image_height"), ("model", "num_layers"),
    ("model", "base_kernels"), ("model", "dilation"), ("model", "base_filters"),
    ("model", "learning_rate"), ("train", "batch_size"), ("train", "epochs"),
    ("tiledinfer", "split_size"), ("tiledinfer", "overlapping"),
}
# The recommended config's levers (docs/accuracy.md), which the demo uses because they help it.
LEVERS_CHANGED = {("model", "normalization"), ("train", "reducer_factor"), ("train", "reducer_patience")}
LEVERS_ADDED = {("image", "normalize"), ("train", "cache")}


def test_demo_config_keeps_every_key_and_changes_only_cpu_sizes_levers_and_paths():
    original = ConfigParser(PANCREAS_CONFIG).to_dict()
    demo_path = os.path.join(DEMO, "train_eval_infer.config")
    demo = ConfigParser(demo_path).to_dict()
    assert all(k in demo[s] for s in original for k in original[s])
    added = {(s, k) for s in demo for k in demo[s] if k not in original.get(s, {})}
    assert added == LEVERS_ADDED
    changed = {(s, k) for s in original for k in original[s] if original[s][k] != demo[s][k]}
    paths = {(s, k) for s, k in changed if k.endswith("_datapath")}
    assert changed - paths <= ALLOWED | LEVERS_CHANGED
    assert all(demo[s][k].startswith("../../../dataset/Demo-T1/") for s, k in paths)
    assert demo["image"]["normalize"] == "zscore" and demo["model"]["normalization"] is True
    with open(demo_path) as f:
        header = "\n".join(line for line in f.read().split("\n[model]\n")[0].splitlines() if line.startswith(";"))
    for section, key in (changed - paths) | added:  # the comment at the top lists each change
        assert re.search(rf"\[{section}\].*\b{key}\b", header), (section, key)


def test_demo_project_has_the_step_scripts():
    for step in ("1.train", "2.evaluate", "3.infer"):
        assert os.access(os.path.join(DEMO, step + ".sh"), os.X_OK)
        assert os.path.isfile(os.path.join(DEMO, step + ".bat"))
