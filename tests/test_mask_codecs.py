"""How each way of storing a mask becomes a class map (mask_codecs.py), and the
up-front split check (ImageMaskDataset.check_split), at the dataset level.

Every mask here is small (16-64 px) and every class map is compared exactly;
where JPEG compression makes exactness impossible the test measures where the
differences are and bounds them.
"""

import os
import re

import cv2
import numpy as np
import pytest
from conftest import config_text, small_model_section

from ConfigParser import ConfigParser
from errors import ConfigError, DataError
from ImageMaskDataset import ImageMaskDataset

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)  # RGB


# === Helpers ===


def dataset_for(tmp_path, size=32, num_classes=1, width=None, **sections):
    """An ImageMaskDataset over tmp_path/train from {section: {key: value}}, model size×`width` or square."""
    model = small_model_section(size, num_classes=num_classes, image_width=width or size)
    all_sections = {"model": model}
    all_sections.update(sections)
    all_sections.setdefault(
        "train",
        {"image_datapath": str(tmp_path / "train/images"), "mask_datapath": str(tmp_path / "train/masks")},
    )
    return ImageMaskDataset(ConfigParser.from_string(config_text(all_sections), "d.config"))


def write(path, array):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return str(path)


def disc(size=32, centre=(16, 15), radius=9) -> np.ndarray:
    """A boolean disc."""
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, centre, radius, 1, -1)
    return mask.astype(bool)


def class_map(dataset, path) -> np.ndarray:
    """read_mask's (H, W) class map, after checking its shape and type."""
    labels, _ = dataset.read_mask(path)
    assert labels.ndim == 3 and labels.shape[2] == 1 and labels.dtype == np.uint8
    return labels[..., 0]


def colour_file(labels: np.ndarray, colours_rgb) -> np.ndarray:
    """The BGR array (as cv2.imwrite wants) painting class k in colours_rgb[k - 1]."""
    out = np.zeros(labels.shape + (3,), np.uint8)
    for k, rgb in enumerate(colours_rgb, 1):
        out[labels == k] = rgb[::-1]
    return out


def near_a_border(labels: np.ndarray, reach: int = 2) -> np.ndarray:
    """Pixels with a pixel of another class within `reach` (Chebyshev distance)."""
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    interior = np.zeros(labels.shape, bool)
    for k in np.unique(labels):
        interior |= cv2.erode((labels == k).astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE) > 0
    return ~interior


def stripes(values, width=4, height=16, dtype=np.uint8) -> np.ndarray:
    """Vertical stripes `width` px wide, one per value."""
    return np.repeat(np.array(values, dtype), width)[None, :].repeat(height, axis=0)


def foreground_values(make, tmp_path, values, name="m.png", dtype=np.uint8):
    """The stripe values (4 px wide, 16 high) that read as foreground; `make(width)` builds the dataset."""
    mask = stripes(values, dtype=dtype)
    dataset = make(mask.shape[1])
    labels = class_map(dataset, write(tmp_path / name, mask))
    return sorted({int(v) for v, on in zip(mask[0], labels[0]) if on})


def make_split(tmp_path, masks: dict[str, np.ndarray], section="train"):
    """tmp_path/<section>/{images,masks}: one black PNG image per mask file name."""
    for name, mask in masks.items():
        stem = os.path.splitext(name)[0]
        write(tmp_path / section / "images" / f"{stem}.png", np.zeros(mask.shape[:2] + (3,), np.uint8))
        write(tmp_path / section / "masks" / name, mask)


# === 1. Each encoding gives the expected class map ===


def test_png_0_1_mask(tmp_path):
    expected = disc()
    labels = class_map(dataset_for(tmp_path), write(tmp_path / "m.png", expected.astype(np.uint8)))
    assert (labels == expected).all()


def test_png_0_255_mask(tmp_path):
    expected = disc()
    labels = class_map(dataset_for(tmp_path), write(tmp_path / "m.png", expected.astype(np.uint8) * 255))
    assert (labels == expected).all()


