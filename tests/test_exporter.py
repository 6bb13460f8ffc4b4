"""`export`: the SavedModel and `.keras` file of a trained model, and their folder's safety."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import small_model_section, write_config
from test_project_scripts import PROJECT, project_copy

import TensorflowUNetExporter
from ConfigParser import ConfigParser
from ModelRegistry import create_model
from TensorflowModelLoader import weights_view
from TensorflowUNetExporter import TensorflowUNetExporter as Exporter

SIZE = 32


def trained_project(tmp_path, model_section=None):
    """A config and a best-weights file of random weights; returns (config path, the trained model)."""
    path = write_config(tmp_path / "train_eval_infer.config", {
        "model": model_section or small_model_section(SIZE),
        "train": {"model_dir": str(tmp_path / "models")},
    })
    model = create_model(ConfigParser(path)).model
    rng = np.random.default_rng(3)
    for weight in model.weights:  # not the initial weights: loading must show
        weight.assign(rng.normal(0, 0.2, weight.shape).astype("float32"))
    (tmp_path / "models").mkdir()
    weights_view(model).save_weights(str(tmp_path / "models" / "best_model.weights.h5"))
    return path, model


def batch(n=3, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype("float32")


def test_the_saved_model_serves_the_trained_models_predictions(tmp_path):
    config, trained = trained_project(tmp_path)
    export = Exporter(config).export()
    assert export == str(tmp_path / "models" / "export")
    x = batch()
    expected = trained.predict(x, verbose=0)
    reloaded = tf.saved_model.load(os.path.join(export, "saved_model"))
    np.testing.assert_allclose(reloaded.serve(tf.constant(x)).numpy(), expected, atol=1e-5)
    with open(os.path.join(export, "signature.json")) as f:
        signature = json.load(f)
    served = reloaded.signatures["serving_default"](**{signature["input"]["name"]: tf.constant(x)})
    np.testing.assert_allclose(served[signature["output"]["name"]].numpy(), expected, atol=1e-5)
    assert signature["input"] == {
        "name": "inputs", "dtype": "float32", "shape": [None, SIZE, SIZE, 3], "range": [0.0, 255.0],
        "channels": "RGB", "resize": "to image_width x image_height with cv2.INTER_NEAREST",
        "model_divides_by_255": True,
    }
    assert signature["output"]["shape"] == [None, SIZE, SIZE, 1]
    assert signature["output"]["activation"] == "sigmoid"
    assert signature["preprocessing"]["[dataset] color_order"] == "rgb"
    assert signature["weights"] == str(tmp_path / "models" / "best_model.weights.h5")
    with open(os.path.join(export, "README.txt")) as f:
        readme = f.read()
    assert "tf.saved_model.load" in readme and "values 0-255" in readme and "channels RGB" in readme
    assert not os.path.exists(export + ".partial")


def test_the_input_contract_follows_the_config(tmp_path):
    model = small_model_section(SIZE, input_normalize=False, image_channels=1)
    config, _ = trained_project(tmp_path, model)
    with open(config, "a") as f:
        f.write("[dataset]\nimage_normalize = True\n")
    signature = os.path.join(Exporter(config).export(), "signature.json")
    with open(signature) as f:
        source = json.load(f)["input"]
    assert source["range"] == [0.0, 1.0] and source["channels"] == "grey"
    assert source["shape"] == [None, SIZE, SIZE, 1] and source["model_divides_by_255"] is False


def test_the_keras_file_reloads_and_predicts_the_same(tmp_path):
    config, trained = trained_project(tmp_path)
    export = Exporter(config).export()
    reloaded = keras.saving.load_model(os.path.join(export, "TensorflowUNet.keras"))
    x = batch()
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-5)


def test_a_second_export_moves_the_first_aside(tmp_path):
    config, _ = trained_project(tmp_path)
    export = Exporter(config).export()
    with open(os.path.join(export, "notes.txt"), "w") as f:
        f.write("mine")
    Exporter(config).export()
    backups = [n for n in os.listdir(tmp_path / "models") if n.startswith("export_") and n.endswith("_bak")]
    assert len(backups) == 1
    backup = tmp_path / "models" / backups[0]
    assert (backup / "notes.txt").read_text() == "mine"
    assert (backup / "saved_model" / "saved_model.pb").is_file()
    assert sorted(os.listdir(export)) == ["README.txt", "TensorflowUNet.keras", "saved_model", "signature.json"]


def test_a_write_failure_names_model_dir_and_keeps_the_earlier_export(tmp_path, monkeypatch, capsys):
    config, _ = trained_project(tmp_path)
    export = Exporter(config).export()
    before = sorted(os.listdir(export))

    def refuse(self, path, *args, **kwargs):  # the SavedModel is written by now
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(keras.Model, "save", refuse)
    capsys.readouterr()
    assert TensorflowUNetExporter.main([config, "--quiet"]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("ERROR: ")
    assert "[train] model_dir" in errors[0] and "TensorflowUNet.keras: Permission denied" in errors[0]
    assert sorted(os.listdir(export)) == before
    assert sorted(os.listdir(tmp_path / "models")) == ["best_model.weights.h5", "export"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_a_read_only_model_dir_is_one_line(tmp_path, capsys):
    config, _ = trained_project(tmp_path)
    os.chmod(tmp_path / "models", 0o555)
    try:
        assert TensorflowUNetExporter.main([config, "--quiet"]) == 1
    finally:
        os.chmod(tmp_path / "models", 0o755)
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "[train] model_dir" in errors[0] and "export.partial" in errors[0]


def test_no_trained_model_is_one_line_and_writes_nothing(tmp_path, capsys):
    config = write_config(tmp_path / "c.config", {
        "model": small_model_section(SIZE), "train": {"model_dir": str(tmp_path / "models")},
    })
    assert TensorflowUNetExporter.main([config, "--quiet"]) == 1
    assert "no trained model found" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "models")


def test_a_killed_exports_partial_folder_is_replaced_and_a_foreign_one_refused(tmp_path, capsys):
    config, _ = trained_project(tmp_path)
    partial = tmp_path / "models" / "export.partial"
    (partial / "saved_model").mkdir(parents=True)
    (tmp_path / "models" / "export").mkdir()  # empty: replaced, no backup
    Exporter(config).export()
    assert not partial.exists() and "left by an export that did not finish" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "models")) == ["best_model.weights.h5", "export"]
    partial.mkdir()
    (partial / "thesis.docx").write_text("mine")
    assert TensorflowUNetExporter.main([config, "--quiet"]) == 1
    assert "export.partial is in the way" in capsys.readouterr().err
    assert (partial / "thesis.docx").read_text() == "mine"


def two_output_model():
    """BASNet in small: output 0 is the refined map, output 1 a side output, and a Resizing layer
    comes before a BatchNormalization (Keras runs such a BatchNormalization in training mode when
    the model is called without `training`, as `model.export` calls it)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    x = keras.layers.Resizing(SIZE, SIZE)(x)
    x = keras.layers.BatchNormalization()(x)
    side = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="side")(x)
    refined = keras.layers.Conv2D(1, 1, activation="sigmoid", name="refined")(
        keras.layers.Concatenate()([x, side]))
    return keras.Model(inputs, [refined, side], name="basnet_like")


