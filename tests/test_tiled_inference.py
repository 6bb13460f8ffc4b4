"""Tiled inference (TiledInferencer, tiling.py, EpochChangeTiledInferencer; docs/differences.md TI1–TI8).

Most tests use a pointwise model, a fixed 1×1 convolution and a sigmoid, whose
right answer is known at every pixel: the model applied to that pixel alone.
"""

import math
import os
import sys
import types

import cv2
import keras
import numpy as np
import pytest
from conftest import REPO, config_text, make_project, small_model_section
from PIL import Image

import TensorflowUNetTrainer
import tiling
from binarize import binarize
from ConfigParser import ConfigParser
from EpochChangeTiledInferencer import EpochChangeTiledInferencer
from errors import ConfigError, DataError
from ImagePreprocessor import ImagePreprocessor
from Inferencer import Inferencer
from TiledInferencer import TiledInferencer

WEIGHTS, BIAS = (0.012, -0.008, 0.01), -0.5  # per (r, g, b): outputs spread over (0.2, 0.9)


def pointwise_model(size=32, weights=WEIGHTS, bias=BIAS):
    """Input → Conv2D(1, 1) with fixed weights and bias → sigmoid."""
    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.array(weights, np.float32).reshape(1, 1, 3, 1), np.array([bias], np.float32)])
    return model


def exact(bgr, weights=WEIGHTS, bias=BIAS):
    """The pointwise model at every pixel of a BGR image, in float64 (it sees RGB, not normalised)."""
    return 1 / (1 + np.exp(-(bgr[..., ::-1].astype(np.float64) @ np.array(weights) + bias)))