@pytest.mark.parametrize("size, centre, radius", [(32, (16, 15), 9), (48, (24, 24), 13), (64, (32, 30), 17)])
def test_jpeg_0_255_disc_with_fringe_is_recovered_exactly(tmp_path, size, centre, radius):
    expected = disc(size, centre, radius)
    path = write(tmp_path / "m.jpg", expected.astype(np.uint8) * 255)  # default quality (95)
    stored = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    # The file really has compression fringe: "any non-zero value" would grow the disc.
    assert len(np.unique(stored)) > 2 and ((stored > 0) != expected).sum() > 50
    labels = class_map(dataset_for(tmp_path, size), path)
    assert (labels == expected).all()  # grey >= 128 recovers the disc with no pixel wrong


def test_three_channel_grey_png(tmp_path):
    expected = disc()
    grey = expected.astype(np.uint8) * 255
    labels = class_map(dataset_for(tmp_path), write(tmp_path / "m.png", cv2.merge([grey] * 3)))
    assert (labels == expected).all()
    faint = cv2.merge([expected.astype(np.uint8) * 7] * 3)  # lossless: any non-zero value
    assert (class_map(dataset_for(tmp_path), write(tmp_path / "f.png", faint)) == expected).all()


def two_blocks(size=64):
    labels = np.zeros((size, size), np.uint8)
    labels[8:32, 8:32] = 1
    labels[32:56, 32:56] = 2
    return labels


def test_colour_coded_png_with_two_classes_is_exact(tmp_path):
    expected = two_blocks()
    expected[2:6, 40:60] = 2  # not only squares
    dataset = dataset_for(tmp_path, 64, num_classes=3, mask={"mask_colors": [RED, GREEN]})
    labels = class_map(dataset, write(tmp_path / "m.png", colour_file(expected, [RED, GREEN])))
    assert (labels == expected).all()


def test_colour_coded_jpeg_takes_the_nearest_colour_away_from_block_borders(tmp_path):
    expected = two_blocks()
    dataset = dataset_for(tmp_path, 64, num_classes=3, mask={"mask_colors": [RED, GREEN]})
    path = write(tmp_path / "m.jpg", colour_file(expected, [RED, GREEN]))
    labels = class_map(dataset, path)
    wrong = labels != expected
    # JPEG subsamples colour 2x2 and rings at hard edges, so pixels right at a
    # red/black or green/red border can be more than 40 from every colour.
    # Those become background (never the other class), and they all lie
    # within 2 px of a border; every pixel further in is exact.
    assert not (wrong & ~near_a_border(expected)).any()
    assert (labels[wrong] == 0).all()
    for k in (1, 2):  # at least 80 % of each 24x24 block is recovered (measured: 84-87 %)
        assert ((labels == k) & (expected == k)).sum() >= 0.8 * (expected == k).sum()
    _, _, stats = dataset.codec.read(path, (64, 64), inspect=True)
    # The lost pixels are unmatched ones; so are some background pixels beside
    # the blocks (read correctly as background), all within the border band.
    assert 0 < wrong.sum() <= stats.unmatched <= near_a_border(expected).sum()


def test_sixteen_bit_label_png_with_three_classes(tmp_path):
    expected = two_blocks(32 * 2)[::2, ::2]
    expected[0:4, 0:4] = 2
    path = write(tmp_path / "m.png", expected.astype(np.uint16))
    assert cv2.imread(path, cv2.IMREAD_UNCHANGED).dtype == np.uint16
    labels = class_map(dataset_for(tmp_path, num_classes=3), path)
    assert (labels == expected).all()


