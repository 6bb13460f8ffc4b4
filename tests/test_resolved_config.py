"""What a run used, written down: resolved_config.json, and the warning when inference sees otherwise."""

import json
import os
import shutil
import warnings

import pytest
from conftest import make_split
from test_project_scripts import project_copy

import resolved_config
import TensorflowUNetEvaluator
import TensorflowUNetInferencer
import TensorflowUNetTrainer
from config_schema import key_for
from ConfigParser import ConfigParser, ConfigWarning


@pytest.fixture(scope="module")
def pancreas_run(tmp_path_factory):
    """The Pancreas-T1 project's three steps on generated slices, recording every key they read."""
    root = tmp_path_factory.mktemp("pancreas")
    dataset = root / "dataset" / "Pancreas-T1"
    make_split(str(dataset / "train"), volumes=3, slices=2, size=64, seed=5)
    make_split(str(dataset / "valid"), volumes=1, slices=2, size=64, seed=6, first_volume=3)
    make_split(str(dataset / "test"), volumes=1, slices=2, size=64, seed=7, first_volume=4)
    folder = project_copy(str(root), size=64, num_layers=4, epochs=1)
    make_split(os.path.join(folder, "mini_test"), volumes=1, slices=2, size=64, seed=8, first_volume=5)
    reads = set()
    original_get = ConfigParser.get

    def recording_get(self, section, key, dvalue=None):
        reads.add((section, key))
        return original_get(self, section, key, dvalue)

    cwd = os.getcwd()
    os.chdir(folder)
    ConfigParser.get = recording_get
    try:
        for script in (TensorflowUNetTrainer, TensorflowUNetEvaluator, TensorflowUNetInferencer):
            assert script.main(["./train_eval_infer.config", "--quiet"]) == 0, script.__name__
    finally:
        ConfigParser.get = original_get
        os.chdir(cwd)
    return folder, reads


def test_the_pancreas_resolved_config_lists_every_key_the_run_reads_with_its_source(pancreas_run):
    folder, reads = pancreas_run
    with open(os.path.join(folder, "models", "resolved_config.json")) as f:
        document = json.load(f)
    assert set(document) == {"toolkit", "python", "tensorflow", "keras", "config", "sections"}
    assert document["config"] == os.path.join(folder, "train_eval_infer.config")
    config = ConfigParser(os.path.join(folder, "train_eval_infer.config"))
    sections = document["sections"]
    known = {(s, k) for s, k in reads if key_for(s, k, config.family)}
    assert len(known) > 60
    for section, key in sorted(known):
        entry = sections[section][key]
        assert entry["source"] == ("file" if config.has(section, key) else "default"), f"[{section}] {key}"
    assert sections["model"]["image_width"] == {"value": 64, "source": "file"}
    assert sections["model"]["optimizer"] == {"value": "Adam", "source": "default"}
    assert sections["train"]["reducer_patience"] == {"value": 4, "source": "file"}
    assert sections["dataset"]["color_order"] == {"value": "rgb", "source": "default"}


def test_inference_warns_naming_the_keys_when_it_sees_otherwise_than_training(pancreas_run, tmp_path, capsys):
    folder, _ = pancreas_run
    path = os.path.join(folder, "train_eval_infer.config")
    changed = tmp_path / "train_eval_infer.config"
    with open(path) as f:
        text = f.read()
    assert "image_width    = 64" in text and "num_infer_images       = 6" in text
    changed.write_text(text.replace("image_width    = 64", "image_width    = 128")
                           .replace("num_infer_images       = 6", "num_infer_images       = 3"))
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            differing = resolved_config.warn_if_trained_otherwise(ConfigParser(str(changed)))
            same = resolved_config.warn_if_trained_otherwise(ConfigParser(path))
        assert differing == ["[model] image_width"]  # num_infer_images changes nothing the model sees
        assert same == []
        messages = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
        assert len(messages) == 1 and "[model] image_width = 128 (trained with 64)" in messages[0]
        shutil.copy(changed, "changed.config")
        assert TensorflowUNetInferencer.main(["changed.config", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert "WARNING:" in err and "[model] image_width = 128 (trained with 64)" in err
