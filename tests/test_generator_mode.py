"""Training on the augmented stream: `[model] generator = True`."""

import os
import re

import numpy as np
import pytest
from conftest import config_text, make_project, make_split, small_model_section

import TensorflowUNetTrainer
from ConfigParser import ConfigParser
from data_pipeline import AugmentedPairReader, PairReader, make_stream
from ImageMaskAugmentor import ImageMaskAugmentor
from ImageMaskDataset import ImageMaskDataset

AUGMENTOR = {"angles": [30, 60], "shears": [0.1], "deformation": True, "distortion": True,
             "barrdistortion": True, "brightening": True}


@pytest.fixture(scope="module")
def stream_parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    make_split(str(root / "train"), volumes=2, slices=3, size=32)
    sections = {
        "model": small_model_section(32),
        "train": {"image_datapath": str(root / "train/images"), "mask_datapath": str(root / "train/masks")},
        "augmentor": AUGMENTOR,
    }
    config = ConfigParser.from_string(config_text(sections))
    dataset = ImageMaskDataset(config)
    return dataset, dataset.pairs("train"), ImageMaskAugmentor(config)


def samples(reader, count, start=0):
    return [reader(n) for n in range(start, start + count)]


def test_the_same_seed_gives_the_same_augmented_sequence(stream_parts):
    dataset, pairs, augmentor = stream_parts
    first = samples(AugmentedPairReader(dataset, pairs, augmentor, seed=3), 24)
    again = samples(AugmentedPairReader(dataset, pairs, augmentor, seed=3), 24)
    other = samples(AugmentedPairReader(dataset, pairs, augmentor, seed=4), 24)
    assert all((a[0] == b[0]).all() and (a[1] == b[1]).all() for a, b in zip(first, again))
    assert any(not (a[0] == b[0]).all() for a, b in zip(first, other))
    assert {tuple(m.shape) for _, m in first} == {(32, 32, 1)}
    assert all(set(np.unique(m)) <= {0, 1} for _, m in first)


def test_the_stream_is_the_same_through_parallel_tf_data_and_resumes_mid_way(stream_parts):
    dataset, pairs, augmentor = stream_parts
    reader = AugmentedPairReader(dataset, pairs, augmentor, seed=3)
    direct = samples(reader, 8, start=4)
    batches = make_stream(reader, batch_size=4, first_sample=4).take(2)
    streamed = np.concatenate([images.numpy() for images, _ in batches])
    np.testing.assert_array_equal(streamed, np.stack([image for image, _ in direct]).astype(np.float32))


def test_every_pair_is_visited_once_per_cycle(stream_parts):
    dataset, pairs, augmentor = stream_parts
    reader = AugmentedPairReader(dataset, pairs, augmentor, seed=3)
    for cycle in range(3):
        assert sorted(reader.order(cycle)) == list(range(len(pairs)))
    assert list(reader.order(0)) != list(reader.order(1)) or list(reader.order(1)) != list(reader.order(2))


def test_without_augmentation_the_stream_holds_the_plain_images(stream_parts):
    dataset, pairs, augmentor = stream_parts
    reader = AugmentedPairReader(dataset, pairs, augmentor, seed=3, augment=False)
    for n in range(6):
        image, mask = reader(n)
        path = pairs[reader.order(0)[n]]
        plain_image, plain_mask = dataset.read_pair(*path)
        assert (image == plain_image).all() and (mask == plain_mask).all()


