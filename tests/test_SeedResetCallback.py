"""SeedResetCallback reseeds Python, NumPy and TensorFlow before each epoch."""

import random

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import make_project

from distribute import single_process
from ModelRegistry import create_model
from SeedResetCallback import SeedResetCallback
from TensorflowUNetTrainer import TensorflowUNetTrainer
from TrainingRun import TrainingRun


def draws():
    return random.random(), float(np.random.random()), float(tf.random.uniform(()))


def test_on_epoch_begin_restores_the_seeded_state():
    keras.utils.set_random_seed(7)
    expected = draws()
    draws()  # move every generator on
    SeedResetCallback(7).on_epoch_begin(3)
    assert draws() == expected
    SeedResetCallback(8).on_epoch_begin(0)
    assert draws() != expected


class _RecordDraws(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(draws())

    def on_epoch_end(self, epoch, logs=None):
        draws()  # the next epoch would start elsewhere without the reseed


def test_every_epoch_of_fit_starts_from_the_seed():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
    model.compile(loss="mse")
    recorder = _RecordDraws()
    x = np.ones((4, 2), np.float32)
    model.fit(x, x[:, :1], epochs=3, verbose=0, callbacks=[SeedResetCallback(11), recorder])
    assert len(recorder.seen) == 3 and recorder.seen[0] == recorder.seen[1] == recorder.seen[2]


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "137"])
def test_rejects_seeds_keras_cannot_use(seed):
    with pytest.raises(ValueError, match="Received: seed="):
        SeedResetCallback(seed)


@pytest.mark.parametrize("train, expected", [
    ({"seedreset_callback": True, "seed": 5, "tensorboard": True}, 5),
    ({"seedreset_callback": True}, 137),  # the default [train] seed
    ({}, None),
])
def test_the_trainer_puts_it_first_when_asked(tmp_path, generated_data, monkeypatch, train, expected):
    folder = make_project(tmp_path, generated_data, train={"epoch_change_infer": False, **train})
    monkeypatch.chdir(folder)
    trainer = TensorflowUNetTrainer("./train_eval_infer.config")
    training_run = TrainingRun(trainer.config, single_process(), trainer.preview_dirs)
    _, callbacks = trainer.create_callbacks(training_run, create_model(trainer.config).model)
    resetters = [c for c in callbacks if isinstance(c, SeedResetCallback)]
    if expected is None:
        assert resetters == []
    else:
        assert callbacks[0] is resetters[0] and len(resetters) == 1 and resetters[0].seed == expected