def test_sixteen_bit_0_1_mask_with_one_class(tmp_path):
    expected = disc()
    path = write(tmp_path / "m.png", expected.astype(np.uint16))
    assert cv2.imread(path, cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert (class_map(dataset_for(tmp_path), path) == expected).all()
    path = write(tmp_path / "w.png", expected.astype(np.uint16) * 65535)
    assert (class_map(dataset_for(tmp_path), path) == expected).all()


def test_masks_are_resized_nearest_neighbour_and_the_file_size_returned(tmp_path):
    file_labels = np.zeros((64, 32), np.uint8)  # 64 high, 32 wide
    file_labels[16:48, 8:24] = 1
    file_labels[48:64, 0:8] = 2
    dataset = dataset_for(tmp_path, 16, num_classes=3)
    labels, size = dataset.read_mask(write(tmp_path / "m.png", file_labels))
    assert size == (64, 32) and labels.shape == (16, 16, 1) and labels.dtype == np.uint8
    assert (labels[..., 0] == file_labels[::4, ::2]).all()  # blocks on the sampling grid


# === 2. Each dataset class ===


@pytest.mark.parametrize("datasetclass", ["ImageMaskDataset", "BaseImageMaskDataset"])
def test_grey_dataset_classes_default_rule(tmp_path, datasetclass):
    def make(width):
        return dataset_for(tmp_path, 16, width=width, dataset={"datasetclass": datasetclass}, mask={"binarize": False})

    values = [0, 1, 30, 127, 128, 200, 255]
    for name in ("m.png", "m.bmp", "m.tif"):  # lossless: any non-zero value
        assert foreground_values(make, tmp_path, values, name) == [1, 30, 127, 128, 200, 255]
    # JPEG: grey >= 128. Flat stripes 16 px wide (aligned to the 8x8 DCT
    # blocks) keep their value to within a few levels at the stripe centres.
    mask = stripes([0, 100, 120, 136, 160, 255], width=16)
    labels = class_map(make(mask.shape[1]), write(tmp_path / "m.jpg", mask))
    assert [int(labels[8, 16 * i + 8]) for i in range(6)] == [0, 0, 0, 1, 1, 1]


def test_base_dataset_class_reads_like_the_default(tmp_path):
    mask = disc().astype(np.uint8) * 3
    mask[0, 0] = 200
    path = write(tmp_path / "m.png", mask)
    default = class_map(dataset_for(tmp_path), path)
    base = class_map(dataset_for(tmp_path, dataset={"datasetclass": "BaseImageMaskDataset"}), path)
    assert (default == base).all() and (base == (mask > 0)).all()


def normalized(tmp_path, **mask):
    """`make(width)`: 16 high and `width` wide (for stripes); `make()`: 32x32."""
    def make(width=None):
        return dataset_for(tmp_path, 16 if width else 32, width=width,
                           dataset={"datasetclass": "NormalizedImageMaskDataset"}, mask=mask)
    return make


def test_normalized_dataset_threshold_boundaries(tmp_path):
    # 38 / 255 = 0.149 < 0.15 <= 39 / 255 = 0.153
    values = [0, 1, 37, 38, 39, 40, 255]
    assert foreground_values(normalized(tmp_path), tmp_path, values) == [39, 40, 255]
    # 127 / 255 = 0.498 < 0.5 <= 128 / 255 = 0.502
    values = [0, 100, 127, 128, 255]
    assert foreground_values(normalized(tmp_path, normalized_threshold=0.5), tmp_path, values) == [128, 255]


def test_normalized_dataset_does_not_divide_0_1_masks(tmp_path):
    expected = disc()
    labels = class_map(normalized(tmp_path)(), write(tmp_path / "m.png", expected.astype(np.uint8)))
    assert (labels == expected).all()
    labels = class_map(normalized(tmp_path, normalized_threshold=1.0)(), tmp_path / "m.png")
    assert (labels == expected).all()  # 1 / 1 >= 1.0
    # A 0/255 mask is divided: 255 / 255 = 1.0 >= 1.0, and 254 / 255 is not.
    mask = expected.astype(np.uint8) * 255
    mask[expected & (np.arange(32)[None, :] < 16)] = 254
    labels = class_map(normalized(tmp_path, normalized_threshold=1.0)(), write(tmp_path / "w.png", mask))
    assert (labels == (mask == 255)).all()


def test_normalized_dataset_sixteen_bit_is_divided_by_its_full_scale(tmp_path):
    # 9830 / 65535 = 0.14999 < 0.15 <= 9831 / 65535 = 0.150011
    values = [0, 1000, 9830, 9831, 65535]
    got = foreground_values(normalized(tmp_path), tmp_path, values, dtype=np.uint16)
    assert got == [9831, 65535]


def three_blocks():
    """Class k in the k-th 16-px block of a 16x64 mask (0 = background)."""
    return np.repeat(np.arange(4, dtype=np.uint8), 16)[None, :].repeat(16, axis=0)


def rgb2grey(tmp_path, **mask):
    return dataset_for(tmp_path, 16, width=64, dataset={"datasetclass": "RGB2GrayscaleImageMaskDataset"}, mask=mask)


def test_rgb2grey_dataset_one_class_is_the_union_of_the_colours(tmp_path):
    blocks = three_blocks()
    path = write(tmp_path / "m.png", colour_file(blocks, [RED, GREEN, BLUE]))
    labels = class_map(rgb2grey(tmp_path, mask_colors=[RED, BLUE]), path)  # green is not listed
    assert (labels == np.isin(blocks, [1, 3])).all()
    # More colours than classes is fine for one class.
    assert (class_map(rgb2grey(tmp_path, mask_colors=[RED, GREEN, BLUE]), path) == (blocks > 0)).all()


def test_rgb2grey_dataset_bgr_order_reverses_the_tuples(tmp_path):
    blocks = three_blocks()
    path = write(tmp_path / "m.png", colour_file(blocks, [RED, GREEN, BLUE]))
    # (255, 0, 0) as (b, g, r) is blue; as (r, g, b) it is red.
    assert (class_map(rgb2grey(tmp_path, mask_colors=[(255, 0, 0)], color_order="bgr"), path) == (blocks == 3)).all()
    assert (class_map(rgb2grey(tmp_path, mask_colors=[(255, 0, 0)], color_order="rgb"), path) == (blocks == 1)).all()
    assert (class_map(rgb2grey(tmp_path, mask_colors=[(255, 0, 0)]), path) == (blocks == 1)).all()  # rgb default
    # With classes: (b, g, r) tuples in class order.
    dataset = dataset_for(tmp_path, 16, num_classes=3, width=64,
                          mask={"mask_colors": [(255, 0, 0), (0, 0, 255)], "color_order": "bgr"})
    expected = np.choose(blocks, [0, 2, 0, 1]).astype(np.uint8)  # red -> class 2, blue -> class 1
    assert (class_map(dataset, path) == expected).all()


def test_rgb2grey_dataset_without_mask_colors_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"\[mask\] mask_colors \(not set\): RGB2GrayscaleImageMaskDataset needs"):
        rgb2grey(tmp_path)
    with pytest.raises(ConfigError, match=r"\[mask\] mask_colors"):
        dataset_for(tmp_path, num_classes=3, dataset={"datasetclass": "RGB2GrayscaleImageMaskDataset"})


