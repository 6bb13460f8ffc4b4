"""`[dataset] debug`: the first training pairs, as the model sees them, on disk."""

import os
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import config_text, make_project, small_model_section

import TensorflowUNetTrainer
from ConfigParser import ConfigParser
from DatasetDebugWriter import DatasetDebugWriter
from ImageMaskDataset import ImageMaskDataset
from TrainingRun import training_settings


def test_a_training_run_writes_the_first_debug_max_pairs(tmp_path, generated_data, monkeypatch, capsys):
    folder = make_project(
        tmp_path, generated_data,
        train={"epochs": 1, "epoch_change_infer": False}, dataset={"debug": True, "debug_max": 3},
    )
    monkeypatch.chdir(folder)
    os.makedirs("dataset_images")
    with open("dataset_images/notes.txt", "w") as f:
        f.write("mine")
    assert TensorflowUNetTrainer.main([]) == 0
    stems = ["1000_0", "1000_1", "1000_2"]  # the first three of the sorted training pairs
    assert sorted(os.listdir("dataset_images")) == [f"{s}.jpg" for s in stems] + ["notes.txt"]
    assert sorted(os.listdir("dataset_masks")) == [f"{s}.png" for s in stems]
    with open("dataset_images/notes.txt") as f:
        assert f.read() == "mine"
    for stem in stems:
        source = cv2.imread(str(generated_data / "train" / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        written = cv2.imread(f"dataset_masks/{stem}.png", cv2.IMREAD_UNCHANGED)
        assert set(np.unique(written)) == {0, 255}
        np.testing.assert_array_equal(written, np.where(source >= 128, 255, 0))
        image = cv2.imread(f"dataset_images/{stem}.jpg")
        original = cv2.imread(str(generated_data / "train" / "images" / f"{stem}.jpg"))
        assert np.abs(image.astype(int) - original).mean() < 3  # the same picture, JPEG-encoded again
    assert "wrote 3 training image/mask pairs to ./dataset_images and ./dataset_masks" in capsys.readouterr().out


class _Stop(Exception):
    pass


@pytest.mark.parametrize("debug", [False, None])
def test_without_debug_nothing_is_written(tmp_path, generated_data, monkeypatch, debug):
    dataset = {} if debug is None else {"debug": debug}
    folder = make_project(tmp_path, generated_data, train={"epochs": 1}, dataset=dataset)
    monkeypatch.chdir(folder)

    def stop(config, strategy=None):
        raise _Stop  # the debug pairs would have been written by now

    monkeypatch.setattr(TensorflowUNetTrainer, "create_model", stop)
    with pytest.raises(_Stop):
        TensorflowUNetTrainer.TensorflowUNetTrainer("./train_eval_infer.config").train()
    assert not os.path.exists("dataset_images") and not os.path.exists("dataset_masks")


def test_debug_settings_keep_a_run_resumable(tmp_path, generated_data, monkeypatch):
    settings = []
    for dataset in ({}, {"debug": True, "debug_max": 7}):
        folder = make_project(tmp_path, generated_data, dataset=dataset)
        monkeypatch.chdir(folder)
        settings.append(training_settings(TensorflowUNetTrainer.TensorflowUNetTrainer("./train_eval_infer.config").config))
    assert settings[0] == settings[1]


def test_normalised_rgb_images_are_written_back_in_their_own_colours(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("images")
    os.makedirs("masks")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    image[..., 2] = 250  # strongly red, so a swapped channel order shows
    mask = np.zeros((16, 16), np.uint8)
    mask[4:9, 5:12] = 255
    cv2.imwrite("images/a.png", image)
    cv2.imwrite("masks/a.png", mask)
    sections = {
        "model": small_model_section(16),
        "dataset": {"image_normalize": True, "color_order": "rgb"},
        "train": {"image_datapath": "images", "mask_datapath": "masks"},
    }
    dataset = ImageMaskDataset(ConfigParser.from_string(config_text(sections)))
    assert dataset.preprocessor.outputs_rgb and dataset.preprocessor.dtype == "float32"
    written = DatasetDebugWriter(dataset.config, dataset).write(dataset.pairs("train"))
    assert written == 1
    np.testing.assert_array_equal(cv2.imread("dataset_images/a.png", cv2.IMREAD_UNCHANGED), image)
    np.testing.assert_array_equal(cv2.imread("dataset_masks/a.png", cv2.IMREAD_UNCHANGED), mask)


def test_class_masks_are_spread_over_the_grey_range(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    classes = np.array([[0, 1], [2, 2]], np.uint8)[..., None]
    dataset = SimpleNamespace(
        read_pair=lambda image_path, mask_path: (np.zeros((2, 2, 3), np.uint8), classes),
        preprocessor=SimpleNamespace(outputs_rgb=False, zscore=False),
    )
    config = ConfigParser.from_string(config_text({"model": small_model_section(16, num_classes=3)}))
    pairs = [(f"in/{n}.jpg", f"in/{n}.png") for n in ("b", "a", "c")]
    assert DatasetDebugWriter(config, dataset).write(pairs) == 3  # fewer than debug_max: all of them
    assert sorted(os.listdir("dataset_masks")) == ["a.png", "b.png", "c.png"]
    np.testing.assert_array_equal(cv2.imread("dataset_masks/a.png", cv2.IMREAD_UNCHANGED), [[0, 127], [254, 254]])