def test_generator_training_with_debug_output(tmp_path, generated_data, monkeypatch):
    folder = make_project(
        tmp_path,
        generated_data,
        model=small_model_section(64, generator=True),
        train={"epochs": 2, "batch_size": 2, "steps_per_epoch": 3, "validation_steps": 2,
               "epoch_change_infer": False},
        augmentor=AUGMENTOR,
    )
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main([]) == 0
    with open("eval/train_losses.csv") as f:
        assert len(f.read().splitlines()) == 3
    with open("generate_images.txt") as f:
        log = f.read().splitlines()
    # At most the first 10 batches of 2 are written (the stream prefetches ahead).
    assert 12 <= len(log) <= 20
    assert all(re.fullmatch(r"[01]_10\d\d_\d\.jpg_10\d\d_\d\.png", line) for line in log)
    written = os.listdir("generated_images_dir")
    assert written and sorted(written) == sorted(
        n.replace(".png", ".jpg") for n in os.listdir("generated_masks_dir"))
    known = ("hfliped_", "vfliped_", "rotated_", "shrinked_", "sheared_", "hflipped_", "vflipped_",
             "hvflipped_", "deformed_", "distorted_", "barrdistorted_", "brightened_")
    assert all(re.fullmatch(r"10\d\d_\d\.jpg", n) or n.startswith(known) for n in written)


def test_validation_reads_eval_unaugmented(tmp_path, generated_data, monkeypatch):
    folder = make_project(tmp_path, generated_data, model=small_model_section(64, generator=True),
                          train={"steps_per_epoch": 2, "validation_steps": 7})
    monkeypatch.chdir(folder)  # the debug output goes to the working directory
    trainer = TensorflowUNetTrainer.TensorflowUNetTrainer(os.path.join(folder, "train_eval_infer.config"))
    dataset = ImageMaskDataset(trainer.config)
    train_pairs, valid_pairs = trainer.create_splits(dataset)
    data = trainer.create_datasets(dataset, train_pairs, valid_pairs, ImageMaskAugmentor(trainer.config), 1)
    assert (data.steps, data.validation_steps) == (2, 7)
    assert type(data.readers[1]) is PairReader
    first, second = (np.concatenate([x.numpy() for x, _ in data.valid.take(2)]) for _ in range(2))
    np.testing.assert_array_equal(first, second)  # same images, same order, every time
    # Resumed after epoch 1, the stream continues after 2 steps of 4 samples.
    reader = data.readers[0]
    images, _ = next(iter(data.train))
    np.testing.assert_array_equal(images.numpy(), np.stack([reader(n)[0] for n in range(8, 12)]))


def test_preview_grid_shows_every_variant(tmp_path, stream_parts):
    import cv2

    import AugmentationPreview

    dataset, pairs, _ = stream_parts
    sections = {"model": small_model_section(32), "augmentor": AUGMENTOR}
    config_path = tmp_path / "p.config"
    config_path.write_text(config_text(sections))
    output = tmp_path / "grid.png"
    args = [str(config_path), "--image", pairs[0][0], "--mask", pairs[0][1], "--output", str(output)]
    assert AugmentationPreview.main(args) == 0
    grid = cv2.imread(str(output))
    choices = ImageMaskAugmentor(ConfigParser.from_string(config_text(sections))).choices
    rows = -(-choices // 6)
    assert grid.shape == (rows * (32 + AugmentationPreview.CAPTION), 6 * 32, 3)


def test_preview_arguments_and_output_errors(tmp_path, stream_parts, capsys):
    import AugmentationPreview

    _, pairs, _ = stream_parts
    config_path = tmp_path / "p.config"
    config_path.write_text(config_text({"model": small_model_section(32)}))
    with pytest.raises(SystemExit) as exit_info:
        AugmentationPreview.main([str(config_path), "--image", pairs[0][0]])
    assert exit_info.value.code == 2
    assert "--image and --mask go together" in capsys.readouterr().err
    args = [str(config_path), "--image", pairs[0][0], "--mask", pairs[0][1]]
    assert AugmentationPreview.main(args + ["--output", str(tmp_path / "missing" / "grid.png")]) == 1
    assert capsys.readouterr().err.startswith(f"ERROR: folder {tmp_path / 'missing'} does not exist")
    assert AugmentationPreview.main(args + ["--output", str(tmp_path / "grid.xyz")]) == 1
    assert "cannot encode an image as '.xyz'" in capsys.readouterr().err