def test_image_mask_dataset_uses_mask_colors_when_set(tmp_path):
    blocks = three_blocks()
    path = write(tmp_path / "m.png", colour_file(blocks, [RED, GREEN, BLUE]))
    dataset = dataset_for(tmp_path, 16, width=64, mask={"mask_colors": [GREEN]})
    assert (class_map(dataset, path) == (blocks == 2)).all()  # not the default "any non-zero"


# === 3. Explicit binarize takes precedence ===


def test_explicit_binarize_takes_precedence_over_the_default_rule(tmp_path):
    mask = np.zeros((16, 48), np.uint8)
    mask[:, 16:32], mask[:, 32:] = 50, 200
    path = write(tmp_path / "m.png", mask)
    assert (class_map(dataset_for(tmp_path, 16, width=48), path) == (mask > 0)).all()
    explicit = dataset_for(tmp_path, 16, width=48, mask={"binarize": True, "threshold": 100})
    assert (class_map(explicit, path) == (mask == 200)).all()
    # ...and on a JPEG, where the default takes >= 128: a 0/50/0 file.
    jpeg = write(tmp_path / "m.jpg", np.where(mask == 200, 0, mask).astype(np.uint8))
    low = dataset_for(tmp_path, 16, width=48, mask={"binarize": True, "threshold": 25})
    labels = class_map(low, jpeg)
    assert labels[:, 18:30].all() and not labels[:, :14].any() and not labels[:, 34:].any()
    assert not class_map(dataset_for(tmp_path, 16, width=48), jpeg).any()


