"""Each augmentation on a disc: the mask moves exactly as the image does."""

import collections
import math

import cv2
import numpy as np
import pytest
from conftest import PANCREAS_CONFIG, config_text, small_model_section

import augmentations as aug
from ConfigParser import ConfigParser
from ImageMaskAugmentor import ImageMaskAugmentor

SIZE, RADIUS, CENTRE = 256, 45, (150.0, 100.0)  # (x, y), off-centre so that rotations move it


def disc(centre=CENTRE, radius=RADIUS, size=SIZE):
    y, x = np.mgrid[0:size, 0:size]
    return ((x - centre[0]) ** 2 + (y - centre[1]) ** 2 <= radius**2).astype(np.uint8)[..., None]


def disc_pair():
    mask = disc()
    noise = np.random.default_rng(0).normal(0, 8, (SIZE, SIZE, 1))
    image = np.clip(40 + 160 * mask + noise, 0, 255).astype(np.uint8).repeat(3, axis=2)
    return image, mask


def iou(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum() / max((a | b).sum(), 1)


def pull_back(source_of):
    """The disc's image under a transform given by its inverse (output → source)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    sx, sy = source_of(x, y)
    return (((sx - CENTRE[0]) ** 2 + (sy - CENTRE[1]) ** 2) <= RADIUS**2).astype(np.uint8)[..., None]


def rotation_inverse(angle):
    """Output → source for a counter-clockwise rotation (y down) about the centre."""
    a, c = math.radians(angle), SIZE / 2

    def source(x, y):
        dx, dy = x - c, y - c
        return c + dx * math.cos(a) - dy * math.sin(a), c + dx * math.sin(a) + dy * math.cos(a)

    return source


def shear_inverse(f):
    return lambda x, y: (x, y - f * (x - SIZE / 2))


def radial_inverse(center, radius, amount):
    def source(x, y):
        cx, cy, big_r = SIZE * center[0], SIZE * center[1], SIZE * radius
        d = np.hypot(x - cx, y - cy)
        f = np.where((d > 0) & (d < big_r), np.sin(np.pi * np.minimum(d, big_r) / (2 * big_r)) ** amount, 1.0)
        return cx + f * (x - cx), cy + f * (y - cy)

    return source


def flipped(mask, horizontal=False, vertical=False):
    return mask[::-1 if vertical else 1, ::-1 if horizontal else 1]


GEOMETRIC = {
    "hflip": (lambda i, m: aug.hflip(i, m), lambda: flipped(disc(), horizontal=True)),
    "vflip": (lambda i, m: aug.vflip(i, m), lambda: flipped(disc(), vertical=True)),
    "rotate 30": (lambda i, m: aug.rotate(i, m, 30), lambda: pull_back(rotation_inverse(30))),
    "rotate 270": (lambda i, m: aug.rotate(i, m, 270), lambda: pull_back(rotation_inverse(270))),
    "shrink 0.6": (
        lambda i, m: aug.shrink(i, m, 0.6),
        # 256 px → int(0.6·256) = 153 px (nearest: source = floor(x·256/153)), pasted at 51.
        lambda: pull_back(lambda x, y: (np.floor((x - 51) * SIZE / 153), np.floor((y - 51) * SIZE / 153))),
    ),
    "shear 0.1": (lambda i, m: aug.shear(i, m, 0.1), lambda: pull_back(shear_inverse(0.1))),
    "hflipped shear": (
        lambda i, m: aug.hflip(*aug.shear(i, m, 0.1)),
        lambda: flipped(pull_back(shear_inverse(0.1)), horizontal=True),
    ),
    "barrel": (
        lambda i, m: aug.radial(i, m, (0.5, 0.4), 0.3, 0.3),
        lambda: pull_back(radial_inverse((0.5, 0.4), 0.3, 0.3)),
    ),
    "pincushion": (
        lambda i, m: aug.radial(i, m, (0.55, 0.45), 0.3, -0.5),
        lambda: pull_back(radial_inverse((0.55, 0.45), 0.3, -0.5)),
    ),
}


@pytest.mark.parametrize("name", GEOMETRIC)
def test_geometric_transform_of_the_mask_matches_an_independent_computation(name):
    transform, expected = GEOMETRIC[name]
    image, mask = disc_pair()
    new_image, new_mask = transform(image, mask)
    assert new_image.shape == image.shape and new_image.dtype == np.uint8
    assert new_mask.shape == mask.shape and set(np.unique(new_mask)) <= {0, 1}
    assert iou(new_mask, expected()) >= 0.98
    # The image moved with it: its bright disc is where the mask is.
    assert iou(new_image[..., :1] > 120, new_mask) >= 0.95


@pytest.mark.parametrize(
    "name, transform",
    [
        ("elastic", lambda i, m, r: aug.elastic(i, m, 1300, 8, r)),
        ("distort", lambda i, m, r: aug.distort(i, m, 0.03, 40, r)),
    ],
)
def test_random_fields_move_image_and_mask_together(name, transform):
    _, mask = disc_pair()
    as_image = (mask * 255).repeat(3, axis=2)  # the mask, interpolated as an image would be
    warped, warped_mask = transform(as_image, mask, np.random.default_rng(5))
    assert set(np.unique(warped_mask)) <= {0, 1}
    assert iou(warped[..., :1] >= 128, warped_mask) >= 0.98  # the original: IoU 0.93
    assert iou(warped_mask, mask) < 0.995  # it did move
    again, again_mask = transform(as_image, mask, np.random.default_rng(5))
    assert (again == warped).all() and (again_mask == warped_mask).all()


def test_distortion_respects_its_nominal_size():
    _, mask = disc_pair()
    ramp = np.tile(np.arange(SIZE, dtype=np.float32), (SIZE, 1))[..., None]  # x coordinate as intensity
    warped, _ = aug.distort(ramp, mask, 0.03, 40, np.random.default_rng(1))
    inner = slice(20, -20)
    shift = np.abs(warped[inner, inner, 0] - ramp[inner, inner, 0])
    assert 1 <= shift.max() <= int(SIZE * 0.03) + 1


@pytest.mark.parametrize(
    "transform",
    [lambda i, m: aug.sharpening(i, m, 1.0), lambda i, m: aug.brightening(i, m, 1.2, 10)],
    ids=["sharpening", "brightening"],
)
def test_intensity_transforms_leave_the_mask_unchanged(transform):
    image, mask = disc_pair()
    new_image, new_mask = transform(image, mask)
    assert (new_mask == mask).all()
    assert not (new_image == image).all()


def test_brightening_math():
    image = np.full((4, 4, 3), 100, np.uint8)
    assert (aug.brightening(image, np.zeros((4, 4, 1), np.uint8), 1.2, 10)[0] == 130).all()


def test_the_pancreas_config_defines_the_originals_27_variants():
    augmentor = ImageMaskAugmentor(ConfigParser(PANCREAS_CONFIG))
    prefixes = [v.prefix for v in augmentor.variants]
    # 2 flips + 11 rotations + 2 shrinks + 4 shears + 1 deformation + 2 distortions + 5 barrel
    assert len(prefixes) == 27 and augmentor.choices == 28
    assert prefixes[:3] == ["hfliped_", "vfliped_", "rotated_30_"]
    assert "shrinked_0_8_" in prefixes and "hvflipped_sheared_0_1_" in prefixes
    assert "deformed_alpha_1300_sigmoid_8_" in prefixes
    assert "distorted_0.02_rsigma0.5_sigma40_" in prefixes
    assert prefixes[-5:] == [f"barrdistorted_{i}_0.3_0.3_" for i in range(101, 106)]


def test_defaults_and_every_switch():
    sections = {
        "model": small_model_section(32),
        "augmentor": {"shears": [0.2], "pincdistortion": True, "sharpening": True, "brightening": True},
        "brightening": {"alpha": 1.5, "beta": 5},
        "deformation": {"alpah": 100, "sigmoids": []},
    }
    config = ConfigParser.from_string(config_text(sections))
    prefixes = [v.prefix for v in ImageMaskAugmentor(config).variants]
    assert prefixes == [
        "hfliped_", "vfliped_", "rotated_90_", "rotated_180_", "rotated_270_", "shrinked_0_8_",
        "sheared_0_2_", "hflipped_sheared_0_2_", "vflipped_sheared_0_2_", "hvflipped_sheared_0_2_",
        "pincdistorted_101_0.5_-0.5_", "sharpened_1.0_", "brightened_1.5_5",
    ]
    sections["augmentor"].update(deformation=True)
    prefixes = [v.prefix for v in ImageMaskAugmentor(ConfigParser.from_string(config_text(sections))).variants]
    # brightening's alpha no longer overwrites the deformation's; `sigmoids = []` falls back to `sigmoid`.
    assert "deformed_alpha_100_sigmoid_8_" in prefixes


def test_barrel_and_pincushion_each_apply_their_own_sections_settings():
    settings = {
        "barrdistortion": {"radius": 0.3, "amount": 0.3, "centers": [(0.5, 0.4), (0.6, 0.6)]},
        "pincdistortion": {"radius": 0.45, "amount": -0.7, "centers": [(0.55, 0.45)]},
    }
    sections = {
        "model": small_model_section(32),
        "augmentor": {"hflip": False, "vflip": False, "rotation": False, "shrinks": [],
                      "barrdistortion": True, "pincdistortion": True},
        **settings,
    }
    variants = ImageMaskAugmentor(ConfigParser.from_string(config_text(sections))).variants
    assert [v.prefix for v in variants] == [
        "barrdistorted_101_0.3_0.3_", "barrdistorted_102_0.3_0.3_", "pincdistorted_101_0.45_-0.7_",
    ]
    expected = [(kind, tuple(c)) for kind in settings for c in settings[kind]["centers"]]
    image, mask = disc_pair()
    for variant, (kind, center) in zip(variants, expected):
        got_image, got_mask = variant.apply(image, mask, np.random.default_rng(0))
        section = settings[kind]
        want_image, want_mask = aug.radial(image, mask, center, section["radius"], section["amount"])
        np.testing.assert_array_equal(got_image, want_image, err_msg=variant.prefix)
        np.testing.assert_array_equal(got_mask, want_mask, err_msg=variant.prefix)
    # The two sections' settings really give different outputs, so the check above can fail.
    other = aug.radial(image, mask, expected[0][1], 0.45, -0.7)[1]
    assert not np.array_equal(variants[0].apply(image, mask, None)[1], other)


def test_draws_are_uniform_over_the_original_and_each_variant():
    augmentor = ImageMaskAugmentor(ConfigParser(PANCREAS_CONFIG))
    rng = np.random.default_rng(0)
    counts = collections.Counter(augmentor.draw(rng) for _ in range(28_000))
    assert sorted(counts) == list(range(28))
    assert all(880 <= n <= 1120 for n in counts.values())  # 1000 ± 3.8σ


def test_every_variant_keeps_masks_binary_and_shapes():
    augmentor = ImageMaskAugmentor(ConfigParser(PANCREAS_CONFIG))
    image, mask = disc_pair()
    for choice in range(augmentor.choices):
        new_image, new_mask, _ = augmentor.augment(image, mask, choice, np.random.default_rng(choice))
        assert new_image.shape == image.shape and new_mask.shape == mask.shape
        assert set(np.unique(new_mask)) <= {0, 1}
        assert new_mask.sum() > 0.3 * mask.sum()


def test_no_variant_mixes_class_labels():
    augmentor = ImageMaskAugmentor(ConfigParser(PANCREAS_CONFIG))
    image, mask = disc_pair()
    labels = mask.copy()
    labels[100:156, 100:156][labels[100:156, 100:156] > 0] = 2  # class 2 inside the class-1 disc
    assert set(np.unique(labels)) == {0, 1, 2}
    for choice in range(augmentor.choices):
        _, new_labels, prefix = augmentor.augment(image, labels, choice, np.random.default_rng(choice))
        assert set(np.unique(new_labels)) == {0, 1, 2}, prefix  # nearest-neighbour: no blends, both kept


def test_grey_images_keep_their_single_channel():
    image, mask = disc_pair()
    grey = image[..., :1].copy()
    for transform in (lambda i, m: aug.rotate(i, m, 30), lambda i, m: aug.shrink(i, m, 0.8),
                      lambda i, m: aug.elastic(i, m, 300, 8, np.random.default_rng(0)),
                      lambda i, m: aug.sharpening(i, m, 1.0)):
        assert transform(grey, mask)[0].shape == grey.shape


def test_background_fill_is_the_corner_colour_without_wrap_around():
    image, mask = disc_pair()
    image[:4, :4] = 250
    shrunk, _ = aug.shrink(image, mask, 0.5)
    assert (shrunk[:10, :10] == 250).all()  # the original's uint8 sum wrapped around
    assert cv2.countNonZero(aug.rotate(image, mask, 45)[1][..., 0]) > 0
