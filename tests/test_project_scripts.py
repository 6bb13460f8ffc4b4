"""The Pancreas-T1 project folder's own scripts, run as a researcher runs them:
`./1.train.sh && ./2.evaluate.sh && ./3.infer.sh && ./4.tiled_infer.sh` from a copy of the folder.

The copy lives in a temporary repository-shaped tree (its `../../../src` and
`../../../scripts` are this repository's), so the config's `../../../dataset/Pancreas-T1/...` paths
hold. Its config differs from the shipped one only in image size (and the
tiles' split_size with it), depth, epochs and (for generated data) nothing else.
"""

import ast
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, SHARED_DATA, make_split
from PIL import Image

from volume_ids import volume_id

PROJECT = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Pancreas-T1")
MINI = os.path.join(SHARED_DATA, "Pancreas-T1-mini")


def split_by_volume(source, target, valid_volumes=2, test_volumes=2):
    """Copies `source/{images,masks}` into train/valid/test, whole volumes each."""
    names = sorted(os.listdir(os.path.join(source, "images")))
    volumes = sorted({volume_id(n) for n in names})
    test = set(volumes[-test_volumes:])
    valid = set(volumes[-(test_volumes + valid_volumes) : -test_volumes])
    for name in names:
        v = volume_id(name)
        split = "test" if v in test else "valid" if v in valid else "train"
        for kind in ("images", "masks"):
            os.makedirs(os.path.join(target, split, kind), exist_ok=True)
            shutil.copy(os.path.join(source, kind, name), os.path.join(target, split, kind, name))
    return {s: sorted({volume_id(n) for n in os.listdir(os.path.join(target, s, "images"))})
            for s in ("train", "valid", "test")}


def project_copy(root, size=128, num_layers=6, epochs=2):
    """tmp/repo/projects/.../Pancreas-T1 with an edited copy of the config."""
    for shared in ("src", "scripts"):
        os.symlink(os.path.join(REPO, shared), os.path.join(root, shared))
    folder = os.path.join(root, "projects", "TensorflowSlightlyFlexibleUNet", "Pancreas-T1")
    shutil.copytree(PROJECT, folder, ignore=shutil.ignore_patterns("mini_test"))
    path = os.path.join(folder, "train_eval_infer.config")
    with open(path) as f:
        text = f.read()
    replacements = [
        ("image_width    = 512", f"image_width    = {size}"),
        ("image_height   = 512", f"image_height   = {size}"),
        ("num_layers     = 8", f"num_layers     = {num_layers}"),
        ("epochs        = 100", f"epochs        = {epochs}"),
        ("split_size  = 512", f"split_size  = {size}"),
    ]
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    with open(path, "w") as f:
        f.write(text)
    return folder


def run_steps(folder):
    env = dict(os.environ, PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3")
    command = "./1.train.sh && ./2.evaluate.sh && ./3.infer.sh && ./4.tiled_infer.sh"
    result = subprocess.run(command, shell=True, cwd=folder, env=env, capture_output=True,
                            text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def check_outputs(folder, infer_images):
    def path(*parts):
        return os.path.join(folder, *parts)

    assert os.path.isfile(path("models", "best_model.weights.h5"))  # save_weights_only = True
    for name in ("train_losses", "train_metrics"):
        with open(path("eval", name + ".csv")) as f:
            assert len(f.read().splitlines()) == 3  # header and epochs 0, 1
        assert os.path.getsize(path("eval", name + ".png")) > 0
    with open(path("history.json")) as f:
        history = ast.literal_eval(json.load(f))
    assert list(history) == ["loss", "dice_coef", "val_loss", "val_dice_coef", "lr"]
    previews = sorted(os.listdir(path("epoch_change_infer")))
    first = sorted(os.path.splitext(n)[0] for n in infer_images)[:6]
    assert previews == sorted(f"Epoch_{e}_{stem}.jpg" for e in (1, 2) for stem in first)
    with open(path("evaluation.csv")) as f:
        assert [line.split(",")[0] for line in f.read().splitlines()] == ["loss", "dice_coef"]
    test_images = sorted(os.listdir(os.path.join(folder, "..", "..", "..", "dataset", "Pancreas-T1", "test", "images")))
    with open(path("evaluation_per_image.csv")) as f:
        assert [line.split(",")[0] for line in f.read().splitlines()[1:]] == test_images
    with open(path("evaluation_summary.json")) as f:
        summary = json.load(f)
    assert summary["counts"]["images"] == len(test_images) and summary["model"] == "TensorflowUNet"
    assert os.path.isfile(path("evaluation_per_volume.csv"))
    outputs = sorted(os.listdir(path("mini_test_output")))
    assert outputs == sorted(os.path.splitext(n)[0] + ".jpg" for n in infer_images)
    assert sorted(os.listdir(path("tiled_mini_test_output"))) == sorted(infer_images)  # names kept
    for name in infer_images:
        size = Image.open(path("mini_test", "images", name)).size
        assert Image.open(path("tiled_mini_test_output", name)).size == size


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(MINI), reason=f"real sample data not found at {MINI}")
def test_pancreas_t1_project_on_the_real_mini_dataset(tmp_path):
    dataset = tmp_path / "dataset" / "Pancreas-T1"
    volumes = split_by_volume(MINI, str(dataset))
    assert not set(volumes["train"]) & (set(volumes["valid"]) | set(volumes["test"]))
    folder = project_copy(str(tmp_path))
    infer_images = os.listdir(dataset / "test" / "images")
    shutil.copytree(dataset / "test" / "images", os.path.join(folder, "mini_test", "images"))
    run_steps(folder)
    check_outputs(folder, infer_images)


def test_pancreas_t1_project_on_generated_images(tmp_path):
    dataset = tmp_path / "dataset" / "Pancreas-T1"
    make_split(str(dataset / "train"), volumes=3, slices=3, size=128, seed=5)
    make_split(str(dataset / "valid"), volumes=1, slices=2, size=128, seed=6, first_volume=3)
    make_split(str(dataset / "test"), volumes=1, slices=2, size=128, seed=7, first_volume=4)
    folder = project_copy(str(tmp_path), epochs=2)
    make_split(os.path.join(folder, "mini_test"), volumes=1, slices=7, size=96, seed=8, first_volume=5)
    run_steps(folder)
    check_outputs(folder, os.listdir(os.path.join(folder, "mini_test", "images")))


def test_the_tiled_inference_step_has_both_scripts():
    sh, bat = os.path.join(PROJECT, "4.tiled_infer.sh"), os.path.join(PROJECT, "4.tiled_infer.bat")
    assert os.access(sh, os.X_OK)
    with open(sh) as f:
        assert f.readline() == "#!/bin/sh\n" and "step.sh TensorflowUNetTiledInferencer.py" in f.read()
    with open(bat, "rb") as f:
        assert f.read() == b"python ../../../src/TensorflowUNetTiledInferencer.py ./train_eval_infer.config\r\n"
