"""Mask writing, overlays and per-epoch previews, with a stand-in model."""

import os

import cv2
import numpy as np
import pytest
from conftest import config_text, small_model_section, write_keras2_weights
from PIL import Image

from ConfigParser import ConfigParser
from errors import ConfigError, DataError
from Inferencer import Inferencer, Target
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights


class ConstantModel:
    """Predicts the same probability everywhere (left half) and 0 (right half)."""

    def __init__(self, probability):
        self.probability = probability

    def predict_on_batch(self, x):
        out = np.zeros(x.shape[:3] + (1,), np.float32)
        out[:, :, : x.shape[2] // 2] = self.probability
        return out


class ThreeClassModel:
    """Predicts class 1 on the left half and class 2 on the right half."""

    def predict_on_batch(self, x):
        out = np.zeros(x.shape[:3] + (3,), np.float32)
        out[:, :, : x.shape[2] // 2, 1] = 0.8
        out[:, :, x.shape[2] // 2 :, 2] = 0.7
        out[..., 0] = 0.1
        return out


def setup(tmp_path, infer=None, segmentation=None, size=32, images=("b", "a", "c"), model=None, mask=None):
    folder = tmp_path / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for i, stem in enumerate(images):
        image = np.full((30, 40, 3), 250, np.uint8)  # not square, not model-sized
        cv2.imwrite(str(folder / f"{stem}.png"), image)
    sections = {
        "model": model or small_model_section(size),
        "mask": mask or {},
        "infer": {"images_dir": str(folder), "output_dir": str(tmp_path / "out"), **(infer or {})},
        "segmentation": segmentation or {"colorize": True, "black": "black", "white": "green"},
        "train": {"epoch_change_infer_dir": str(tmp_path / "previews"), "num_infer_images": 2},
    }
    return ConfigParser.from_string(config_text(sections), "i.config")


def test_masks_are_written_at_the_inputs_own_size_and_colourised(tmp_path):
    written = Inferencer(ConstantModel(0.8), setup(tmp_path)).infer()
    assert [os.path.basename(p) for p in written] == ["a.jpg", "b.jpg", "c.jpg"]
    mask = np.asarray(Image.open(tmp_path / "out" / "a.jpg"))
    assert mask.shape == (30, 40, 3)
    left, right = mask[:, :15], mask[:, 25:]
    # PIL's "green" is (0, 128, 0): 0.8 → grey 204 → green ≈ 128·204/255 ≈ 102.
    assert abs(int(np.median(left[..., 1])) - 102) <= 3 and left[..., [0, 2]].max() < 20
    assert right.max() < 20


def test_merged_overlays_saturate_instead_of_wrapping(tmp_path):
    config = setup(tmp_path, infer={"merged_dir": str(tmp_path / "merged")}, segmentation={"colorize": False})
    Inferencer(ConstantModel(1.0), config).infer()
    merged = cv2.imread(str(tmp_path / "merged" / "a.png"))  # the input's own name and format
    assert merged.shape == (30, 40, 3)
    assert merged[:, :15].min() == 255  # 250 + 255 saturates; the original wrapped to 249
    assert (merged[:, 25:] == 250).all()


def test_binarize_applies_the_threshold(tmp_path):
    config = setup(tmp_path, infer={"binarize": True, "threshold": 100}, segmentation={"colorize": False})
    Inferencer(ConstantModel(0.6), config).infer()
    mask = cv2.imread(str(tmp_path / "out" / "a.jpg"), cv2.IMREAD_GRAYSCALE)
    assert mask[:, :12].min() > 240 and mask[:, 28:].max() < 15  # 0.6·255 = 153 ≥ 100 → 255


def test_soft_map_without_binarize(tmp_path):
    config = setup(tmp_path, segmentation={"colorize": False})
    Inferencer(ConstantModel(0.6), config).infer()
    mask = cv2.imread(str(tmp_path / "out" / "a.jpg"), cv2.IMREAD_GRAYSCALE)
    assert abs(int(np.median(mask[:, :12])) - 153) <= 3


def test_previews_take_the_first_images_by_name(tmp_path):
    config = setup(tmp_path)
    inferencer = Inferencer(ConstantModel(0.5), config, Target.previews(config))
    inferencer.infer(epoch=2)
    assert sorted(os.listdir(tmp_path / "previews")) == ["Epoch_3_a.jpg", "Epoch_3_b.jpg"]
    assert not (tmp_path / "out").exists()


def test_outputs_are_replaced_not_the_folder_emptied(tmp_path):
    os.makedirs(tmp_path / "out")
    (tmp_path / "out" / "keep.txt").write_text("a researcher's note")
    Inferencer(ConstantModel(0.5), setup(tmp_path)).infer()
    Inferencer(ConstantModel(0.5), setup(tmp_path)).infer()
    assert sorted(os.listdir(tmp_path / "out")) == ["a.jpg", "b.jpg", "c.jpg", "keep.txt"]


def test_non_image_files_are_skipped_with_a_notice(tmp_path, capsys):
    config = setup(tmp_path)
    (tmp_path / "images" / "README.txt").write_text("notes")
    assert len(Inferencer(ConstantModel(0.5), config).infer()) == 3
    assert "skipped 1 non-image entries" in capsys.readouterr().out


def test_bad_inference_settings_are_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"\[infer\] ksize = \(4, 4\): Gaussian kernel sizes must be odd"):
        Inferencer(ConstantModel(0.5), setup(tmp_path, infer={"blur": True, "ksize": (4, 4)}))
    with pytest.raises(ConfigError, match=r"\[segmentation\] white = 'greeen': not a colour name"):
        Inferencer(ConstantModel(0.5), setup(tmp_path, segmentation={"colorize": True, "white": "greeen"}))
    with pytest.raises(ConfigError, match=r"\[infer\] images_dir = '.*nowhere': .*nowhere does not exist"):
        Inferencer(ConstantModel(0.5), setup(tmp_path, infer={"images_dir": str(tmp_path / "nowhere")}))
    with pytest.raises(DataError, match="holds no images"):
        Inferencer(ConstantModel(0.5), setup(tmp_path / "empty", images=()))


THREE_CLASSES = {"num_classes": 3, "loss": "categorical_crossentropy"}


@pytest.mark.parametrize("order", ["rgb", "bgr"])
def test_several_classes_are_written_as_label_maps_and_pictures_in_class_colours(tmp_path, order):
    colours = [(200, 10, 10), (10, 10, 220)]  # red for class 1, blue for class 2, as RGB
    config = setup(
        tmp_path, model=small_model_section(32, **THREE_CLASSES), segmentation={"colorize": False},
        infer={"mask_colorize": True, "colorized_dir": str(tmp_path / "colour"), "colorized_output_format": order},
        mask={"mask_colors": colours},
    )
    written = Inferencer(ThreeClassModel(), config).infer()
    assert [os.path.basename(p) for p in written] == ["a.png", "b.png", "c.png"]
    labels = cv2.imread(str(tmp_path / "out" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (30, 40)  # the input's own size
    assert (labels[:, :20] == 1).all() and (labels[:, 20:] == 2).all()
    picture = np.asarray(Image.open(tmp_path / "colour" / "a.png"))
    left, right = picture[0, 0], picture[0, -1]
    expected = [np.array(c)[::-1] if order == "bgr" else np.array(c) for c in colours]
    np.testing.assert_array_equal(left, expected[0])
    np.testing.assert_array_equal(right, expected[1])


def test_several_classes_preview_in_colours_and_warn_about_one_class_keys(tmp_path):
    config = setup(tmp_path, model=small_model_section(32, **THREE_CLASSES), infer={"binarize": True})
    with pytest.warns(UserWarning) as caught:
        Inferencer(ThreeClassModel(), config)
    said = " ".join(str(w.message) for w in caught)
    assert "[infer] binarize = True changes one-class masks only" in said
    assert "[segmentation] colorize = True changes one-class masks only" in said
    preview = Inferencer(ThreeClassModel(), config, Target.previews(config))
    preview.infer(epoch=0)
    assert sorted(os.listdir(tmp_path / "previews")) == ["Epoch_1_a.png", "Epoch_1_b.png"]
    picture = np.asarray(Image.open(tmp_path / "previews" / "Epoch_1_a.png"))
    assert len({tuple(c) for c in picture.reshape(-1, 3)}) == 2  # two class colours, no blending


def test_one_class_mask_colorize_writes_the_segmentation_ramp(tmp_path):
    config = setup(tmp_path, infer={"mask_colorize": True, "colorized_dir": str(tmp_path / "colour")})
    Inferencer(ConstantModel(1.0), config).infer()
    assert sorted(os.listdir(tmp_path / "out")) == ["a.jpg", "b.jpg", "c.jpg"]  # as without it
    picture = np.asarray(Image.open(tmp_path / "colour" / "a.png"))
    np.testing.assert_array_equal(picture[0, 0], [0, 128, 0])  # 1.0 → PIL's "green"
    np.testing.assert_array_equal(picture[0, -1], [0, 0, 0])
    with pytest.raises(ConfigError, match=r"\[infer\] colorized_dir \(not set\): this key is required"):
        Inferencer(ConstantModel(1.0), setup(tmp_path, infer={"mask_colorize": True}))


@pytest.mark.parametrize("full_model", [False, True], ids=["weights", "full-model"])
def test_keras2_checkpoints_of_the_original_load_by_layer_order(tmp_path, full_model):
    sections = {"model": small_model_section(32), "train": {"model_dir": str(tmp_path)}}
    config = ConfigParser.from_string(config_text(sections))
    trained = create_model(config).model
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    trained.fit(x, (x[..., :1] > 128).astype(np.float32), epochs=1, verbose=0)
    write_keras2_weights(tmp_path / "best_model.h5", trained, full_model)
    fresh = create_model(config).model
    assert load_best_weights(fresh, config).endswith("best_model.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6)


def test_a_checkpoint_of_another_architecture_is_a_clear_error(tmp_path):
    sections = {"model": small_model_section(32), "train": {"model_dir": str(tmp_path)}}
    small = ConfigParser.from_string(config_text(sections))
    model = create_model(small).model
    from TensorflowModelLoader import weights_view

    weights_view(model).save_weights(str(tmp_path / "best_model.weights.h5"))
    other = ConfigParser.from_string(
        config_text({"model": small_model_section(32, base_filters=4), "train": {"model_dir": str(tmp_path)}})
    )
    with pytest.raises(DataError, match="best_model.weights.h5 does not fit the model"):
        load_best_weights(create_model(other).model, other)


def test_a_short_last_batch_is_padded_so_the_model_sees_one_batch_shape(tmp_path):
    class Recording(ConstantModel):
        shapes = []

        def predict_on_batch(self, x):
            self.shapes.append(x.shape)
            return super().predict_on_batch(x)

    config = setup(tmp_path, images=("a", "b", "c", "d", "e"))
    model = Recording(0.9)
    inferencer = Inferencer(model, config, Target.infer(config))
    inferencer.infer()
    assert {shape[0] for shape in model.shapes} == {inferencer.batch_size}  # 5 images: 4, then 1 padded to 4
    assert len(os.listdir(tmp_path / "out")) == 5
    maps = inferencer.predict([np.full((30, 40, 3), 250, np.uint8)])
    assert len(maps) == 1 and model.shapes[-1][0] == inferencer.batch_size


class ChannelRecorder:
    """Remembers what it is given; predicts foreground where channel 0 (the stack's slice n−K) is bright."""

    def __init__(self):
        self.batches = []

    def predict_on_batch(self, x):
        self.batches.append(np.array(x))
        return (x[..., :1] > 0.5).astype(np.float32)


def test_npy_channel_stacks_are_predicted_as_the_stacks_training_reads(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    stacks = {}
    for stem, bright in (("s0", 0), ("s1", 1)):
        stack = np.stack([np.full((30, 40), 40 * (c + 1), np.uint8) for c in range(5)], axis=-1)
        stack[:, :20, 0] = 250 if bright else 10  # the left half of slice n−K decides the prediction
        np.save(folder / f"{stem}.npy", stack)
        stacks[stem] = stack
    sections = {
        "model": small_model_section(32, image_channels=5),
        "dataset": {"image_normalize": True},
        "infer": {"images_dir": str(folder), "output_dir": str(tmp_path / "out"), "merged_dir": str(tmp_path / "m")},
        "segmentation": {"colorize": False},
    }
    model = ChannelRecorder()
    written = Inferencer(model, ConfigParser.from_string(config_text(sections), "i.config")).infer()
    assert [os.path.basename(p) for p in written] == ["s0.jpg", "s1.jpg"]
    [seen] = model.batches
    assert seen.shape == (4, 32, 32, 5)  # two stacks and the padding of a short batch
    # channel order as stored, never colour-swapped: channel c is 40(c+1)/255 on the right half
    np.testing.assert_allclose(seen[:2, :, -4:].mean(axis=(0, 1, 2)), [40 * (c + 1) / 255 for c in range(5)], atol=1e-5)
    for stem, expected_left in (("s0", 0), ("s1", 255)):
        mask = cv2.imread(str(tmp_path / "out" / f"{stem}.jpg"), cv2.IMREAD_GRAYSCALE)
        assert mask.shape == (30, 40)  # the stack's own size
        assert abs(int(np.median(mask[:, :15])) - expected_left) <= 3 and mask[:, 25:].max() < 20
        assert (tmp_path / "m" / f"{stem}.png").is_file()  # the overlay is a picture of the centre channel


def test_tiled_inference_refuses_npy_stacks_naming_one(tmp_path):
    from TiledInferencer import TiledInferencer

    folder = tmp_path / "tiles"
    folder.mkdir()
    np.save(folder / "s.npy", np.zeros((30, 40, 5), np.uint8))
    sections = {
        "model": small_model_section(32, image_channels=5),
        "tiledinfer": {"images_dir": str(folder), "output_dir": str(tmp_path / "out"), "split_size": 32},
    }
    with pytest.raises(DataError, match=r"s\.npy: tiled inference reads pictures, not \.npy channel stacks"):
        TiledInferencer(ConstantModel(0.5), ConfigParser.from_string(config_text(sections), "t.config"))
