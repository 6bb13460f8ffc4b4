"""Train, evaluate and infer on small generated images, as a researcher would."""

import ast
import json
import os
import re

import numpy as np
import pytest
from conftest import make_project, small_model_section
from PIL import Image

import TensorflowUNetEvaluator
import TensorflowUNetInferencer
import TensorflowUNetTrainer


def read_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def read_history(path="history.json"):
    with open(path) as f:
        return ast.literal_eval(json.load(f))


@pytest.fixture()
def project(tmp_path, generated_data, monkeypatch):
    folder = make_project(tmp_path, generated_data)
    monkeypatch.chdir(folder)
    return folder


def test_the_three_steps_write_every_output(project, capsys):
    assert TensorflowUNetTrainer.main(["./train_eval_infer.config"]) == 0
    assert os.path.isfile("models/best_model.weights.h5")
    assert os.path.isfile("models/train_eval_infer.config")

    losses = read_lines("eval/train_losses.csv")
    assert losses[0] == "epoch, loss, val_loss"
    assert [line.split(", ")[0] for line in losses[1:]] == ["0", "1"]
    assert all(re.fullmatch(r"\d+, \d+\.\d{4}, \d+\.\d{4}", line) for line in losses[1:])
    metrics = read_lines("eval/train_metrics.csv")
    assert metrics[0] == "epoch,dice_coef,val_dice_coef,"
    assert all(re.fullmatch(r"\d+, \d\.\d{4}, \d\.\d{4}", line) for line in metrics[1:])
    assert len(metrics) == 3
    for name in ("train_losses", "train_metrics"):
        assert Image.open(f"eval/{name}.png").size == (800, 600)

    history = read_history()
    assert list(history) == ["loss", "dice_coef", "val_loss", "val_dice_coef", "lr"]
    assert all(len(values) == 2 for values in history.values())
    assert history["lr"] == [0.001, 0.001]
    assert f"{history['loss'][1]:.4f}" == losses[2].split(", ")[1]

    previews = sorted(os.listdir("epoch_change_infer"))
    assert previews == ["Epoch_1_1005_0.jpg", "Epoch_1_1005_1.jpg", "Epoch_2_1005_0.jpg", "Epoch_2_1005_1.jpg"]

    assert TensorflowUNetEvaluator.main([]) == 0
    rows = read_lines("evaluation.csv")
    assert [row.split(",")[0] for row in rows] == ["loss", "dice_coef"]
    for row in rows:
        value = row.split(",")[1]
        assert value == str(round(float(value), 4))  # Python's round, no padding
    per_image = read_lines("evaluation_per_image.csv")  # next to evaluation.csv, from one predict pass
    assert per_image[0].startswith("image,volume,foreground_pixels,tp,fp,fn,dice,iou,") and len(per_image) == 5
    assert [row.split(",")[0] for row in per_image[1:]] == [f"1004_{s}.jpg" for s in range(4)]
    assert len(read_lines("evaluation_per_volume.csv")) == 5  # one volume id: every image its own unit
    with open("evaluation_summary.json") as f:
        assert json.load(f)["images"]["dice"]["n"] == 4
    with open("evaluation_report.html", encoding="utf-8") as f:
        report = f.read()
    # the curves, the previews' montage, the Dice plot and this run's worst cases, all inline
    assert report.count('<img src="data:image/png;base64,') >= 4 and "not found" not in report

    assert TensorflowUNetInferencer.main([]) == 0
    outputs = sorted(os.listdir("mini_test_output"))
    assert outputs == ["1005_0.jpg", "1005_1.jpg", "1005_2.jpg"]
    mask = np.asarray(Image.open("mini_test_output/1005_0.jpg"))
    assert mask.shape == (64, 64, 3)
    assert mask[..., 1].max() > 0 and mask[..., [0, 2]].max() <= 40  # black → green
    out = capsys.readouterr().out
    assert "Test loss    :" in out and "--- Saved ./evaluation.csv" in out


@pytest.mark.slow
def test_training_learns_the_discs(tmp_path, generated_data, monkeypatch):
    folder = make_project(
        tmp_path, generated_data, train={"epochs": 30, "epoch_change_infer": False, "batch_size": 2}
    )
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main([]) == 0
    assert TensorflowUNetEvaluator.main([]) == 0
    scores = dict(row.split(",") for row in read_lines("evaluation.csv"))
    assert float(scores["dice_coef"]) > 0.8, scores
    history = read_history()
    assert history["loss"][-1] < 0.5 * history["loss"][0]