def test_a_multi_output_model_exports_output_0(tmp_path, monkeypatch):
    trained = two_output_model()
    rng = np.random.default_rng(5)
    for weight in trained.weights:  # moving statistics far from a batch's own
        scale = 2.0 if "moving_variance" in weight.path else 0.5
        weight.assign(np.abs(rng.normal(0, scale, weight.shape)).astype("float32"))
    (tmp_path / "models").mkdir()
    weights_view(trained).save_weights(str(tmp_path / "models" / "best_model.weights.h5"))
    config = write_config(tmp_path / "c.config", {
        "model": small_model_section(SIZE), "train": {"model_dir": str(tmp_path / "models")},
    })
    monkeypatch.setattr(TensorflowUNetExporter, "create_model",
                        lambda config: SimpleNamespace(model=two_output_model()))
    export = Exporter(config).export()
    x = batch()
    refined, side = trained.predict(x, verbose=0)
    saved = tf.saved_model.load(os.path.join(export, "saved_model"))  # kept: its variables die with it
    served = saved.serve(tf.constant(x)).numpy()
    np.testing.assert_allclose(served, refined, atol=1e-5)
    np.testing.assert_allclose(saved.serve(tf.constant(x)).numpy(), served, atol=1e-6)  # no state changes
    assert np.abs(served - side).max() > 1e-2  # really output 0, not the side output
    reloaded = keras.saving.load_model(os.path.join(export, "TensorflowUNet.keras"))
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), refined, atol=1e-5)


@pytest.mark.slow
def test_the_registrys_basnet_exports_its_refined_output(tmp_path):
    from test_model_basnet import SMALL, randomize

    config = write_config(tmp_path / "c.config", {"model": SMALL, "train": {"model_dir": str(tmp_path / "models")}})
    trained = create_model(ConfigParser(config)).model
    randomize(trained)
    (tmp_path / "models").mkdir()
    weights_view(trained).save_weights(str(tmp_path / "models" / "best_model.weights.h5"))
    export = Exporter(config).export()
    x = np.random.default_rng(2).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    saved = tf.saved_model.load(os.path.join(export, "saved_model"))
    np.testing.assert_allclose(saved.serve(tf.constant(x)).numpy(), trained.predict(x, verbose=0)[0], atol=1e-4)


def test_the_pancreas_t1_export_scripts(tmp_path):
    sh, bat = os.path.join(PROJECT, "export.sh"), os.path.join(PROJECT, "export.bat")
    assert os.access(sh, os.X_OK)
    with open(sh) as f:
        assert f.readline() == "#!/bin/sh\n"
    with open(bat, "rb") as f:
        assert f.read() == b"python ../../../src/TensorflowUNetExporter.py ./train_eval_infer.config\r\n"
    folder = project_copy(str(tmp_path), size=64, num_layers=3, epochs=1)
    config = ConfigParser(os.path.join(folder, "train_eval_infer.config"))
    model = create_model(config).model
    os.makedirs(os.path.join(folder, "models"))
    weights_view(model).save_weights(os.path.join(folder, "models", "best_model.weights.h5"))
    env = dict(os.environ, PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run("./export.sh --quiet", shell=True, cwd=folder, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert os.path.isfile(os.path.join(folder, "models", "export", "saved_model", "saved_model.pb"))
