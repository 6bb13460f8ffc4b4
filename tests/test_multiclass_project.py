"""The Demo-MultiClass project folder's own scripts, run as a researcher runs
them: `./1.train.sh && ./2.evaluate.sh && ./3.infer.sh` from a copy of the
folder, on a tiny generated 3-class dataset (0 background, 1 disc, 2 square).

The copy lives in a temporary repository-shaped tree (its `../../../src` and
`../../../scripts` are this repository's), and the dataset is generated at the
config's own `../../../dataset/Demo-T1-MultiClass/...` paths there, so the
config differs from the shipped one only in image size, depth, epochs and
batch size.
"""

import filecmp
import math
import os
import re
import shutil
import subprocess
import sys

import cv2
import matplotlib
import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from ConfigParser import ConfigParser

PROJECT = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Demo-MultiClass")
DEMO = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Demo")
DATASET = "Demo-T1-MultiClass"
SHIPPED = ("train_eval_infer.config",) + tuple(
    f"{step}.{ext}" for step in ("1.train", "2.evaluate", "3.infer") for ext in ("sh", "bat")
)
# [mask] mask_colors is not set, so the pictures use black, then tab10's first colours.
PALETTE = {(0, 0, 0)} | {
    tuple(int(255 * v) for v in matplotlib.colormaps["tab10"](k)[:3]) for k in range(2)
}


