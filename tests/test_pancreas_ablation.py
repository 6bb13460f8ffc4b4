"""benchmarks/pancreas_ablation.py's data preparation feeds the model what the dataset would read."""

import os
import shutil
import sys
import warnings

import cv2
import numpy as np
import pytest
from conftest import config_text, small_model_section

from ConfigParser import ConfigParser, ConfigWarning
from ImageMaskAugmentor import ImageMaskAugmentor
from ImageMaskDataset import ImageMaskDataset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import pancreas_ablation  # noqa: E402


def test_resized_masks_hold_the_jpeg_foreground_not_its_fringe(tmp_path):
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for kind in ("images", "masks"):
        (data / kind).mkdir(parents=True)
    for v in range(6):
        image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        mask = np.zeros((64, 64), np.uint8)
        cv2.circle(mask, (30, 30), 12, 255, -1)
        cv2.imwrite(str(data / "images" / f"P_{v:04d}-100.jpg"), image)
        cv2.imwrite(str(data / "masks" / f"P_{v:04d}-100.jpg"), mask, [cv2.IMWRITE_JPEG_QUALITY, 60])
    root = pancreas_ablation.prepare(str(data), str(tmp_path / "work"), 32, 2, 137)
    assert os.path.isfile(os.path.join(root, "splits.json"))
    sections = {"model": small_model_section(32), "train": {"image_datapath": str(data / "images"),
                                                            "mask_datapath": str(data / "masks")}}
    dataset = ImageMaskDataset(ConfigParser.from_string(config_text(sections)))
    for name in os.listdir(data / "masks"):
        written = cv2.imread(str(tmp_path / "work" / "master" / "masks" / name.replace(".jpg", ".png")), 0)
        assert set(np.unique(written)) <= {0, 255}
        jpeg = cv2.imread(str(data / "masks" / name), 0)
        assert ((jpeg > 0) & (jpeg < 128)).any()  # the fringe this guards against is there
        read, _ = dataset.read_mask(str(data / "masks" / name))  # what training on the JPEG would see
        np.testing.assert_array_equal(written > 0, cv2.resize(read[..., 0], (32, 32),
                                                              interpolation=cv2.INTER_NEAREST) > 0)


def test_crop_keeps_the_centred_square_and_refuses_to_cut_a_mask(tmp_path):
    data = tmp_path / "data"
    for kind in ("images", "masks"):
        (data / kind).mkdir(parents=True)
    rows = np.arange(64, dtype=np.uint8)[:, None].repeat(64, axis=1)  # intensity = row index
    for v in range(4):
        mask = np.zeros((64, 64), np.uint8)
        mask[24:40, 20:36] = 255
        cv2.imwrite(str(data / "images" / f"P_{v:04d}-100.png"), np.dstack([rows] * 3))
        cv2.imwrite(str(data / "masks" / f"P_{v:04d}-100.png"), mask)
    work = tmp_path / "work"
    pancreas_ablation.prepare(str(data), str(work), 32, 2, 137, crop=32)  # of 64 px slices
    image = cv2.imread(str(work / "master" / "images" / "P_0000-100.png"), 0)
    np.testing.assert_array_equal(image[:, 0], np.arange(16, 48))  # rows 16..47, one to one
    mask = cv2.imread(str(work / "master" / "masks" / "P_0000-100.png"), 0)
    assert np.count_nonzero(mask) == 16 * 16 and mask[8:24, 4:20].all()
    source = pancreas_ablation.source_test_split(str(data), str(work), 32, 1)  # for scoring at source px
    tests = sorted(os.listdir(work / "folds" / "fold_1" / "test" / "images"))
    assert tests and sorted(os.listdir(os.path.join(source, "images"))) == tests
    for name in tests:
        image = cv2.imread(os.path.join(source, "images", name), 0)
        np.testing.assert_array_equal(image[:, 0], np.arange(16, 48))  # the same crop, not downsized
        mask = cv2.imread(os.path.join(source, "masks", name), 0)
        assert mask.shape == (32, 32) and np.count_nonzero(mask == 255) == 16 * 16
    with pytest.raises(SystemExit, match="not .*use another --work folder"):  # no mixing of two recipes
        pancreas_ablation.prepare(str(data), str(work), 32, 2, 137, crop=48)
    with pytest.raises(SystemExit, match="cuts foreground of .*P_0000-100.png"):
        pancreas_ablation.prepare(str(data), str(tmp_path / "narrow"), 16, 2, 137, crop=16)


