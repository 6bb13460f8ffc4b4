"""[image] normalize = "zscore": per-image standardisation in training and inference, and what it replaces."""

import cv2
import numpy as np
import pytest
from conftest import config_text, small_model_section

from ConfigParser import ConfigParser
from errors import ConfigError
from ImagePreprocessor import ImagePreprocessor, zscore_stats
from ModelRegistry import create_model


def _config(model=None, image=None, dataset=None) -> ConfigParser:
    sections = {"model": {**small_model_section(32), **(model or {})}}
    if image:
        sections["image"] = image
    if dataset:
        sections["dataset"] = dataset
    return ConfigParser.from_string(config_text(sections))


def test_each_image_gets_mean_zero_and_sd_one_in_float32(tmp_path):
    rng = np.random.default_rng(0)
    bgr = rng.integers(40, 200, (32, 32, 3), dtype=np.uint8)
    path = str(tmp_path / "a.png")
    cv2.imwrite(path, bgr)
    image, _ = ImagePreprocessor(_config(image={"normalize": "zscore"})).read(path)
    assert image.dtype == np.float32 and image.shape == (32, 32, 3)
    assert abs(float(image.mean())) < 1e-5 and float(image.std()) == pytest.approx(1.0, abs=1e-5)
    rgb = bgr[..., ::-1].astype(np.float64)  # the default colour order is RGB
    np.testing.assert_allclose(image, (rgb - rgb.mean()) / rgb.std(), atol=1e-5)


def test_z_scores_ignore_image_normalize_and_a_constant_image_becomes_zero():
    preprocessor = ImagePreprocessor(_config(image={"normalize": "zscore"}, dataset={"image_normalize": True}))
    ramp = np.arange(64, dtype=np.uint8).reshape(8, 8, 1)
    np.testing.assert_allclose(preprocessor.finish(ramp), (ramp - 31.5) / ramp.std(), atol=1e-5)
    assert not preprocessor.finish(np.full((8, 8, 1), 77, np.uint8)).any()
    assert zscore_stats(np.full((4, 4), 9, np.uint8)) == (9.0, 1.0)
    # given statistics (tiled inference: the whole image's) are used instead of the window's own
    np.testing.assert_allclose(preprocessor.finish(ramp, (10.0, 2.0)), (ramp - 10.0) / 2.0)


def test_the_default_leaves_uint8_values_as_they_were():
    preprocessor = ImagePreprocessor(_config())
    image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
    assert preprocessor.dtype == "uint8" and preprocessor.finish(image) is image


@pytest.mark.parametrize("family, key", [("TensorflowUNet", "input_normalize"), ("TensorflowMultiResUNet", None)])
def test_zscore_replaces_the_models_division_by_255_with_a_notice(family, key, capsys):
    model = {"model": family, "num_layers": 3} | ({key: True} if key else {})
    scaled = create_model(_config(model=model)).model
    assert any(layer.__class__.__name__ == "Rescaling" for layer in scaled.layers)
    assert capsys.readouterr().out.count("zscore") == 0
    z = create_model(_config(model=model, image={"normalize": "zscore"})).model
    assert not any(layer.__class__.__name__ == "Rescaling" for layer in z.layers)
    assert 'normalize = "zscore"' in capsys.readouterr().out
    assert z.count_params() == scaled.count_params()


def test_a_misspelled_value_and_pretrained_weights_are_refused():
    with pytest.raises(ConfigError, match=r"\[image\] normalize"):
        _config(image={"normalize": "z-score"})
    config = _config(model={"model": "TensorflowEfficientUNet", "weights": "imagenet"},
                     image={"normalize": "zscore"})
    with pytest.raises(ConfigError, match=r"\[image\] normalize.*0-255"):
        create_model(config)


def test_a_z_scored_project_trains_augmented_and_infers(tmp_path, generated_data, monkeypatch, capsys):
    from conftest import make_project

    import TensorflowUNetInferencer
    import TensorflowUNetTrainer
    from data_pipeline import PairReader, make_dataset
    from ImageMaskDataset import ImageMaskDataset

    folder = make_project(tmp_path, generated_data, model=small_model_section(64, generator=True,
                                                                                  input_normalize=True),
                          image={"normalize": "zscore"}, dataset={"debug": True, "debug_max": 2},
                          train={"epochs": 1, "steps_per_epoch": 3, "validation_steps": 1},
                          generator={"augmentation": True}, augmentor={"hflip": True, "rotation": False})
    monkeypatch.chdir(folder)
    config = ConfigParser("./train_eval_infer.config")
    dataset = ImageMaskDataset(config)
    x, _ = next(iter(make_dataset(dataset.pairs("train"), PairReader(dataset), 4)))
    x = x.numpy()
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(1, 2, 3)), 1, atol=1e-4)
    assert TensorflowUNetTrainer.main([]) == 0
    assert 'normalize = "zscore"' in capsys.readouterr().out
    picture = cv2.imread(str(tmp_path / "project" / "dataset_images" / sorted(
        p.name for p in (tmp_path / "project" / "dataset_images").iterdir())[0]))
    assert picture.min() == 0 and picture.max() == 255  # stretched to be seen, not clipped to 0/1
    assert TensorflowUNetInferencer.main([]) == 0
    assert len(list((tmp_path / "project" / "mini_test_output").glob("*.jpg"))) == 3