# === 4. Config errors ===


@pytest.mark.parametrize("colours", [[RED], [RED, GREEN, BLUE]])
def test_mask_colors_must_match_num_classes(tmp_path, colours):
    with pytest.raises(ConfigError, match=rf"\[mask\] mask_colors = .*lists {len(colours)} colours, but "
                                          r"\[model\] num_classes = 3 needs 2"):
        dataset_for(tmp_path, num_classes=3, mask={"mask_colors": colours})
    dataset_for(tmp_path, num_classes=len(colours) + 1, mask={"mask_colors": colours})  # the right length
    dataset_for(tmp_path, num_classes=1, mask={"mask_colors": colours})  # any length for one class


@pytest.mark.parametrize("num_classes", [1, 3])
def test_black_in_mask_colors_is_a_config_error(tmp_path, num_classes):
    with pytest.raises(ConfigError, match=r"\[mask\] mask_colors = .*lists black"):
        dataset_for(tmp_path, num_classes=num_classes, mask={"mask_colors": [RED, (0, 0, 0)]})


@pytest.mark.parametrize("order, colours", [("rgb", [RED, RED]), ("bgr", [BLUE, (0, 0, 255)])])
def test_a_colour_twice_is_a_config_error(tmp_path, order, colours):
    with pytest.raises(ConfigError, match=r"\[mask\] mask_colors = .*lists a colour twice"):
        dataset_for(tmp_path, num_classes=3, mask={"mask_colors": colours, "color_order": order})


@pytest.mark.parametrize("mask", [{"binarize": True, "threshold": 1}, {"blur": True}])
def test_binarize_and_blur_need_one_class(tmp_path, mask):
    key = next(iter(mask))
    with pytest.raises(ConfigError, match=rf"\[mask\] {key} = True: works on one-class masks only "
                                          r"\(\[model\] num_classes = 3\)"):
        dataset_for(tmp_path, num_classes=3, mask=mask)
    dataset_for(tmp_path, num_classes=1, mask=mask)


def test_normalized_dataset_with_classes_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"\[model\] num_classes = 3: NormalizedImageMaskDataset reads one-class"):
        dataset_for(tmp_path, num_classes=3, dataset={"datasetclass": "NormalizedImageMaskDataset"})


# === 5. Label values out of range ===


def test_label_values_out_of_range_name_the_file_and_the_values(tmp_path):
    labels = np.zeros((16, 16), np.uint8)
    labels[:4], labels[4:8], labels[8:12] = 1, 2, 5
    dataset = dataset_for(tmp_path, 16, num_classes=3)
    path = write(tmp_path / "bad.png", labels)
    with pytest.raises(DataError, match=re.escape(path) + r": mask values \{0, 1, 2, 5\} are not class "
                                        r"numbers 0\.\.2 of \[model\] num_classes = 3"):
        dataset.read_mask(path)
    path = write(tmp_path / "binary.png", labels.astype(bool).astype(np.uint8) * 255)
    with pytest.raises(DataError, match=r"binary\.png: mask values \{0, 255\}"):
        dataset_for(tmp_path, 16, num_classes=2).read_mask(path)
    path = write(tmp_path / "deep.png", (labels.astype(np.uint16) * 1000))
    with pytest.raises(DataError, match=r"deep\.png: mask values \{0, 1000, 2000, 5000\}"):
        dataset.read_mask(path)


def test_a_colour_file_without_mask_colors_is_a_data_error_for_classes(tmp_path):
    path = write(tmp_path / "c.png", colour_file(three_blocks()[:, :48], [RED, GREEN]))
    with pytest.raises(DataError, match=r"c\.png: a colour mask, but \[mask\] mask_colors is not set"):
        dataset_for(tmp_path, 16, num_classes=3).read_mask(path)


# === 6. check_split ===