def noise(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


def setup(tmp_path, images, tiledinfer=None, model=None, size=32, **sections):
    """A config over `tmp_path/images`, holding `images` ({file name: array}), writing to `tmp_path/out`."""
    folder = tmp_path / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        cv2.imwrite(str(folder / name), image)
    values = {
        "model": model or small_model_section(size),
        "tiledinfer": {"images_dir": str(folder), "output_dir": str(tmp_path / "out"), "split_size": 24,
                       "overlapping": 4, "bitwise_blending": False, **(tiledinfer or {})},
        "segmentation": {"colorize": False},
        **sections,
    }
    return ConfigParser.from_string(config_text(values), "t.config")


class CountingModel:
    """A model that counts its calls."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def predict_on_batch(self, x):
        self.calls += 1
        return self.model.predict_on_batch(x)


class MeanModel:
    """Predicts, everywhere in a window, the window's mean grey level / 255: not pointwise."""

    def predict_on_batch(self, x):
        means = np.asarray(x, np.float32).mean(axis=(1, 2, 3), keepdims=True) / 255
        return np.broadcast_to(means, x.shape[:3] + (1,)).copy()


class RedClassModel:
    """Three classes, pointwise: class 1 where red > 127, else class 2 (class 0 never wins)."""

    def predict_on_batch(self, x):
        red = np.asarray(x, np.float32)[..., 0] / 255
        return np.stack([np.full_like(red, 0.01), red, 1 - red], axis=-1)


# === Tiles give the model at native resolution ===

@pytest.mark.parametrize("blending", ["paste", "gaussian"])
@pytest.mark.parametrize("split, overlapping", [(24, 4), (32, 0)])
def test_tiles_of_a_pointwise_model_give_the_model_at_every_pixel(tmp_path, blending, split, overlapping):
    # 101 × 77: odd and not square, so the last row and column of tiles are 5 (or 13) px, less than the model.
    image = noise(101, 77)
    config = setup(tmp_path, {"a.png": image},
                   tiledinfer={"split_size": split, "overlapping": overlapping, "blending": blending})
    prediction = TiledInferencer(pointwise_model(32), config).predict([image])[0]
    assert prediction.shape == (101, 77, 1)
    np.testing.assert_allclose(prediction[..., 0], exact(image), rtol=0, atol=1e-5)


def test_mirroring_a_pointwise_model_changes_nothing_and_takes_four_passes(tmp_path):
    image = noise(101, 77, seed=1)
    batches = math.ceil(len(tiling.grid(101, 77, 24, 4)) / 8)  # 8 windows per model call
    maps, calls = {}, {}
    for mirror in (False, True):
        model = CountingModel(pointwise_model(32))
        config = setup(tmp_path, {"a.png": image}, tiledinfer={"mirror": mirror})
        maps[mirror] = TiledInferencer(model, config).predict([image])[0]
        calls[mirror] = model.calls
    assert calls == {False: batches, True: 4 * batches}
    np.testing.assert_allclose(maps[True], maps[False], rtol=0, atol=1e-6)
    np.testing.assert_allclose(maps[True][..., 0], exact(image), rtol=0, atol=1e-5)


# === Written files ===

def test_masks_keep_the_inputs_file_name_format_and_size_and_grey_inputs_merge(tmp_path):
    grey = cv2.cvtColor(noise(45, 70, seed=3), cv2.COLOR_BGR2GRAY)
    images = {"a.jpg": noise(61, 90, seed=1), "b.png": noise(90, 61, seed=2), "g.png": grey}
    config = setup(tmp_path, images, tiledinfer={"merged_dir": str(tmp_path / "merged")})
    written = TiledInferencer(pointwise_model(32), config).infer()
    assert [os.path.basename(p) for p in written] == ["a.jpg", "b.png", "g.png"]
    for name, image in images.items():
        for folder in ("out", "merged"):
            assert Image.open(tmp_path / folder / name).size == (image.shape[1], image.shape[0])
    # Lossless PNG: the soft map's 8-bit levels, pixel for pixel (±1 where p·255 is within 1e-5·255 of a level).
    mask = cv2.imread(str(tmp_path / "out" / "b.png"), cv2.IMREAD_GRAYSCALE)
    expected = np.floor(exact(cv2.imread(str(tmp_path / "images" / "b.png"))) * 255)
    assert np.abs(mask - expected).max() <= 1
    merged = cv2.imread(str(tmp_path / "merged" / "g.png"))
    read = cv2.imread(str(tmp_path / "images" / "g.png"))
    assert (merged >= read).all() and (merged > read).any()  # the mask added on top, saturating


def test_several_classes_are_written_as_label_maps_at_the_inputs_size(tmp_path):
    image = np.zeros((45, 70, 3), np.uint8)
    image[:, :30, 2] = 230  # red on the left (BGR), black on the right
    model = small_model_section(32, num_classes=3, loss="categorical_crossentropy")
    config = setup(tmp_path, {"a.jpg": image}, model=model)
    written = TiledInferencer(RedClassModel(), config).infer()
    assert [os.path.basename(p) for p in written] == ["a.png"]
    labels = cv2.imread(str(tmp_path / "out" / "a.png"), cv2.IMREAD_UNCHANGED)
    read = cv2.imread(str(tmp_path / "images" / "a.jpg"))  # JPEG-decoded, as the model saw it
    np.testing.assert_array_equal(labels, np.where(read[..., 2] / 255 > 0.5, 1, 2))


# === Bitwise blending ===

def test_bitwise_blending_keeps_the_minimum_of_the_tiled_and_whole_image_maps(tmp_path):
    image = np.full((60, 90, 3), 40, np.uint8)
    image[:, :40] = 200  # bright tiles predict above the whole image's mean, dark tiles below
    tiled = TiledInferencer(MeanModel(), setup(tmp_path, {"a.png": image})).predict([image])[0]
    config = setup(tmp_path, {}, tiledinfer={"bitwise_blending": True})
    whole = ImagePreprocessor(config).prepare(image).mean() / 255  # MeanModel on the whole image
    assert (tiled > whole + 0.1).any() and (tiled < whole - 0.1).any()
    blended = TiledInferencer(MeanModel(), config).predict([image])[0]
    np.testing.assert_allclose(blended, np.minimum(tiled, whole), rtol=0, atol=1e-6)


def test_bitwise_blending_is_the_default():
    config = ConfigParser.from_string(config_text({"tiledinfer": {"images_dir": "x"}}))
    assert config.get("tiledinfer", "bitwise_blending") is True


# === Binarisation ===

@pytest.mark.parametrize("algorithm, threshold", [("cv2.THRESH_OTSU", 127), ("THRESH_OTSU", 127), (None, 100)])
def test_binarize_writes_0_and_255_only(tmp_path, algorithm, threshold):
    image = np.zeros((50, 80, 3), np.uint8)
    image[:] = np.linspace(0, 255, 80).astype(np.uint8)[np.newaxis, :, np.newaxis]  # a ramp: many soft levels
    tiledinfer = {"binarize": True, "algorithm": algorithm, "threshold": threshold}
    TiledInferencer(pointwise_model(32), setup(tmp_path, {"a.png": image}, tiledinfer=tiledinfer)).infer()
    mask = cv2.imread(str(tmp_path / "out" / "a.png"), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(mask)) == {0, 255}
    soft = np.floor(exact(image) * 255).astype(np.uint8)
    assert len(np.unique(soft)) > 20  # so the 0/255 output is the thresholding's doing
    if algorithm is None:
        expected = np.where(soft >= threshold, 255, 0)
    else:
        expected = cv2.threshold(soft, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    assert (mask != expected).mean() < 0.01  # a level may differ where p·255 is within 1e-5 of an integer


def test_an_unknown_algorithm_is_an_error_naming_the_key(tmp_path):
    config = setup(tmp_path, {"a.png": noise(8, 8)}, tiledinfer={"binarize": True, "algorithm": "cv2.THRESH_OTSUU"})
    with pytest.raises(ConfigError, match=r"\[tiledinfer\] algorithm = 'cv2.THRESH_OTSUU': .*did you mean "
                                          r"'cv2.THRESH_OTSU'"):
        TiledInferencer(pointwise_model(32), config)


# === The original's algorithm, written from the spec ===

def spec_tiled_inference(path, model, size, split, margin, bitwise, threshold_with):
    """../shared/spec/original-toolkit.md §6.3, steps 1–6, on one file, with this toolkit's fixes
    TI1 (each tile pastes split, not model width), TI2 (minimum, not bitwise AND) and TI3 (the
    algorithm looked up: `threshold_with` is a function of a uint8 array)."""
    image = Image.open(path).convert("RGB")
    width, height = image.size

    def predict(picture):  # colour order does not matter: the model weighs r, g and b alike
        return np.asarray(model.predict_on_batch(np.asarray(picture, np.float32)[np.newaxis]))[0, ..., 0]

    whole = (predict(image.resize((size, size), Image.BICUBIC)) * 255).astype(np.uint8)
    whole = cv2.resize(threshold_with(whole), (width, height), interpolation=cv2.INTER_NEAREST)
    canvas = Image.new("L", (width, height), 0)
    for row in range(math.ceil(height / split)):
        for column in range(math.ceil(width / split)):
            left, upper = split * column, split * row
            right, lower = left + split, upper + split
            lm, um = (0 if left - margin < 0 else margin), (0 if upper - margin < 0 else margin)
            rm, bm = (0 if right + margin > width else margin), (0 if lower + margin > height else margin)
            crop = image.crop((left - lm, upper - um, right + rm, lower + bm))  # PIL pads past the image black
            crop_width, crop_height = crop.size
            prediction = predict(crop.resize((size, size), Image.BICUBIC))
            mask = Image.fromarray((prediction * 255).astype(np.uint8)).convert("RGB")
            mask = mask.resize((crop_width, crop_height), Image.BICUBIC)
            mask = mask.crop((lm, um, min(lm + split, crop_width), min(um + split, crop_height)))
            canvas.paste(mask.convert("L"), (left, upper))
    out = np.asarray(canvas)
    if bitwise:
        out = threshold_with(np.minimum(whole, out))
    return threshold_with(out)


def disc_fixture(width, height, centre, radius, seed):
    """A bright disc on dark noise, grey in three channels."""
    rng = np.random.default_rng(seed)
    grey = rng.normal(60, 12, (height, width))
    disc = np.zeros((height, width), np.uint8)
    cv2.circle(disc, centre, radius, 255, -1)
    grey[disc > 0] += 120
    return cv2.cvtColor(grey.clip(0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("bitwise, iou", [(False, 0.99), (True, 0.97)], ids=["tiles", "tiles-and-whole"])
def test_outputs_agree_with_the_originals_algorithm_as_the_spec_describes_it(tmp_path, bitwise, iou):
    # Discs running off the bottom-right and bottom-left edges, so border tiles hold foreground.
    images = {"disc.png": disc_fixture(300, 220, (215, 150), 80, seed=0),
              "tall.jpg": disc_fixture(220, 300, (60, 240), 70, seed=1)}
    model = pointwise_model(32, weights=(0.04 / 3,) * 3, bias=-4.8)  # smooth: 0.08 on the noise, 0.92 on discs
    # INTER_AREA: cv2's nearest to the antialiased PIL bicubic the original shrank the whole image with.
    config = setup(tmp_path, images, dataset={"resize_interpolation": "cv2.INTER_AREA"},
                   tiledinfer={"bitwise_blending": bitwise, "binarize": True, "algorithm": "cv2.THRESH_OTSU"})
    written = TiledInferencer(model, config).infer()
    assert sorted(os.path.basename(p) for p in written) == sorted(images) == sorted(os.listdir(tmp_path / "out"))
    for name in images:
        reference = spec_tiled_inference(str(tmp_path / "images" / name), model, 32, 24, 4, bitwise,
                                         lambda mask: binarize(mask, cv2.THRESH_OTSU, 127)) >= 128
        ours = cv2.imread(str(tmp_path / "out" / name), cv2.IMREAD_GRAYSCALE) >= 128
        assert ours.shape == reference.shape == images[name].shape[:2]
        # Not exact: the original's border tiles drop their margins and are resampled twice (PIL bicubic),
        # where ours keep them at model size; and with bitwise blending its 32-px whole-image mask is
        # binarised, then enlarged ≈9× by nearest neighbour, where ours is enlarged bilinearly as
        # probabilities and binarised after the minimum: the whole-image edge moves by a few pixels.
        assert (ours & reference).sum() / (ours | reference).sum() >= iou


# === Bad input ===

@pytest.mark.parametrize("key, value, message", [
    ("split_size", 0, "expected an integer >= 1"), ("overlapping", -1, "expected an integer >= 0"),
])
def test_bad_tile_geometry_is_an_error_naming_the_key(tmp_path, key, value, message):
    with pytest.raises(ConfigError, match=rf"\[tiledinfer\] {key} = {value}: {message}"):
        setup(tmp_path, {}, tiledinfer={key: value})


def test_a_missing_images_dir_is_an_error_naming_it(tmp_path):
    unset = config_text({"model": small_model_section(32), "tiledinfer": {"output_dir": "out"}})
    with pytest.raises(ConfigError, match=r"\[tiledinfer\] images_dir \(not set\): this key is required"):
        TiledInferencer(pointwise_model(32), ConfigParser.from_string(unset))
    config = setup(tmp_path, {}, tiledinfer={"images_dir": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError, match=r"\[tiledinfer\] images_dir = '.*nowhere': .*nowhere does not exist"):
        TiledInferencer(pointwise_model(32), config)


def test_an_unreadable_image_is_an_error_naming_it_and_nothing_written_is_lost(tmp_path):
    config = setup(tmp_path, {"a.png": noise(30, 40)})
    (tmp_path / "images" / "b.png").write_bytes(b"not a PNG")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("a researcher's note")
    with pytest.raises(DataError, match=r"b\.png: not a readable image"):
        TiledInferencer(pointwise_model(32), config).infer()
    assert (tmp_path / "out" / "keep.txt").read_text() == "a researcher's note"


# === Memory ===

@pytest.mark.slow  # 17-30 s of CI; benchmarks/tiled_inference.py prints the figure
def test_an_8192_px_image_stays_under_3_gb(tmp_path):
    # In its own process (benchmarks/tiled_inference.py), so the peak is this image's: TensorFlow itself
    # takes ≈0.6 GB; the image (192 MiB), its tiles' mosaic and Gaussian weights (256 MiB each), the
    # whole-image pass of bitwise blending and the writer add ≈1.1 GB (≈30 s on 2 busy cores).
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    import tiled_inference

    args = tiled_inference.parse(["--model", "pointwise", "--model-size", "128", "--overlapping", "8",
                                  "--blending", "gaussian", "--merged"])
    figures = tiled_inference.measure(8192, args)
    assert figures["output_sizes"] == [[8192, 8192]]
    assert figures["peak_rss_mib"] * 2**20 < 3e9, figures


# === Per-epoch tiled previews ===

def test_epoch_change_tiled_previews_take_the_first_images_with_their_extensions(tmp_path):
    images = {"c.png": noise(40, 50, seed=1), "a.jpg": noise(50, 40, seed=2), "b.png": noise(33, 33, seed=3)}
    config = setup(tmp_path, images, train={"epoch_change_tiledinfer_dir": str(tmp_path / "tiled"),
                                            "num_infer_images": 2})
    callback = EpochChangeTiledInferencer(pointwise_model(32), config)
    for epochs_done in (1, 2):  # TrainingState hands itself over after each commit
        callback.after_commit(types.SimpleNamespace(epochs_done=epochs_done))
    assert sorted(os.listdir(tmp_path / "tiled")) == ["Epoch_1_a.jpg", "Epoch_1_b.png", "Epoch_2_a.jpg",
                                                      "Epoch_2_b.png"]
    assert Image.open(tmp_path / "tiled" / "Epoch_2_b.png").size == (33, 33)
    assert not (tmp_path / "out").exists()  # [tiledinfer] output_dir is 4.tiled_infer's


def test_training_with_epoch_change_tiledinfer_writes_tiled_previews(tmp_path, generated_data, monkeypatch):
    folder = make_project(
        tmp_path, generated_data,
        train={"epochs": 1, "epoch_change_infer": False, "epoch_change_tiledinfer": True},
        tiledinfer={"images_dir": "./mini_test/images", "output_dir": "./tiled_out", "split_size": 40,
                    "overlapping": 12},
    )
    monkeypatch.chdir(folder)
    assert TensorflowUNetTrainer.main(["./train_eval_infer.config"]) == 0
    assert sorted(os.listdir("epoch_change_tiledinfer")) == ["Epoch_1_1005_0.jpg", "Epoch_1_1005_1.jpg"]
    assert Image.open("epoch_change_tiledinfer/Epoch_1_1005_0.jpg").size == (64, 64)
    assert not os.path.exists("epoch_change_infer") and not os.path.exists("tiled_out")


def test_whole_image_and_tiled_inference_read_images_alike(tmp_path):
    # Colour order and [image] steps: the same pointwise map whether whole (model-sized input) or tiled.
    image = noise(32, 32, seed=4)
    config = setup(tmp_path, {"a.png": image}, image={"gamma": 0.8, "reverse": True},
                   dataset={"color_order": "bgr"}, infer={"images_dir": str(tmp_path / "images"),
                                                          "output_dir": str(tmp_path / "o")})
    whole = Inferencer(pointwise_model(32), config).predict([image])[0]
    tiled = TiledInferencer(pointwise_model(32), config).predict([image])[0]
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-5)