def test_training_rows_train_within_the_budget_and_eval_rows_score_their_source(tmp_path, monkeypatch):
    """The steps each row hands CrossValidator, without running them."""
    calls = []

    class Done:
        returncode = 0

    def record(args, **kwargs):
        calls.append(args)
        return Done()

    monkeypatch.setattr(pancreas_ablation.subprocess, "run", record)
    root = tmp_path / "folds"
    work = tmp_path / "work"
    pancreas_ablation.run_row("shipped", str(work), str(root), 2, 480, 128, 137, None)
    steps = calls[-1][2]
    assert "'train'" in steps and "cpu_budget.py', '480'" in steps and "TensorflowUNetTrainer.py" in steps
    config = ConfigParser(str(work / "rows" / "shipped" / "train_eval_infer.config"))
    assert config.get("train", "image_datapath") == str(root / "fold_1" / "train" / "images")
    assert config.get("test", "mask_datapath") == str(root / "fold_1" / "test" / "masks")
    for k in (1, 2):
        (work / "rows" / "augment" / f"fold_{k}").mkdir(parents=True)
        (work / "rows" / "augment" / f"fold_{k}" / "cpu_budget.json").write_text('{"cpu_s": 1}')
    pancreas_ablation.run_row("mirror", str(work), str(root), 2, 480, 128, 137, None)  # builds on largest
    steps = calls[-1][2]
    assert "'train'" not in steps and "TensorflowUNetEvaluator.py" in steps
    for k in (1, 2):  # largest is an eval row too: the models are augment's, the training row below both
        link = work / "rows" / "mirror" / f"fold_{k}" / "models"
        assert os.readlink(link) == str(work / "rows" / "augment" / f"fold_{k}" / "models")
    config = ConfigParser(str(work / "rows" / "mirror" / "train_eval_infer.config"))
    assert config.get("infer", "mirror") is True and config.get("infer", "largest_component") is True


def test_mild_aug_row_trains_unet5_on_rotations_shrinks_and_shears_without_flips(tmp_path):
    """The recommended config's augmentation as the ablation writes it: a valid config, no flips."""
    sections, kind = pancreas_ablation.row_config("mild_aug", 128, None)
    path = tmp_path / "mild.config"
    path.write_text(pancreas_ablation.render(sections))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # every key known and consistent
        config = ConfigParser(str(path))
    assert kind == "train" and config.get("model", "generator") is True
    assert config.get("model", "num_layers") == 5 and config.get("image", "normalize") == "zscore"
    augmentor = ImageMaskAugmentor(config)
    assert not augmentor.hflip and not augmentor.vflip
    assert augmentor.choices == 1 + 4 + 1 + 2  # the image itself, 4 rotations, 1 shrink, 2 shears


def test_strong_aug_row_adds_warps_and_larger_variants_to_mild_aug_without_flips(tmp_path):
    sections, kind = pancreas_ablation.row_config("strong_aug", 128, None)
    path = tmp_path / "strong.config"
    path.write_text(pancreas_ablation.render(sections))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        config = ConfigParser(str(path))
    assert kind == "train" and config.get("train", "patience") == 15
    assert config.get("image", "normalize") == "zscore" and config.get("model", "num_layers") == 5
    augmentor = ImageMaskAugmentor(config)
    assert not augmentor.hflip and not augmentor.vflip
    # the image, 6 rotations, 2 shrinks, 4 shears, 1 elastic deformation, 2 distortions
    assert augmentor.choices == 1 + 6 + 2 + 4 + 1 + 2
    augmentor.check()


def test_generator_rows_keep_an_epoch_one_pass_over_each_folds_slices(tmp_path, monkeypatch):
    class Done:
        returncode = 0

    monkeypatch.setattr(pancreas_ablation.subprocess, "run", lambda args, **kwargs: Done())
    root = tmp_path / "folds"

    def split(counts):  # {fold: (training slices, validation slices)}
        shutil.rmtree(root, ignore_errors=True)
        for k, sizes in counts.items():
            for name, n in zip(("train", "valid"), sizes):
                (root / f"fold_{k}" / name / "images").mkdir(parents=True)
                for i in range(n):
                    (root / f"fold_{k}" / name / "images" / f"{i}.png").touch()

    def steps(work, folds):
        pancreas_ablation.run_row("mild_aug", str(work), str(root), folds, 480, 128, 137, None)
        config = ConfigParser(str(work / "rows" / "mild_aug" / "train_eval_infer.config"))
        return config.get("train", "steps_per_epoch"), config.get("train", "validation_steps")

    split({1: (144, 67), 2: (157, 67)})  # the 2-fold split the steps were sized for: unchanged
    assert steps(tmp_path / "two", 2) == (38, 17)
    split({k: (240 + 2 * k, 100 + k) for k in range(1, 6)})  # 5 folds: 246 and 103 slices per fold on average
    assert steps(tmp_path / "five", 5) == (round(38 * 246 / 150.5), round(17 * 103 / 67))  # 62, 26
