"""TensorflowUNetModelInspector (summary.txt, model.png) and LineGraphPlotter
(the training curves redrawn from their CSVs), and their Pancreas-T1 scripts."""

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import make_project, write_config
from test_model_zoo import small_section
from test_project_scripts import PROJECT, project_copy

import LineGraphPlotter
import ModelRegistry
import TensorflowUNetModelInspector
import TensorflowUNetTrainer

HAS_DOT = shutil.which("dot") is not None
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCRIPTS = ("model_inspect", "plot_line_graphs")


def inspector_config(folder, model="TensorflowUNet", **inspect) -> str:
    sections = {"model": small_section(model)}  # each family's small 64-px section (test_model_zoo)
    if inspect:
        sections["inspect"] = inspect
    return write_config(folder / "train_eval_infer.config", sections)


def total_params_line(config) -> str:
    return f"Total params: {ModelRegistry.create_model(config).model.count_params():,}"


# === TensorflowUNetModelInspector ===

@pytest.mark.parametrize("model", ModelRegistry.MODELS)
def test_the_inspector_writes_the_summary_of_every_model(tmp_path, model, capsys):
    summary = tmp_path / "out" / "summary.txt"
    graph = tmp_path / "out" / "graphs" / "model.png"
    config = inspector_config(tmp_path, model, summary=str(summary), model_graph=str(graph))

    assert TensorflowUNetModelInspector.main([config]) == 0

    out = capsys.readouterr().out
    assert f"=== Saved {summary}" in out
    text = summary.read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert total_params_line(config) in text
    if HAS_DOT:
        assert graph.read_bytes()[:8] == PNG_SIGNATURE
        assert f"=== Saved {graph}" in out
        assert sorted(os.listdir(graph.parent)) == ["model.png"]  # no temporary file left
    else:
        assert not graph.exists()
        assert f"=== Skipped {graph}" in out
    assert sorted(os.listdir(summary.parent)) == (["graphs", "summary.txt"] if HAS_DOT else ["summary.txt"])


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")
def test_with_graphviz_model_png_is_a_png_of_the_layer_graph(tmp_path):
    graph = tmp_path / "model.png"
    config = inspector_config(tmp_path, summary=str(tmp_path / "summary.txt"), model_graph=str(graph))
    assert TensorflowUNetModelInspector.main([config]) == 0
    image = cv2.imread(str(graph))
    assert image is not None and image.shape[0] > image.shape[1]  # a tall chain of layers


def test_without_graphviz_only_the_summary_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(TensorflowUNetModelInspector.shutil, "which", lambda name: None)
    summary = tmp_path / "summary.txt"
    graph = tmp_path / "graph" / "model.png"
    config = inspector_config(tmp_path, summary=str(summary), model_graph=str(graph))

    assert TensorflowUNetModelInspector.main([config]) == 0

    captured = capsys.readouterr()
    skipped = [line for line in captured.out.splitlines() if "Skipped" in line]
    assert len(skipped) == 1
    assert str(graph) in skipped[0] and "graphviz" in skipped[0].lower()
    assert "apt install graphviz" in skipped[0] and "https://graphviz.org/download/" in skipped[0]
    assert "ERROR" not in captured.err
    assert summary.is_file() and not graph.exists()


