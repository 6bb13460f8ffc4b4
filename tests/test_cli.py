"""The entry points: arguments, exit codes, one-line errors."""

import os
import subprocess
import sys

import pytest
from conftest import REPO, small_model_section, write_config

import TensorflowUNetEvaluator
import TensorflowUNetExporter
import TensorflowUNetInferencer
import TensorflowUNetTrainer

SCRIPTS = [TensorflowUNetTrainer, TensorflowUNetEvaluator, TensorflowUNetInferencer, TensorflowUNetExporter]


def run_script(name, args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TFSEG_DEBUG", None)
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "src", name), *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=300,
    )


def test_injected_code_in_a_config_is_not_run_and_the_last_line_names_the_key(tmp_path):
    marker = tmp_path / "PWNED"
    (tmp_path / "train_eval_infer.config").write_text(
        "[model]\nimage_width = 64\n"
        f'loss = __import__("os").system("touch {marker}")\n'
    )
    result = run_script("TensorflowUNetTrainer.py", ["./train_eval_infer.config"], tmp_path)
    assert result.returncode != 0
    last = (result.stdout + result.stderr).strip().splitlines()[-1]
    assert "[model] loss" in last and "train_eval_infer.config:3" in last
    assert "Traceback" not in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("module", SCRIPTS, ids=lambda m: m.__name__)
def test_missing_config_is_one_line_and_exit_code_2(module, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert module.main([]) == 2  # the default ./train_eval_infer.config is absent
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ERROR: config file ./train_eval_infer.config does not exist"]


@pytest.mark.parametrize("module", SCRIPTS, ids=lambda m: m.__name__)
def test_more_than_one_argument_is_a_usage_error(module, capsys):
    assert module.main(["a.config", "b.config"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_user_errors_exit_1_and_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_config(
        tmp_path / "train_eval_infer.config",
        {"model": small_model_section(32), "train": {"epochs": 1, "batch_size": 2,
         "model_dir": "./models", "eval_dir": "./eval",
         "image_datapath": "./nowhere/images", "mask_datapath": "./nowhere/masks"}},
    )
    assert TensorflowUNetTrainer.main([]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("ERROR: ./train_eval_infer.config:")
    assert "[train] image_datapath = './nowhere/images': ./nowhere/images does not exist" in err
    assert "Traceback" not in err
    assert TensorflowUNetTrainer.main(["--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert not os.path.exists("models"), "a failed start must not create run folders"