def test_0_1_jpeg_masks_stop_with_the_file_and_the_key(tmp_path):
    expected = disc()
    make_split(tmp_path, {"a.jpg": expected.astype(np.uint8), "b.jpg": expected.astype(np.uint8)})
    stored = cv2.imread(str(tmp_path / "train/masks/a.jpg"), cv2.IMREAD_UNCHANGED)
    assert 0 < stored.max() < 128 and (stored > 0).sum() >= 20  # 0/1 survives JPEG as small values
    dataset = dataset_for(tmp_path)
    with pytest.raises(DataError) as caught:
        dataset.check_split(dataset.pairs("train"), "train", need_foreground=True)
    message = str(caught.value)
    assert "\n" not in message
    assert "2 of 2 [train] masks have non-zero pixels but no foreground" in message
    assert "a.jpg (values {" in message and "b.jpg" in message
    assert f"in {tmp_path / 'train/masks'}:" in message
    assert "[mask] binarize" in message and "JPEG masks: grey >= 128" in message
    # The advice works: binarize = True, threshold = 1 reads the disc.
    fixed = dataset_for(tmp_path, mask={"binarize": True, "threshold": 1})
    summary = fixed.check_split(fixed.pairs("train"), "train", need_foreground=True)
    assert summary.class_pixels[1] > 0


def test_at_most_three_examples_are_named(tmp_path):
    faint = np.zeros((16, 16), np.uint8)
    faint[:, :8] = 40
    make_split(tmp_path, {f"{c}.png": faint for c in "abcde"})
    dataset = dataset_for(tmp_path, 16, mask={"binarize": True, "threshold": 100})
    with pytest.raises(DataError, match=r"5 of 5 \[train\] masks .* e\.g\. a\.png \(values \{0, 40\}\), "
                                        r"b\.png \(values \{0, 40\}\), c\.png \(values \{0, 40\}\) in .*: "
                                        r"lower \[mask\] threshold") as caught:
        dataset.check_split(dataset.pairs("train"), "train")
    assert "d.png" not in str(caught.value)


def test_an_all_empty_training_split_stops(tmp_path):
    make_split(tmp_path, {"a.png": np.zeros((16, 16), np.uint8), "b.png": np.zeros((16, 16), np.uint8)})
    dataset = dataset_for(tmp_path, 16)
    pairs = dataset.pairs("train")
    with pytest.raises(DataError, match=r"every one of the 2 \[train\] masks is empty under the rule in force "
                                        r"\(lossless masks: any non-zero value is foreground\): "
                                        r"check \[train\] mask_datapath"):
        dataset.check_split(pairs, "train", need_foreground=True)
    summary = dataset.check_split(pairs, "train", need_foreground=False)  # e.g. an eval split
    assert summary.files == 2 and summary.foreground_fraction == 0


@pytest.mark.parametrize("specks, stops", [(19, False), (20, True)])
def test_a_mostly_blank_mask_stops_only_from_20_pixels(tmp_path, specks, stops):
    blank = np.zeros((32, 32), np.uint8)  # 1024 pixels: 0.1 % is 1, so 20 counts
    blank.ravel()[np.arange(specks) * 37] = 50  # specks below the threshold
    full = np.zeros((32, 32), np.uint8)
    full[8:24, 8:24] = 255
    make_split(tmp_path, {"a.png": full, "b.png": blank})
    dataset = dataset_for(tmp_path, mask={"binarize": True, "threshold": 100})
    pairs = dataset.pairs("train")
    if stops:
        with pytest.raises(DataError, match=r"1 of 2 \[train\] masks .* e\.g\. b\.png \(values \{0, 50\}\)"):
            dataset.check_split(pairs, "train", need_foreground=True)
    else:
        summary = dataset.check_split(pairs, "train", need_foreground=True)
        assert summary.class_pixels.tolist() == [2048 - 256, 256]


def test_an_empty_opaque_rgba_mask_is_blank_not_unreadable(tmp_path):
    empty = np.zeros((32, 32, 4), np.uint8)
    empty[..., 3] = 255  # black, fully opaque: the alpha channel is no content
    full = empty.copy()
    full[8:24, 8:24, :3] = 255
    make_split(tmp_path, {"a.png": full, "b.png": empty})
    dataset = dataset_for(tmp_path)
    summary = dataset.check_split(dataset.pairs("train"), "train", need_foreground=True)
    assert summary.class_pixels.tolist() == [2048 - 256, 256] and not summary.empty_but_not_blank


