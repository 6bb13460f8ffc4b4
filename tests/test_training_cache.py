"""[train] cache: the decoded training pairs kept across epochs, without changing what is learned."""

import os

import pytest
from conftest import make_project, small_model_section

import pair_cache
from errors import ConfigError
from TensorflowUNetTrainer import TensorflowUNetTrainer
from TrainingState import TrainingState

MODEL = small_model_section(64, base_filters=4, num_layers=3, dropout_rate=0.0)


def train(tmp_path, data, name, monkeypatch, capsys=None, **train):
    folder = make_project(tmp_path / name, data, model=MODEL,
                          train={"epochs": 2, "epoch_change_infer": False, **train})
    monkeypatch.chdir(folder)
    TensorflowUNetTrainer("train_eval_infer.config").train()
    return TrainingState.read(os.path.join(folder, "models", "resume"))["history"], folder


def test_a_memory_or_file_cache_learns_exactly_what_reading_the_files_learns(tmp_path, generated_data, monkeypatch,
                                                                               capsys):
    plain, _ = train(tmp_path, generated_data, "plain", monkeypatch)
    cached, _ = train(tmp_path, generated_data, "memory", monkeypatch, cache="memory")
    assert "=== cache: 12 pairs, 0.0 GiB in memory" in capsys.readouterr().out
    assert cached == plain
    cache_file = str(tmp_path / "pairs.cache")
    first, _ = train(tmp_path, generated_data, "file1", monkeypatch, cache=cache_file)
    again, _ = train(tmp_path, generated_data, "file2", monkeypatch, cache=cache_file)
    assert "(12 already filled)" in capsys.readouterr().out  # the second run decoded nothing
    assert first == again == plain


def test_a_cache_that_would_not_fit_is_refused_before_anything_moves(tmp_path, generated_data, monkeypatch):
    monkeypatch.setattr(pair_cache, "available_memory_bytes", lambda: 1024)
    folder = make_project(tmp_path / "big", generated_data, model=MODEL, train={"cache": "memory"})
    monkeypatch.chdir(folder)
    with pytest.raises(ConfigError, match=r"\[train\] cache = 'memory': 12 pairs take"):
        TensorflowUNetTrainer("train_eval_infer.config").train()
    assert not os.path.exists(os.path.join(folder, "models"))
