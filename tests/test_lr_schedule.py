"""[train] lr_schedule and warmup_epochs: the documented rates, the checks, and a real run's logs."""

import json
import os

import keras
import numpy as np
import pytest
from conftest import make_project

from ConfigParser import load_config
from distribute import single_process
from errors import ConfigError
from LearningRateSchedule import LearningRateSchedule, scheduled_rate
from SeedResetCallback import SeedResetCallback
from TensorflowUNetTrainer import TensorflowUNetTrainer
from TrainingRun import TrainingRun
from TrainingState import TrainingState

BASE = 1e-3

# E = 10 epochs, W = 2 warmup epochs: e = 0, 1 warm up; t = (e - 2)/8 afterwards.
WARMUP = {0: BASE / 3, 1: BASE * 2 / 3, 2: BASE}


@pytest.mark.parametrize("schedule, expected", [
    ("poly", {**WARMUP, 6: 0.0005358867312681466, 9: 0.00015389305166811456}),  # 1e-3·0.5^0.9, 1e-3·(1/8)^0.9
    ("cosine", {**WARMUP, 6: 0.0005, 9: 3.806023374435663e-05}),  # 1e-3·0.5·(1 + cos(7π/8))
    (None, {**WARMUP, 6: BASE, 9: BASE}),  # warmup, then constant
])
def test_the_documented_rates(schedule, expected):
    for epoch, rate in expected.items():
        assert scheduled_rate(epoch, 10, BASE, schedule, 2) == pytest.approx(rate, rel=1e-12), epoch


def test_without_warmup_the_schedule_starts_at_the_base_rate_and_never_reaches_zero():
    assert scheduled_rate(0, 4, BASE, "poly") == BASE == scheduled_rate(0, 4, BASE, "cosine")
    assert scheduled_rate(3, 4, BASE, "poly") == pytest.approx(BASE * 0.25 ** 0.9)
    rates = [scheduled_rate(e, 20, BASE, "cosine", 3) for e in range(20)]
    assert all(0 < r <= BASE for r in rates) and rates[3] == BASE
    assert rates[:4] == sorted(rates[:4]) and rates[3:] == sorted(rates[3:], reverse=True)


@pytest.mark.parametrize("args", [(10, 10, BASE, "poly", 0), (0, 10, BASE, "poly", 10), (0, 10, BASE, "step", 0),
                                  (-1, 10, BASE, None, 2)])
def test_rejects_what_has_no_rate(args):
    with pytest.raises(ValueError):
        scheduled_rate(*args)


def test_the_callback_sets_the_rate_at_epoch_begin_and_logs_it():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(BASE), loss="mse")
    x = np.ones((4, 2), np.float32)
    history = model.fit(x, x[:, :1], epochs=4, verbose=0, callbacks=[LearningRateSchedule(4, BASE, "cosine", 1)])
    expected = [scheduled_rate(e, 4, BASE, "cosine", 1) for e in range(4)]
    assert history.history["learning_rate"] == pytest.approx(expected, rel=1e-6)


def test_unknown_schedules_and_negative_warmups_are_refused_when_parsed(tmp_path, generated_data):
    for train in ({"lr_schedule": "step"}, {"warmup_epochs": -1}, {"warmup_epochs": 1.5}):
        folder = make_project(tmp_path / str(len(str(train))), generated_data, train=train)
        key = next(iter(train))
        with pytest.raises(ConfigError, match=key):
            load_config(os.path.join(folder, "train_eval_infer.config"))


@pytest.mark.parametrize("train, named", [
    ({"lr_schedule": "poly", "learning_rate_reducer": True}, ("lr_schedule", "learning_rate_reducer")),
    ({"warmup_epochs": 1, "learning_rate_reducer": True}, ("warmup_epochs", "learning_rate_reducer")),
    ({"lr_schedule": "cosine", "warmup_epochs": 2, "learning_rate_reducer": False}, ("warmup_epochs", "epochs")),
])
def test_conflicts_are_refused_before_anything_is_written(tmp_path, generated_data, monkeypatch, train, named):
    folder = make_project(tmp_path, generated_data, train={"epoch_change_infer": False, **train})
    monkeypatch.chdir(folder)
    with pytest.raises(ConfigError) as caught:
        TensorflowUNetTrainer("./train_eval_infer.config").train()
    for key in named:
        assert f"[train] {key}" in str(caught.value)
    assert sorted(os.listdir(folder)) == ["mini_test", "train_eval_infer.config"]  # no models, eval, lock, history


def test_the_trainer_puts_it_after_the_seed_reset_and_before_the_rest(tmp_path, generated_data, monkeypatch):
    folder = make_project(tmp_path, generated_data, train={
        "epoch_change_infer": False, "learning_rate_reducer": False, "lr_schedule": "poly", "tensorboard": True,
        "seedreset_callback": True})
    monkeypatch.chdir(folder)
    trainer = TensorflowUNetTrainer("./train_eval_infer.config")
    _, callbacks = trainer.create_callbacks(TrainingRun(trainer.config, single_process(), trainer.preview_dirs), None)
    assert isinstance(callbacks[0], SeedResetCallback) and isinstance(callbacks[1], LearningRateSchedule)
    assert isinstance(callbacks[2], keras.callbacks.TensorBoard)
    assert (callbacks[1].epochs, callbacks[1].base, callbacks[1].schedule, callbacks[1].warmup) == (2, BASE, "poly", 0)
    trainer = TensorflowUNetTrainer(make_project(tmp_path / "plain", generated_data, train={
        "learning_rate_reducer": False}) + "/train_eval_infer.config")
    assert trainer.create_schedule() is None


def test_a_training_run_logs_the_scheduled_rates(tmp_path, generated_data, monkeypatch):
    folder = make_project(tmp_path, generated_data, train={
        "epochs": 3, "epoch_change_infer": False, "learning_rate_reducer": False, "lr_schedule": "poly",
        "warmup_epochs": 1})
    monkeypatch.chdir(folder)
    TensorflowUNetTrainer("./train_eval_infer.config").train()
    expected = [BASE / 2, BASE, BASE * 0.5 ** 0.9]
    document = TrainingState.read(os.path.join("models", "resume"))
    assert document["finished"] == "epochs"
    assert document["history"]["learning_rate"] == pytest.approx(expected, rel=1e-6)
    with open("history.json") as f:
        assert "'lr': [0.0005, 0.001, 0.0005358" in json.load(f)