def test_summary_line_gives_the_foreground_share_values_and_rule(tmp_path, capsys):
    full = np.zeros((32, 32), np.uint8)
    full[:16, :16] = 255  # 256 of 2048 pixels: 12.50 %
    make_split(tmp_path, {"a.png": full, "b.png": np.zeros((32, 32), np.uint8)})
    dataset = dataset_for(tmp_path)
    capsys.readouterr()
    summary = dataset.check_split(dataset.pairs("train"), "train", need_foreground=True)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("===")]
    assert lines == ["=== [train] 2 masks: foreground 12.50% of pixels; values {0, 255}; "
                     "lossless masks: any non-zero value is foreground"]
    assert summary.foreground_fraction == pytest.approx(0.125)


def test_summary_line_for_classes_gives_each_share(tmp_path, capsys):
    labels = np.zeros((16, 16), np.uint8)
    labels[:4], labels[4:6] = 1, 2  # 64 and 32 of 256 pixels
    make_split(tmp_path, {"a.png": labels})
    dataset = dataset_for(tmp_path, 16, num_classes=3)
    capsys.readouterr()
    dataset.check_split(dataset.pairs("train"), "train", need_foreground=True)
    out = capsys.readouterr().out
    assert ("=== [train] 1 masks: foreground 37.50% of pixels (class 1 25.00%, class 2 12.50%); "
            "values {0, 1, 2}; label masks: values 0..2 are the classes") in out


def test_a_few_unmatched_colour_pixels_are_reported_not_fatal(tmp_path, capsys):
    blocks = np.zeros((32, 32), np.uint8)
    blocks[:16] = 1
    blocks[16:24] = 2
    good = colour_file(blocks, [RED, GREEN])
    off = good.copy()
    off[30, :5] = (0, 0, 250)  # 5 near-red pixels (BGR)
    off[0, 0] = (7, 7, 7)  # and a grey one, inside the red block
    make_split(tmp_path, {"a.png": good, "b.png": off})
    dataset = dataset_for(tmp_path, num_classes=3, mask={"mask_colors": [RED, GREEN]})
    _, _, stats = dataset.codec.read(str(tmp_path / "train/masks/b.png"), (32, 32), inspect=True)
    assert stats.unmatched == 6
    capsys.readouterr()
    summary = dataset.check_split(dataset.pairs("train"), "train", need_foreground=True)
    out = capsys.readouterr().out
    assert ("; 6 pixels in 1 masks match no colour of [mask] mask_colors and are background") in out
    assert "[mask] mask_colors (exact colours)" in out
    assert summary.unmatched == 6 and summary.unmatched_files == 1
    expected = np.bincount(blocks.ravel(), minlength=3) * 2
    expected[1] -= 1  # the grey pixel in b.png is background
    expected[0] += 1
    assert summary.class_pixels.tolist() == expected.tolist()


def test_colour_masks_in_none_of_the_colours_stop(tmp_path):
    blocks = np.zeros((16, 16), np.uint8)
    blocks[:8] = 1
    make_split(tmp_path, {"a.png": colour_file(blocks, [BLUE])})
    dataset = dataset_for(tmp_path, 16, mask={"mask_colors": [RED]})
    with pytest.raises(DataError, match=r"1 of 1 \[train\] masks have non-zero pixels but no foreground .*"
                                        r"e\.g\. a\.png in .*: check \[mask\] mask_colors and \[mask\] color_order"):
        dataset.check_split(dataset.pairs("train"), "train")


def test_jpeg_colour_masks_are_summarised_with_their_rule(tmp_path, capsys):
    make_split(tmp_path, {"a.jpg": colour_file(two_blocks(), [RED, GREEN])})
    dataset = dataset_for(tmp_path, 64, num_classes=3, mask={"mask_colors": [RED, GREEN]})
    capsys.readouterr()
    summary = dataset.check_split(dataset.pairs("train"), "train", need_foreground=True)
    out = capsys.readouterr().out
    assert "[mask] mask_colors (nearest colour within 40)" in out and "match no colour" in out
    assert summary.class_pixels[1] > 0.8 * 576 and summary.class_pixels[2] > 0.8 * 576


