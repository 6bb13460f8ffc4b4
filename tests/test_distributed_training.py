"""[train] strategy, mixed_precision and the run lock, on CPU.

Two workers of `multi_worker` run as two local processes on 127.0.0.1, each
in its own project folder; `mirrored` runs over two logical CPU devices.
Each is compared with a single-process run of the same config: the model has
no dropout and no BatchNormalization, and the loss is per-pixel binary
cross-entropy, so the losses must agree (the metrics, batch-level Dice, may
not).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import REPO, make_project, small_model_section

from ConfigParser import ConfigParser
from errors import ConfigError
from TensorflowUNetTrainer import TensorflowUNetTrainer
from TrainingState import TrainingState

TRAINER = os.path.join(REPO, "src", "TensorflowUNetTrainer.py")
MODEL = small_model_section(64, base_filters=4, num_layers=3, dropout_rate=0.0, loss="binary_crossentropy")


def project(tmp_path, data, name, epochs=2, **train):
    folder = make_project(tmp_path / name, data, model=MODEL,
                          train={"epochs": epochs, "epoch_change_infer": False, "learning_rate_reducer": False,
                                 **train})
    return folder


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start(folder, tf_config=None, **env):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", **env}
    environment.pop("TF_CONFIG", None)
    if tf_config is not None:
        environment["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen([sys.executable, TRAINER, "train_eval_infer.config"], cwd=folder, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def cluster(ports, index):
    return {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}


def start_workers(folders):
    ports = free_ports(len(folders))
    return [start(folder, cluster(ports, i)) for i, folder in enumerate(folders)]


def finish(processes, timeout=240):
    """Their outputs; on a timeout every process is killed (a waiting worker ignores SIGTERM)."""
    outputs = []
    try:
        for p in processes:
            out, _ = p.communicate(timeout=timeout)
            outputs.append(out)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return outputs


def history(folder):
    return TrainingState.read(os.path.join(folder, "models", "resume"))["history"]


def written(folder):
    """What a run wrote into its project folder (the config and mini_test were there before)."""
    return sorted(set(os.listdir(folder)) - {"train_eval_infer.config", "mini_test"})


@pytest.fixture(scope="module")
def single_process_run(tmp_path_factory, generated_data):
    """The reference: the same config trained by one process with the default strategy."""
    folder = project(tmp_path_factory.mktemp("single"), generated_data, "single")
    (out,) = finish([start(folder)])
    assert "=== strategy default: 1 replicas, global batch 4, per-replica batch 4" in out, out
    return history(folder)


def test_two_workers_train_as_one_process_and_only_the_chief_writes(tmp_path, generated_data, single_process_run):
    chief, other = (project(tmp_path, generated_data, name, strategy="multi_worker") for name in ("chief", "w1"))
    processes = start_workers([chief, other])
    outputs = finish(processes)
    for p, out in zip(processes, outputs):
        assert p.returncode == 0, out
        assert "=== strategy multi_worker: 2 replicas, global batch 4, per-replica batch 2" in out, out
    assert written(other) == [], outputs[1]  # worker 1 never waits for, nor writes, any file
    assert {"models", "eval", "history.json"} <= set(written(chief))
    assert os.path.isfile(os.path.join(chief, "models", "best_model.weights.h5"))
    logged = history(chief)
    assert len(logged["loss"]) == 2 and len(logged["val_loss"]) == 2
    assert logged["loss"] == pytest.approx(single_process_run["loss"], rel=1e-4)
    assert logged["val_loss"] == pytest.approx(single_process_run["val_loss"], rel=1e-4)
    assert not os.path.exists(os.path.join(chief, "models.lock"))  # released at the end


def test_a_lone_worker_of_two_does_not_train(tmp_path, generated_data):
    folder = project(tmp_path, generated_data, "lone", strategy="multi_worker")
    (port,) = free_ports(1)
    started = time.monotonic()
    process = start(folder, cluster([port, port + 1 if port < 65535 else port - 1], 0), TOOLKIT_WORKER_WAIT_S="10")
    (out,) = finish([process], timeout=120)
    assert process.returncode == 1, out
    last = out.strip().splitlines()[-1]
    assert "worker 0 of 2, waiting for the other workers" in last and "within 10 s, this one exits" in last, out
    assert time.monotonic() - started < 100
    assert written(folder) == []


# 37 s of CI on 2 cores: a single process's kill and resume runs in CI (tests/test_robustness.py).
@pytest.mark.slow
def test_both_workers_killed_resume_after_the_last_committed_epoch(tmp_path, generated_data):
    chief, other = (project(tmp_path, generated_data, name, epochs=4, strategy="multi_worker")
                    for name in ("chief", "w1"))
    processes = start_workers([chief, other])
    state_dir = os.path.join(chief, "models", "resume")
    deadline = time.monotonic() + 240
    while (TrainingState.read(state_dir) or {}).get("epochs_done", 0) < 2:
        assert time.monotonic() < deadline and all(p.poll() is None for p in processes), finish(processes)
        time.sleep(0.2)
    for p in processes:
        p.send_signal(signal.SIGKILL)
    finish(processes)
    done = TrainingState.read(state_dir)["epochs_done"]
    assert 2 <= done < 4
    processes = start_workers([chief, other])
    outputs = finish(processes)
    assert all(p.returncode == 0 for p in processes), outputs
    assert f"Resuming after epoch {done} of 4" in outputs[0]
    assert written(other) == []
    logged = history(chief)
    assert all(len(values) == 4 for values in logged.values()), logged
    with open(os.path.join(chief, "eval", "train_losses.csv")) as f:
        rows = f.read().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["0", "1", "2", "3"]  # every epoch logged once


def test_mirrored_over_two_logical_cpus_trains_as_the_default_strategy(tmp_path, generated_data, single_process_run):
    folder = project(tmp_path, generated_data, "mirrored", strategy="mirrored", cpu_devices=2)
    (out,) = finish([start(folder)])
    assert "=== strategy mirrored: 2 replicas, global batch 4, per-replica batch 2" in out, out
    logged = history(folder)
    assert logged["loss"] == pytest.approx(single_process_run["loss"], rel=1e-4)
    assert logged["val_loss"] == pytest.approx(single_process_run["val_loss"], rel=1e-4)


def test_a_batch_that_does_not_divide_among_the_replicas_is_refused(tmp_path, generated_data):
    folder = project(tmp_path, generated_data, "odd", strategy="mirrored", cpu_devices=2, batch_size=3)
    (out,) = finish([start(folder)])
    last = out.strip().splitlines()[-1]
    assert "[train] batch_size = 3" in last and "does not divide among 2 replicas" in last, out
    assert written(folder) == []


def test_mixed_bfloat16_trains_with_a_float32_head_and_finite_loss(tmp_path, generated_data, monkeypatch):
    import keras
    import numpy as np

    folder = project(tmp_path, generated_data, "bf16", epochs=1, mixed_precision="mixed_bfloat16")
    monkeypatch.chdir(folder)
    trainer = TensorflowUNetTrainer("train_eval_infer.config")
    trainer.train()
    assert keras.config.dtype_policy().name == "float32"  # restored after the run
    assert np.isfinite(history(folder)["loss"]).all()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        from ModelRegistry import create_model

        model = create_model(ConfigParser("train_eval_infer.config")).model
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.layers[1].compute_dtype == "bfloat16"
    assert model.outputs[0].dtype == "float32" and model.layers[-1].compute_dtype == "float32"
    model.load_weights(os.path.join("models", "best_model.weights.h5"))


def test_mixed_float16_on_a_cpu_is_refused(tmp_path, generated_data, monkeypatch):
    folder = project(tmp_path, generated_data, "f16", mixed_precision="mixed_float16")
    monkeypatch.chdir(folder)
    with pytest.raises(ConfigError, match="mixed_float16.*needs a GPU"):
        TensorflowUNetTrainer("train_eval_infer.config").train()
    assert written(folder) == []


def test_a_second_trainer_on_a_running_model_dir_stops_at_once(tmp_path, generated_data):
    folder = project(tmp_path, generated_data, "locked", epochs=50)
    first = start(folder)
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(folder, "models", "resume")):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.2)
    (out,) = finish([start(folder)], timeout=120)
    first.send_signal(signal.SIGKILL)
    finish([first])
    last = out.strip().splitlines()[-1]
    assert f"being trained by process {first.pid} on {socket.gethostname()}" in last, out
    shutil.rmtree(os.path.join(folder, "models"))