@pytest.mark.parametrize("error", [
    ImportError("You must install pydot (`pip install pydot`) for `plot_model` to work."),
    FileNotFoundError(2, '"dot" not found in path.'),
    AssertionError('"dot" with args [\'-Tps\'] returned code: 127'),  # pydot: dot failed
])
def test_when_keras_cannot_plot_the_summary_is_still_written(tmp_path, monkeypatch, capsys, error):
    def no_pydot(*args, **kwargs):
        raise error

    monkeypatch.setattr(TensorflowUNetModelInspector.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(TensorflowUNetModelInspector.keras.utils, "plot_model", no_pydot)
    config = inspector_config(tmp_path, summary=str(tmp_path / "summary.txt"),
                              model_graph=str(tmp_path / "model.png"))

    assert TensorflowUNetModelInspector.main([config]) == 0

    out = capsys.readouterr().out
    skipped = [line for line in out.splitlines() if "Skipped" in line]
    assert len(skipped) == 1 and str(error).split()[0] in skipped[0]
    assert sorted(os.listdir(tmp_path)) == ["summary.txt", "train_eval_infer.config"]


# Needs ConfigParser.get(section, key) to return the schema's defaults
# ([inspect] summary = "./summary.txt", model_graph = "./model.png"); it
# fails while get() without a default still returns None for absent keys.
def test_without_an_inspect_section_the_files_go_to_the_project_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = inspector_config(tmp_path)
    assert TensorflowUNetModelInspector.main([config]) == 0
    assert total_params_line(config) in (tmp_path / "summary.txt").read_text(encoding="utf-8")
    assert (tmp_path / "model.png").exists() == HAS_DOT


# === LineGraphPlotter ===

def test_the_plotter_redraws_the_trainers_curves_pixel_for_pixel(tmp_path, generated_data, monkeypatch, capsys):
    folder = make_project(tmp_path, generated_data, train={"epochs": 2, "epoch_change_infer": False})
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main(["./train_eval_infer.config"]) == 0
    os.makedirs("trainer")
    for name in ("train_losses", "train_metrics"):
        shutil.move(f"eval/{name}.png", f"trainer/{name}.png")
    capsys.readouterr()

    assert LineGraphPlotter.main(["./train_eval_infer.config"]) == 0

    out = capsys.readouterr().out
    for name in ("train_losses", "train_metrics"):
        png = os.path.join("./eval", name + ".png")
        assert f"=== Saved {png}" in out
        ours, trainers = cv2.imread(png), cv2.imread(f"trainer/{name}.png")
        assert ours is not None and trainers is not None
        assert np.array_equal(ours, trainers)


def curves_config(tmp_path, eval_dir) -> str:
    return write_config(tmp_path / "train_eval_infer.config", {"train": {"eval_dir": str(eval_dir)}})


def write_curves(eval_dir, epochs, skip=()):
    """The two CSVs as EpochChangeCallback writes them, `epochs` rows each."""
    os.makedirs(eval_dir, exist_ok=True)
    headers = {"train_losses": "epoch, loss, val_loss", "train_metrics": "epoch,dice_coef,val_dice_coef,"}
    for name, header in headers.items():
        if name not in skip:
            rows = [header] + [f"{e}, {0.5 - e / 20:.4f}, {0.6 - e / 30:.4f}" for e in range(epochs)]
            with open(os.path.join(eval_dir, name + ".csv"), "w") as f:
                f.write("\n".join(rows) + "\n")


def test_a_run_in_progress_is_drawn_up_to_its_last_epoch(tmp_path, capsys):
    eval_dir = tmp_path / "eval"
    write_curves(eval_dir, epochs=1)
    assert LineGraphPlotter.main([curves_config(tmp_path, eval_dir)]) == 0
    for name in ("train_losses", "train_metrics"):
        assert cv2.imread(str(eval_dir / f"{name}.png")).shape == (600, 800, 3)
    assert sorted(os.listdir(eval_dir)) == sorted(
        f"{name}.{ext}" for name in ("train_losses", "train_metrics") for ext in ("csv", "png"))


def test_a_missing_csv_is_an_error_naming_it(tmp_path, capsys):
    eval_dir = tmp_path / "eval"
    write_curves(eval_dir, epochs=2, skip=("train_metrics",))
    assert LineGraphPlotter.main([curves_config(tmp_path, eval_dir)]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and str(eval_dir / "train_metrics.csv") in errors[0]
    assert "Traceback" not in captured.err
    assert (eval_dir / "train_losses.png").is_file()  # the other curve is still drawn
    assert not (eval_dir / "train_metrics.png").exists()


def test_a_csv_with_only_its_header_is_an_error_naming_it(tmp_path, capsys):
    eval_dir = tmp_path / "eval"
    write_curves(eval_dir, epochs=0)
    assert LineGraphPlotter.main([curves_config(tmp_path, eval_dir)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert all(str(eval_dir / f"{name}.csv") in errors[0] for name in ("train_losses", "train_metrics"))
    assert "header only" in errors[0]
    assert not list(eval_dir.glob("*.png"))


def test_a_missing_eval_folder_is_an_error_naming_the_csv(tmp_path, capsys):
    assert LineGraphPlotter.main([curves_config(tmp_path, tmp_path / "no_eval")]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and str(tmp_path / "no_eval" / "train_losses.csv") in errors[0]


# === The Pancreas-T1 project's scripts ===

@pytest.mark.parametrize("script", SCRIPTS)
def test_the_pancreas_t1_project_has_the_scripts(script):
    sh, bat = os.path.join(PROJECT, script + ".sh"), os.path.join(PROJECT, script + ".bat")
    assert os.access(sh, os.X_OK)
    with open(sh) as f:
        assert f.readline() == "#!/bin/sh\n"
    with open(bat, "rb") as f:
        assert f.read().endswith(b" ./train_eval_infer.config\r\n")
    tracked = shutil.which("git") and subprocess.run(
        ["git", "ls-files", "-s", os.path.basename(sh)], cwd=PROJECT, capture_output=True, text=True
    ).stdout
    if tracked:  # once committed, git must keep the executable bit
        assert tracked.startswith("100755 ")


def test_the_project_scripts_run_in_a_copy_of_the_project(tmp_path):
    folder = project_copy(str(tmp_path), size=64, num_layers=3, epochs=1)
    write_curves(os.path.join(folder, "eval"), epochs=3)
    env = dict(os.environ, PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run("./model_inspect.sh && ./plot_line_graphs.sh", shell=True, cwd=folder,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(os.path.join(folder, "summary.txt"), encoding="utf-8") as f:
        assert "Total params: " in f.read()
    assert os.path.exists(os.path.join(folder, "model.png")) == HAS_DOT
    for name in ("train_losses", "train_metrics"):
        assert cv2.imread(os.path.join(folder, "eval", name + ".png")).shape == (600, 800, 3)
