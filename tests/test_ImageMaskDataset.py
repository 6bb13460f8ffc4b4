"""Finding, pairing and reading image/mask files; the tf.data stream."""

import os

import cv2
import numpy as np
import pytest
from conftest import config_text, make_split, small_model_section

from ConfigParser import ConfigParser
from data_pipeline import PairReader, make_dataset, reraise_data_errors
from errors import ConfigError, DataError
from ImageMaskDataset import ImageMaskDataset, pair_files
from volume_ids import split_by_volume, volume_id


def dataset_for(tmp_path, size=32, **sections):
    all_sections = {"model": small_model_section(size)}
    for name, values in sections.items():
        all_sections[name] = values
    all_sections.setdefault(
        "train",
        {"image_datapath": str(tmp_path / "train/images"), "mask_datapath": str(tmp_path / "train/masks")},
    )
    return ImageMaskDataset(ConfigParser.from_string(config_text(all_sections), "d.config"))


def write(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return str(path)


def test_pairs_by_stem_whatever_the_extensions(tmp_path):
    for stem in ("b", "a", "c"):
        write(tmp_path / f"images/{stem}.jpg", np.zeros((8, 8, 3), np.uint8))
        write(tmp_path / f"masks/{stem}.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    (tmp_path / "images" / ".hidden.jpg").write_text("ignored")
    pairs = pair_files(str(tmp_path / "images"), str(tmp_path / "masks"))
    assert [(os.path.basename(i), os.path.basename(m)) for i, m in pairs] == [
        ("a.jpg", "a.png"), ("b.jpg", "b.png"), ("c.jpg", "c.png")
    ]


def test_an_image_without_its_mask_and_the_reverse_are_named(tmp_path):
    write(tmp_path / "images/a.jpg", np.zeros((8, 8, 3), np.uint8))
    write(tmp_path / "images/b.jpg", np.zeros((8, 8, 3), np.uint8))
    write(tmp_path / "masks/a.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match=r"b.jpg has no mask of the same name in .*masks"):
        pair_files(str(tmp_path / "images"), str(tmp_path / "masks"))
    write(tmp_path / "masks/b.png", np.zeros((8, 8), np.uint8))
    write(tmp_path / "masks/z.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match=r"z.png has no image of the same name"):
        pair_files(str(tmp_path / "images"), str(tmp_path / "masks"))


def test_same_stem_twice_and_empty_folders_are_errors(tmp_path):
    write(tmp_path / "images/a.jpg", np.zeros((8, 8, 3), np.uint8))
    write(tmp_path / "images/a.png", np.zeros((8, 8, 3), np.uint8))
    os.makedirs(tmp_path / "masks")
    with pytest.raises(DataError, match="a.jpg and a.png have the same name"):
        pair_files(str(tmp_path / "images"), str(tmp_path / "masks"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(DataError, match="holds no images"):
        pair_files(str(tmp_path / "empty"), str(tmp_path / "masks"))


def test_missing_folder_names_the_key_and_path(tmp_path):
    dataset = dataset_for(tmp_path)
    with pytest.raises(ConfigError, match=r"d.config:\d+: \[train\] image_datapath = .*train/images does not exist"):
        dataset.pairs("train")
    assert not dataset.exists("eval")


def test_images_are_rgb_resized_and_masks_binary(tmp_path):
    image = np.zeros((64, 48, 3), np.uint8)
    image[..., 0] = 200  # blue in OpenCV's BGR order
    mask = np.zeros((64, 48), np.uint8)
    mask[:, 24:] = 255
    dataset = dataset_for(tmp_path, size=32)
    x, y = dataset.read_pair(write(tmp_path / "i.png", image), write(tmp_path / "m.png", mask))
    assert x.shape == (32, 32, 3) and x.dtype == np.uint8
    assert x[..., 2].min() == 200 and x[..., :2].max() == 0  # RGB: blue is last
    assert y.shape == (32, 32, 1) and set(np.unique(y)) == {0, 1}
    assert y[:, :16].max() == 0 and y[:, 16:].min() == 1


def test_grey_channel_and_normalisation(tmp_path):
    image = np.full((16, 16), 100, np.uint8)
    dataset = dataset_for(
        tmp_path,
        size=16,
        model=small_model_section(16, image_channels=1),
        dataset={"image_normalize": True},
    )
    x, _ = dataset.preprocessor.read(write(tmp_path / "g.png", image))
    assert x.shape == (16, 16, 1) and x.dtype == np.float32
    assert x.max() == pytest.approx(100 / 255)
    rgb = dataset_for(tmp_path, size=16).preprocessor.read(write(tmp_path / "g2.png", image))[0]
    assert rgb.shape == (16, 16, 3) and (rgb == 100).all()  # grey files become 3 equal channels


def test_sixteen_bit_and_rgba_pngs_are_read_as_eight_bit_rgb(tmp_path):
    deep = np.full((16, 16), 50000, np.uint16)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 2] = 90
    rgba[..., 3] = 10
    reader = dataset_for(tmp_path, size=16).preprocessor
    assert (reader.read(write(tmp_path / "deep.png", deep))[0] == 50000 >> 8).all()
    x = reader.read(write(tmp_path / "rgba.png", rgba))[0]
    assert x.shape == (16, 16, 3) and (x[..., 0] == 90).all()


@pytest.mark.parametrize(
    "values, mask_section, expected_foreground",
    [
        ([0, 30, 60, 100, 200], {"binarize": False}, [30, 60, 100, 200]),  # lossless: non-zero
        ([0, 30, 60, 100, 200], {"binarize": True, "threshold": 60}, [60, 100, 200]),  # v >= t
        ([0, 30, 60, 100, 200], {"binarize": True, "threshold": 60, "algorithm": "cv2.THRESH_BINARY"}, [100, 200]),
        # TRUNC gives min(v, threshold), no binarisation: any non-zero value, as the original.
        ([0, 30, 60, 100, 200], {"binarize": True, "threshold": 60, "algorithm": "cv2.THRESH_TRUNC"},
         [30, 60, 100, 200]),
        # Otsu separates the two clusters, wherever they lie.
        ([0, 10, 20, 90, 100], {"binarize": True, "algorithm": "cv2.THRESH_OTSU"}, [90, 100]),
    ],
)
def test_mask_binarisation_rules(tmp_path, values, mask_section, expected_foreground):
    mask = np.repeat(np.array(values, np.uint8), 4).reshape(1, -1).repeat(20, axis=0)
    dataset = dataset_for(tmp_path, size=20, mask=mask_section)
    y, _ = dataset.read_mask(write(tmp_path / "m.png", mask))
    found = sorted({v for v, col in zip(np.repeat(values, 4), y[0, :, 0]) if col})
    assert found == expected_foreground


def test_blur_smooths_the_outline_without_growing_the_mask(tmp_path):
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 255
    mask[0, 0] = 255  # an isolated speck
    plain, _ = dataset_for(tmp_path, size=20).read_mask(write(tmp_path / "m.png", mask))
    blurred, _ = dataset_for(tmp_path, size=20, mask={"blur": True}).read_mask(tmp_path / "m.png")
    assert blurred[0, 0, 0] == 0 and plain[0, 0, 0] == 1
    assert blurred.sum() <= plain.sum()


def test_binarize_without_threshold_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"\[mask\] threshold \(not set\): binarize = True needs"):
        dataset_for(tmp_path, mask={"binarize": True})


def test_masks_are_resized_nearest_neighbour(tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[::2, ::2] = 255  # any interpolation but nearest would blur this
    y, _ = dataset_for(tmp_path, size=32).read_mask(write(tmp_path / "m.png", mask))
    assert y.min() == 1  # sample points fall on the set pixels


def test_mismatched_mask_size_and_corrupt_files_are_named(tmp_path):
    dataset = dataset_for(tmp_path, size=16)
    image = write(tmp_path / "a.png", np.zeros((32, 32, 3), np.uint8))
    mask = write(tmp_path / "a_mask.png", np.zeros((16, 16), np.uint8))
    with pytest.raises(DataError, match="a_mask.png: mask is 16x16 but its image a.png is 32x32"):
        dataset.read_pair(image, mask)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "empty.png").write_bytes(b"")
    for name in ("broken.jpg", "empty.png"):
        with pytest.raises(DataError, match=f"{name}: not a readable image"):
            dataset.preprocessor.read(str(tmp_path / name))


def test_unknown_dataset_class_and_colour_converter_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"\[dataset\] datasetclass = 'MyDataset': expected one of ImageMaskDataset"):
        dataset_for(tmp_path, dataset={"datasetclass": "MyDataset"})
    dataset_for(tmp_path, dataset={"datasetclass": "RGB2GrayscaleImageMaskDataset"}, mask={"mask_colors": [(255, 0, 0)]})
    with pytest.raises(ConfigError, match=r"\[image\] color_converter = 'cv2.COLOR_BGR2BGRA': gives 4 channels"):
        dataset_for(tmp_path, image={"color_converter": "cv2.COLOR_BGR2BGRA"})


def test_stream_yields_every_pair_once_per_epoch_reshuffled(tmp_path):
    make_split(str(tmp_path / "train"), volumes=2, slices=5, size=32)
    dataset = dataset_for(tmp_path, size=32)
    pairs = dataset.pairs("train")
    reader = PairReader(dataset)
    stream = make_dataset(pairs, reader, batch_size=4, shuffle=True, seed=1)
    epochs = []
    for _ in range(2):
        batches = list(stream)
        assert [b[0].shape[0] for b in batches] == [4, 4, 2]  # ceil(10 / 4) batches
        assert batches[0][0].dtype.name == "float32" and batches[0][1].shape[1:] == (32, 32, 1)
        epochs.append(np.concatenate([b[0].numpy().mean(axis=(1, 2, 3)) for b in batches]))
    assert sorted(epochs[0]) == pytest.approx(sorted(epochs[1]))  # the same images...
    assert not np.allclose(epochs[0], epochs[1])  # ...in a new order


def test_a_bad_file_in_the_stream_surfaces_as_a_data_error(tmp_path):
    make_split(str(tmp_path / "train"), volumes=1, slices=3, size=32)
    (tmp_path / "train/images/1000_1.jpg").write_bytes(b"garbage")
    dataset = dataset_for(tmp_path, size=32)
    reader = PairReader(dataset)
    with pytest.raises(DataError, match="1000_1.jpg: not a readable image"):
        with reraise_data_errors(reader):
            list(make_dataset(dataset.pairs("train"), reader, batch_size=2))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("PANCREAS_0001-1106.jpg", "PANCREAS_0001"),
        ("10003_21.jpg", "10003"),
        ("case_7_slice_12.png", "case_7_slice"),
        ("plain.png", "plain"),
        ("/a/b/10078_15.jpg", "10078"),
    ],
)
def test_volume_ids(name, expected):
    assert volume_id(name) == expected


def test_split_by_volume_holds_out_whole_volumes():
    pairs = [(f"{v}_{s}.jpg", f"{v}_{s}.png") for v in (10, 11, 12, 13, 14) for s in range(3)]
    train, valid = split_by_volume(pairs)
    assert {volume_id(i) for i, _ in valid} == {"14"}  # the last 20 % of 5 volumes
    assert len(train) == 12 and not {volume_id(i) for i, _ in train} & {"14"}
    with pytest.raises(DataError, match="at least 2 are needed"):
        split_by_volume([("7_1.jpg", "7_1.png")])


@pytest.mark.parametrize("interpolation", ["cv2.INTER_AREA", "cv2.INTER_LINEAR_EXACT", "cv2.INTER_CUBIC"])
def test_npy_stacks_of_more_than_four_channels_resize_and_augment_channel_by_channel(tmp_path, interpolation):
    import augmentations as aug

    rng = np.random.default_rng(3)
    stack = rng.integers(0, 256, (24, 20, 5), dtype=np.uint8)
    np.save(tmp_path / "s.npy", stack)
    sections = {"model": small_model_section(16, image_channels=5),
                "dataset": {"resize_interpolation": interpolation}}
    reader = dataset_for(tmp_path, **sections).preprocessor
    x, size = reader.read(str(tmp_path / "s.npy"))
    assert x.shape == (16, 16, 5) and size == (24, 20)
    alone = [dataset_for(tmp_path, model=small_model_section(16, image_channels=1),
                         dataset={"resize_interpolation": interpolation}).preprocessor.resize(stack[..., c])
             for c in range(5)]
    assert (x == np.concatenate(alone, axis=2)).all()  # never mixed across channels, never colour-converted
    mask = np.zeros((24, 20, 1), np.uint8)
    mask[5:15, 5:15] = 1
    for transform in (lambda i, m: aug.rotate(i, m, 30), lambda i, m: aug.shrink(i, m, 0.7),
                      lambda i, m: aug.elastic(i, m, 100, 4, np.random.default_rng(1))):
        five, five_mask = transform(stack, mask)
        three, three_mask = transform(np.ascontiguousarray(stack[..., :3]), mask)
        assert five.shape == stack.shape and (five[..., :3] == three).all() and (five_mask == three_mask).all()