def test_the_same_seed_repeats_the_first_epoch(tmp_path, generated_data, monkeypatch):
    rows = []
    for run in ("a", "b"):
        folder = make_project(tmp_path / run, generated_data, train={"epochs": 1, "epoch_change_infer": False})
        monkeypatch.chdir(folder)
        assert TensorflowUNetTrainer.main([]) == 0
        rows.append(read_lines("eval/train_losses.csv")[1])
    assert rows[0] == rows[1]


def test_without_eval_folders_whole_volumes_are_held_out(tmp_path, generated_data, monkeypatch, capsys):
    folder = make_project(
        tmp_path,
        generated_data,
        train={"epochs": 1, "epoch_change_infer": False, "dataset_splitter": True},
        eval={"image_datapath": "./none/images", "mask_datapath": "./none/masks"},
    )
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main([]) == 0
    out = capsys.readouterr().out
    # 3 training volumes: the last one (20% rounded, at least 1) validates.
    assert "validating on the last 1 of 3 volumes (4 images): 1002; training on 2 volumes (8 images)" in out
    assert len(read_history()["val_loss"]) == 1


def test_finished_or_changed_runs_are_moved_aside_never_deleted(project, capsys):
    assert TensorflowUNetTrainer.main([]) == 0
    first_best = os.path.getmtime("models/best_model.weights.h5")
    assert TensorflowUNetTrainer.main([]) == 0  # finished: a new run, the old one kept
    backups = sorted(name for name in os.listdir(".") if name.endswith("_bak") or "_bak." in name)
    assert [re.sub(r"_\d{4}-\d\d-\d\d_\d\d_\d\d_\d\d\.\d+_bak", "_<stamp>_bak", b) for b in backups] == [
        "epoch_change_infer_<stamp>_bak", "eval_<stamp>_bak", "history_<stamp>_bak.json", "models_<stamp>_bak"
    ]
    old_models = next(b for b in backups if b.startswith("models_"))
    assert os.path.getmtime(os.path.join(old_models, "best_model.weights.h5")) == first_best
    assert len(read_lines("eval/train_losses.csv")) == 3  # the new run's two epochs
    assert "Moved the previous run's ./models to ./models_" in capsys.readouterr().out


def test_resume_false_starts_afresh_and_keeps_the_old_run(tmp_path, generated_data, monkeypatch, capsys):
    folder = make_project(tmp_path, generated_data, train={"epochs": 3, "epoch_change_infer": False})
    monkeypatch.chdir(folder)
    with open("break_training", "w"):
        pass  # the original's way to stop after the current epoch
    assert TensorflowUNetTrainer.main([]) == 0
    os.remove("break_training")
    assert len(read_lines("eval/train_losses.csv")) == 2  # stopped after epoch 1: unfinished
    make_project(tmp_path, generated_data, train={"epochs": 3, "epoch_change_infer": False, "resume": False})
    assert TensorflowUNetTrainer.main([]) == 0
    out = capsys.readouterr().out
    assert "Resuming" not in out and "Moved the previous run's ./models" in out
    assert len(read_lines("eval/train_losses.csv")) == 4


def test_an_unfinished_run_resumes_after_its_last_epoch(tmp_path, generated_data, monkeypatch, capsys):
    folder = make_project(tmp_path, generated_data, train={"epochs": 3})
    monkeypatch.chdir(folder)
    open("break_training", "w").close()
    assert TensorflowUNetTrainer.main([]) == 0
    os.remove("break_training")
    first = read_lines("eval/train_losses.csv")
    assert TensorflowUNetTrainer.main([]) == 0
    assert "Resuming after epoch 1 of 3 from ./models/resume/state.weights.h5" in capsys.readouterr().out
    rows = read_lines("eval/train_losses.csv")
    assert rows[:2] == first and [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]
    assert len(read_history()["loss"]) == 3
    assert len([f for f in os.listdir("epoch_change_infer") if f.startswith("Epoch_1_")]) == 2


def test_full_model_checkpoint_round_trips(tmp_path, generated_data, monkeypatch):
    import keras

    import losses

    folder = make_project(
        tmp_path, generated_data, train={"epochs": 1, "save_weights_only": False, "epoch_change_infer": False}
    )
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main([]) == 0
    model = keras.models.load_model("models/best_model.keras", custom_objects=losses.FUNCTIONS)
    x = np.zeros((1, 64, 64, 3), np.float32)
    assert model.predict(x, verbose=0).shape == (1, 64, 64, 1)
    model.fit(x, np.zeros((1, 64, 64, 1)), epochs=1, verbose=0)  # it can train on
    assert TensorflowUNetEvaluator.main([]) == 0  # found from the default best_model.h5 name