def test_the_not_blank_bar_grows_with_large_masks(tmp_path):
    # The one mask above 64 px here: 0.1 % only exceeds 20 pixels from 20,000
    # pixels. 160x160 = 25,600 pixels, so the bar is 25.6: 25 specks pass, 26 stop.
    for specks, stops in ((25, False), (26, True)):
        blank = np.zeros((160, 160), np.uint8)
        blank.ravel()[np.arange(specks) * 97] = 50
        full = np.zeros((160, 160), np.uint8)
        full[40:120, 40:120] = 255
        make_split(tmp_path / str(specks), {"a.png": full, "b.png": blank})
        dataset = dataset_for(tmp_path / str(specks), 160, mask={"binarize": True, "threshold": 100})
        pairs = dataset.pairs("train")
        if stops:
            with pytest.raises(DataError, match=r"1 of 2 \[train\] masks .* e\.g\. b\.png"):
                dataset.check_split(pairs, "train")
        else:
            dataset.check_split(pairs, "train")


def test_a_split_of_png_and_jpeg_masks_names_both_rules(tmp_path, capsys):
    mask = disc().astype(np.uint8) * 255
    make_split(tmp_path, {"a.png": mask, "b.jpg": mask})
    dataset = dataset_for(tmp_path)
    capsys.readouterr()
    summary = dataset.check_split(dataset.pairs("train"), "train", need_foreground=True)
    out = capsys.readouterr().out
    assert "; lossless masks: any non-zero value is foreground; JPEG masks: grey >= 128 is foreground" in out
    assert summary.class_pixels[1] == 2 * disc().sum()


# === Codec details: JPEG colour tolerance, JPEG labels, more config errors ===


def test_jpeg_colour_tolerance_is_40_per_channel(tmp_path):
    codec = dataset_for(tmp_path, num_classes=3, mask={"mask_colors": [RED, GREEN]}).codec
    pixels_rgb = [(215, 0, 0), (214, 0, 0), (235, 40, 40), (235, 41, 0), (0, 215, 40),  # near red / green
                  (40, 40, 40), (41, 0, 0), (128, 128, 0)]  # near black; nothing near
    raw = np.array([[rgb[::-1] for rgb in pixels_rgb]], np.uint8)  # BGR, as read
    assert codec.decode(raw, "m.jpg")[0].tolist() == [1, 0, 1, 0, 2, 0, 0, 0]
    assert codec.inspect(raw, *codec.classify(raw, "m.jpg")).unmatched == 4  # not the near-black one
    # Lossless files match exactly: only pure colours count.
    raw = np.array([[RED[::-1], (0, 0, 254), GREEN[::-1], (1, 0, 0)]], np.uint8)
    assert codec.decode(raw, "m.png")[0].tolist() == [1, 0, 2, 0]
    assert codec.inspect(raw, *codec.classify(raw, "m.png")).unmatched == 2


def test_jpeg_label_masks_out_of_range_suggest_png(tmp_path):
    codec = dataset_for(tmp_path, num_classes=3).codec
    with pytest.raises(DataError, match=r"m\.jpg: mask values \{0, 3\} .*\(JPEG cannot store labels exactly: use PNG\)"):
        codec.decode(np.array([[0, 3]], np.uint8), "m.jpg")


def test_blur_and_normalized_do_not_take_mask_colors(tmp_path):
    with pytest.raises(ConfigError, match=r"\[mask\] blur = True: works on grey masks only"):
        dataset_for(tmp_path, mask={"mask_colors": [RED], "blur": True})
    with pytest.raises(ConfigError, match=r"\[mask\] mask_colors = .*NormalizedImageMaskDataset reads one-class grey"):
        dataset_for(tmp_path, dataset={"datasetclass": "NormalizedImageMaskDataset"}, mask={"mask_colors": [RED]})
