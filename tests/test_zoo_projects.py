"""Each family's Pancreas-T1 project folder, run through its own scripts: 1.train, 2.evaluate, 3.infer.

The copy keeps the project's config but its [model] section becomes the
family's small 64-px one, and training runs one epoch on generated slices.
Every family is marked slow: TensorflowUNet's project, whose scripts and
outputs these share, has its own test in CI (tests/test_project_scripts.py),
each family trains in CI in tests/test_model_zoo.py, and a family's project
run cost 51 s (TensorflowSwinUNet) to 78 s (TensorflowEfficientUNet) of CI.
"""

import os
import shutil
import subprocess
import sys
import warnings

import pytest
from conftest import REPO, config_text, make_split
from test_model_zoo import small_section

from ConfigParser import ConfigParser, ConfigWarning
from ModelRegistry import MODELS

pytestmark = pytest.mark.slow


def families():
    for name in MODELS:
        if name == "TensorflowUNet":
            continue
        marks = []
        if not os.path.isdir(os.path.join(REPO, "projects", name, "Pancreas-T1")):
            marks.append(pytest.mark.skip(reason=f"projects/{name}/Pancreas-T1 does not exist"))
        yield pytest.param(name, marks=marks, id=name)


def project_copy(root: str, name: str) -> str:
    for shared in ("src", "scripts"):
        os.symlink(os.path.join(REPO, shared), os.path.join(root, shared))
    folder = os.path.join(root, "projects", name, "Pancreas-T1")
    shutil.copytree(os.path.join(REPO, "projects", name, "Pancreas-T1"), folder,
                    ignore=shutil.ignore_patterns("mini_test", "models*", "eval*", "*_bak"))
    path = os.path.join(folder, "train_eval_infer.config")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        sections = ConfigParser(path).to_dict()
    assert sections["model"]["model"] == name
    sections["model"] = small_section(name)
    sections["train"].update(epochs=1, batch_size=2, num_infer_images=2)
    with open(path, "w") as f:
        f.write(config_text(sections))
    return folder


@pytest.mark.parametrize("name", families())
def test_the_family_project_runs_its_three_steps(name, tmp_path):
    dataset = tmp_path / "dataset" / "Pancreas-T1"
    make_split(str(dataset / "train"), volumes=2, slices=2, size=64, seed=5)
    make_split(str(dataset / "valid"), volumes=1, slices=2, size=64, seed=6, first_volume=2)
    make_split(str(dataset / "test"), volumes=1, slices=2, size=64, seed=7, first_volume=3)
    folder = project_copy(str(tmp_path), name)
    make_split(os.path.join(folder, "mini_test"), volumes=1, slices=2, size=64, seed=8, first_volume=4)
    env = dict(os.environ, PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run("./1.train.sh --quiet && ./2.evaluate.sh --quiet && ./3.infer.sh --quiet", shell=True,
                            cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(os.path.join(folder, "evaluation.csv")) as f:
        assert f.read().splitlines()[0].startswith("loss,")
    outputs = sorted(os.listdir(os.path.join(folder, "mini_test_output")))
    assert len(outputs) == 2
    assert os.path.isfile(os.path.join(folder, "models", "resolved_config.json"))