def test_tensorboard_logs_go_under_eval_dir(tmp_path, generated_data, monkeypatch):
    folder = make_project(
        tmp_path, generated_data, train={"epochs": 1, "tensorboard": True, "epoch_change_infer": False}
    )
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main([]) == 0
    logs = [f for _, _, files in os.walk("eval/tensorboard") for f in files]
    assert any(f.startswith("events.out.tfevents") for f in logs)


def test_evaluator_without_a_trained_model_names_the_paths_tried(project, capsys):
    assert TensorflowUNetEvaluator.main([]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        "ERROR: no trained model found; tried ./models/best_model.h5, "
        "./models/best_model.weights.h5, ./models/best_model.keras (run 1.train first)"
    )


def test_harmless_edits_keep_a_run_resumable_and_training_edits_start_afresh(
    tmp_path, generated_data, monkeypatch, capsys
):
    folder = make_project(tmp_path, generated_data, train={"epochs": 3, "epoch_change_infer": False})
    monkeypatch.chdir(folder)
    open("break_training", "w").close()
    assert TensorflowUNetTrainer.main([]) == 0
    os.remove("break_training")
    # Other test and inference folders, TensorBoard on: the same training.
    make_project(tmp_path, generated_data, train={"epochs": 3, "epoch_change_infer": False, "tensorboard": True},
                 infer={"output_dir": "./elsewhere"}, test={"image_datapath": "./x", "mask_datapath": "./y"})
    open("break_training", "w").close()
    assert TensorflowUNetTrainer.main([]) == 0
    os.remove("break_training")
    assert "Resuming after epoch 1 of 3" in capsys.readouterr().out
    # Another learning rate: another training, so the old one is moved aside.
    model = small_model_section(64, learning_rate=0.0005)
    make_project(tmp_path, generated_data, model=model, train={"epochs": 3, "epoch_change_infer": False})
    assert TensorflowUNetTrainer.main([]) == 0
    out = capsys.readouterr().out
    assert "Resuming" not in out
    assert "Starting afresh: the earlier run was trained with other settings ([model] learning_rate: 0.001 -> 0.0005)" in out


def test_a_finished_run_can_be_extended_with_more_epochs(tmp_path, generated_data, monkeypatch, capsys):
    folder = make_project(tmp_path, generated_data, train={"epochs": 1, "epoch_change_infer": False})
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main([]) == 0
    assert "Finished 1 epochs" in capsys.readouterr().out
    make_project(tmp_path, generated_data, train={"epochs": 2, "epoch_change_infer": False})
    assert TensorflowUNetTrainer.main([]) == 0
    out = capsys.readouterr().out
    assert "Resuming after epoch 1 of 2" in out and "Finished 2 epochs" in out
    assert len(read_lines("eval/train_losses.csv")) == 3


def test_resuming_with_the_config_copy_in_model_dir(tmp_path, generated_data, monkeypatch, capsys):
    folder = make_project(tmp_path, generated_data, train={"epochs": 2, "epoch_change_infer": False})
    monkeypatch.chdir(folder)
    open("break_training", "w").close()
    assert TensorflowUNetTrainer.main([]) == 0
    os.remove("break_training")
    assert "delete ./break_training first" in capsys.readouterr().out
    assert TensorflowUNetTrainer.main(["./models/train_eval_infer.config"]) == 0
    assert "Resuming after epoch 1 of 2" in capsys.readouterr().out


def test_a_run_stopped_before_its_first_epoch_leaves_nothing_to_back_up(project, capsys):
    os.makedirs("models/resume")
    with open("models/train_eval_infer.config", "w") as f:
        f.write("; the copy an interrupted first epoch leaves\n")
    assert TensorflowUNetTrainer.main([]) == 0
    assert "_bak" not in " ".join(os.listdir("."))
    assert "Moved" not in capsys.readouterr().out


def test_training_on_zero_one_png_masks_learns(tmp_path, generated_data, monkeypatch):
    """The usual label-image convention: masks of 0/1, read as foreground 1 (issue 9)."""
    import shutil

    import cv2

    data = tmp_path / "data"
    shutil.copytree(generated_data, data)
    for split in ("train", "valid", "test"):
        for path in (data / split / "masks").iterdir():
            mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            assert cv2.imwrite(str(path), (mask > 0).astype(np.uint8))
    folder = make_project(tmp_path, data, train={"epochs": 12, "epoch_change_infer": False, "batch_size": 2})
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main([]) == 0
    assert TensorflowUNetEvaluator.main([]) == 0
    scores = dict(row.split(",") for row in read_lines("evaluation.csv"))
    assert float(scores["dice_coef"]) > 0.5, scores