def make_pair(rng, width, height):
    """A grey image (as BGR) with a bright disc and a mid-grey square, and its label mask."""
    size = min(width, height)
    for _ in range(100):
        radius = int(rng.integers(size // 10, size // 6))
        side = int(rng.integers(size // 5, size // 3))
        cx, cy = (int(v) for v in rng.integers(radius + 2, (width - radius - 2, height - radius - 2)))
        sx, sy = (int(v) for v in rng.integers(2, (width - side - 2, height - side - 2)))
        # keep the two shapes apart (with a gap) so each class is present whole
        nearest_x, nearest_y = min(max(cx, sx), sx + side), min(max(cy, sy), sy + side)
        if math.hypot(cx - nearest_x, cy - nearest_y) > radius + 3:
            break
    mask = np.zeros((height, width), np.uint8)
    cv2.circle(mask, (cx, cy), radius, 1, -1)
    cv2.rectangle(mask, (sx, sy), (sx + side - 1, sy + side - 1), 2, -1)
    image = rng.normal(50, 10, (height, width))
    image[mask == 1] += 150
    image[mask == 2] += 75
    image = cv2.cvtColor(image.clip(0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return image, mask


def make_split(folder, volumes, slices, seed, first_volume=0, size=(64, 64)):
    """`folder/images/<volume>_<slice>.jpg` and `folder/masks/<volume>_<slice>.png` (labels 0/1/2)."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    os.makedirs(os.path.join(folder, "masks"), exist_ok=True)
    for v in range(first_volume, first_volume + volumes):
        for s in range(slices):
            image, mask = make_pair(rng, *size)
            cv2.imwrite(os.path.join(folder, "images", f"{1000 + v}_{s}.jpg"), image)
            cv2.imwrite(os.path.join(folder, "masks", f"{1000 + v}_{s}.png"), mask)


def make_tree(root, size=64, num_layers=3, epochs=2, batch_size=2):
    """root/{src,scripts} (links), root/dataset/Demo-T1-MultiClass and a copy of the project.

    Returns the project folder and the names of its mini_test images.
    """
    for shared in ("src", "scripts"):
        os.symlink(os.path.join(REPO, shared), os.path.join(root, shared))
    dataset = os.path.join(root, "dataset", DATASET)
    make_split(os.path.join(dataset, "train"), volumes=3, slices=4, seed=11, first_volume=0)
    make_split(os.path.join(dataset, "valid"), volumes=1, slices=4, seed=12, first_volume=3)
    make_split(os.path.join(dataset, "test"), volumes=1, slices=4, seed=13, first_volume=4)

    folder = os.path.join(root, "projects", "TensorflowSlightlyFlexibleUNet", "Demo-MultiClass")
    os.makedirs(folder)
    for name in SHIPPED:  # the shipped files only, not the outputs of a local demo run
        shutil.copy2(os.path.join(PROJECT, name), folder)
    # Two inference images of another size than the model's: outputs come back at this size.
    # Their true masks (mini_test/masks, which 3.infer does not read) score the class maps.
    make_split(os.path.join(folder, "mini_test"), volumes=1, slices=2, seed=14, first_volume=5,
               size=(80, 72))

    path = os.path.join(folder, "train_eval_infer.config")
    with open(path) as f:
        text = f.read()
    for old, new in [
        ("image_width    = 128", f"image_width    = {size}"),
        ("image_height   = 128", f"image_height   = {size}"),
        ("num_layers     = 5", f"num_layers     = {num_layers}"),
        ("epochs        = 12", f"epochs        = {epochs}"),
        ("batch_size    = 4", f"batch_size    = {batch_size}"),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    with open(path, "w") as f:
        f.write(text)
    return folder, sorted(os.listdir(os.path.join(folder, "mini_test", "images")))


def run_steps(folder):
    env = dict(os.environ, PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3")
    for step in ("./1.train.sh", "./2.evaluate.sh", "./3.infer.sh"):
        result = subprocess.run(step, shell=True, cwd=folder, env=env, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, f"{step}:\n" + result.stdout[-3000:] + result.stderr[-3000:]


def read_evaluation(folder) -> dict[str, float]:
    with open(os.path.join(folder, "evaluation.csv")) as f:
        lines = f.read().splitlines()
    rows = [line.split(",") for line in lines]
    assert [row[0] for row in rows] == ["loss", "dice_coef", "dice_coef_class1", "dice_coef_class2"], lines
    scores = {}
    for name, value in rows:
        number = float(value)
        assert math.isfinite(number) and round(number, 4) == number, (name, value)
        assert len(value.partition(".")[2]) <= 4, (name, value)
        scores[name] = number
    for name in ("dice_coef", "dice_coef_class1", "dice_coef_class2"):
        assert 0.0 <= scores[name] <= 1.0, (name, scores[name])
    return scores


def check_outputs(folder, infer_images, epochs):
    stems = [os.path.splitext(n)[0] for n in infer_images]
    sizes = {}
    for name in infer_images:
        with Image.open(os.path.join(folder, "mini_test", "images", name)) as image:
            sizes[os.path.splitext(name)[0]] = image.size

    assert sorted(os.listdir(os.path.join(folder, "mini_test_output"))) == sorted(s + ".png" for s in stems)
    for stem in stems:
        with Image.open(os.path.join(folder, "mini_test_output", stem + ".png")) as picture:
            assert picture.mode == "L" and picture.size == sizes[stem], (stem, picture.mode, picture.size)
            labels = np.asarray(picture)
        assert set(np.unique(labels).tolist()) <= {0, 1, 2}, (stem, np.unique(labels))

    assert sorted(os.listdir(os.path.join(folder, "mini_test_colorized"))) == sorted(s + ".png" for s in stems)
    for stem in stems:
        with Image.open(os.path.join(folder, "mini_test_colorized", stem + ".png")) as picture:
            assert picture.mode == "RGB" and picture.size == sizes[stem], (stem, picture.mode, picture.size)
            colours = {tuple(c) for c in np.unique(np.asarray(picture).reshape(-1, 3), axis=0).tolist()}
        assert colours <= PALETTE, (stem, colours - PALETTE)

    previews = sorted(os.listdir(os.path.join(folder, "epoch_change_infer")))
    assert previews == sorted(f"Epoch_{e}_{stem}.png" for e in range(1, epochs + 1) for stem in stems)


def test_multiclass_config_is_the_demo_config_with_the_listed_changes():
    demo = ConfigParser(os.path.join(DEMO, "train_eval_infer.config")).to_dict()
    path = os.path.join(PROJECT, "train_eval_infer.config")
    config = ConfigParser(path).to_dict()
    added = {(s, k) for s in config for k in config[s] if k not in demo.get(s, {})}
    assert added == {("infer", "mask_colorize"), ("infer", "colorized_dir")}
    assert all(k in config[s] for s in demo for k in demo[s])
    changed = {(s, k) for s in demo for k in demo[s] if demo[s][k] != config[s][k]}
    paths = {(s, k) for s, k in changed if k.endswith("_datapath")}
    assert changed - paths == {("model", "num_classes"), ("model", "loss"), ("segmentation", "colorize")}
    assert all(config[s][k].startswith(f"../../../dataset/{DATASET}/") for s, k in paths)
    assert config["model"]["num_classes"] == 3 and config["mask"].get("mask_colors") is None
    assert config["infer"]["mask_colorize"] is True and config["segmentation"]["colorize"] is False
    with open(path) as f:
        header = "\n".join(line for line in f.read().split("\n[model]\n")[0].splitlines() if line.startswith(";"))
    for section, key in (changed - paths) | added:  # the comment at the top lists each change
        assert re.search(rf"\[{section}\].*\b{key}\b", header), (section, key)
    for name in SHIPPED[1:]:  # the Demo's step scripts, unchanged
        assert filecmp.cmp(os.path.join(PROJECT, name), os.path.join(DEMO, name), shallow=False), name
        if name.endswith(".sh"):
            assert os.access(os.path.join(PROJECT, name), os.X_OK), name


def test_multiclass_project_scripts_on_generated_images(tmp_path):
    folder, infer_images = make_tree(str(tmp_path), size=64, num_layers=3, epochs=2, batch_size=2)
    run_steps(folder)
    assert os.path.isfile(os.path.join(folder, "models", "best_model.weights.h5"))
    read_evaluation(folder)
    check_outputs(folder, infer_images, epochs=2)


def label_map_dice(folder, infer_images) -> dict[int, float]:
    """Per-class Dice of 3.infer's class maps against mini_test's true masks, over all images."""
    overlap, total = np.zeros(3), np.zeros(3)
    for name in infer_images:
        stem = os.path.splitext(name)[0]
        truth = cv2.imread(os.path.join(folder, "mini_test", "masks", stem + ".png"), cv2.IMREAD_UNCHANGED)
        predicted = np.asarray(Image.open(os.path.join(folder, "mini_test_output", stem + ".png")))
        for k in (1, 2):
            overlap[k] += 2 * np.sum((truth == k) & (predicted == k))
            total[k] += np.sum(truth == k) + np.sum(predicted == k)
    return {k: round(float(overlap[k] / max(total[k], 1)), 4) for k in (1, 2)}


@pytest.mark.slow
def test_multiclass_project_learns_both_classes(tmp_path):
    # 40 epochs of 12 single-image batches at the shipped learning rate (1e-4).
    folder, infer_images = make_tree(str(tmp_path), size=64, num_layers=4, epochs=40, batch_size=1)
    run_steps(folder)
    scores = read_evaluation(folder)
    label_dice = label_map_dice(folder, infer_images)
    print(f"test scores after 40 epochs: {scores}; mini_test class-map Dice: {label_dice}")
    assert scores["dice_coef"] > 0.5, scores
    assert scores["dice_coef_class1"] > 0.3 and scores["dice_coef_class2"] > 0.3, scores
    # The written class maps carry the classes, in the right place and order (1 disc, 2 square).
    assert label_dice[1] > 0.3 and label_dice[2] > 0.3, label_dice
