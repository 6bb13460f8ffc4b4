"""Tests for generator/synthetic_phantoms.py: files, orientation, determinism, anatomy."""

import inspect
import os

import nibabel as nib
import numpy as np
import pytest

import synthetic_phantoms
from synthetic_phantoms import TISSUES, phantom_lpi, render_phantom, write_phantoms

SMALL = (96, 80, 16)  # W, H, slices: not square, so a swapped axis would show
SPACING = (1.6, 1.6, 4.0)
SPINE = [TISSUES[name] for name in ("marrow", "cortical_bone", "disc")]


def _load(path):
    img = nib.load(path)
    return img, np.asanyarray(img.dataobj)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("phantoms"))
    return out, write_phantoms(out, count=4, seed=7, shape=SMALL, spacing=SPACING)


@pytest.fixture(scope="module")
def default_volumes():
    """Display-frame (image, label, tissue map) of 6 volumes at the default shape."""
    return [render_phantom(137, i) for i in range(6)]


def test_interface_defaults():
    params = inspect.signature(write_phantoms).parameters
    assert [p for p in params] == ["output_dir", "count", "seed", "shape", "spacing", "kidneys"]
    assert params["count"].default == 36 and params["seed"].default == 137 and params["kidneys"].default is False
    assert params["shape"].default == (192, 192, 28) and params["spacing"].default == (1.6, 1.6, 4.0)


def test_files_names_dtypes_shapes_and_orientation(small_set):
    out, pairs = small_set
    assert len(pairs) == 4
    for i, (image_path, label_path) in enumerate(pairs):
        assert image_path == os.path.join(out, "imagesTr", f"phantom_{i:03d}_0000.nii.gz")
        assert label_path == os.path.join(out, "labelsTr", f"phantom_{i:03d}.nii.gz")
        image, data = _load(image_path)
        label, mask = _load(label_path)
        assert data.dtype == np.float32 and mask.dtype == np.uint8
        assert data.shape == mask.shape == SMALL
        assert set(np.unique(mask)) <= {0, 1} and mask.any()
        expected = ("R", "A", "S") if i % 4 == 3 else ("L", "P", "I")
        assert nib.aff2axcodes(image.affine) == nib.aff2axcodes(label.affine) == expected
        np.testing.assert_allclose(np.abs(np.diag(image.affine)[:3]), SPACING)
        np.testing.assert_allclose(image.header.get_zooms(), SPACING)
        assert image.header.get_xyzt_units()[0] == "mm"
        assert int(image.header["qform_code"]) > 0 and int(image.header["sform_code"]) > 0
    assert sorted(os.listdir(os.path.join(out, "imagesTr"))) == [f"phantom_{i:03d}_0000.nii.gz" for i in range(4)]


def test_same_seed_same_bytes_other_seed_differs(small_set, tmp_path):
    _, first = small_set
    again = write_phantoms(str(tmp_path / "again"), count=2, seed=7, shape=SMALL, spacing=SPACING)
    other = write_phantoms(str(tmp_path / "other"), count=2, seed=8, shape=SMALL, spacing=SPACING)
    for a, b, c in zip(first, again, other):
        for path_a, path_b, path_c in zip(a, b, c):
            (img_a, data_a), (img_b, data_b), (_, data_c) = _load(path_a), _load(path_b), _load(path_c)
            assert data_a.tobytes() == data_b.tobytes()
            np.testing.assert_array_equal(img_a.affine, img_b.affine)
            assert not np.array_equal(data_a, data_c)


def test_stored_volumes_equal_the_lpi_phantom(small_set):
    """Volume 3 is stored R-A-S; brought to L-P-I it is the same anatomy as the L-P-I render."""
    _, pairs = small_set
    target = nib.orientations.axcodes2ornt(("L", "P", "I"))
    for i in (2, 3):
        image_lpi, label_lpi = phantom_lpi(7, i, SMALL, SPACING)
        for path, expected in zip(pairs[i], (image_lpi, label_lpi)):
            img = nib.load(path)
            transform = nib.orientations.ornt_transform(nib.orientations.io_orientation(img.affine), target)
            reoriented = img.as_reoriented(transform)
            assert nib.aff2axcodes(reoriented.affine) == ("L", "P", "I")
            np.testing.assert_array_equal(np.asanyarray(reoriented.dataobj), expected)


def test_display_frame_convention():
    """rot90(lpi slice, -1) is the display slice: liver on the right, spleen left, spine at the bottom."""
    image, label, tissues = render_phantom(7, 0, SMALL, SPACING)
    image_lpi, label_lpi = phantom_lpi(7, 0, SMALL, SPACING)
    for k in range(SMALL[2]):
        np.testing.assert_array_equal(np.rot90(image_lpi[:, :, k], k=-1), image[:, :, k])
        np.testing.assert_array_equal(np.rot90(label_lpi[:, :, k], k=-1), label[:, :, k])
    height, width = SMALL[1], SMALL[0]
    rows, cols = np.indices((height, width))
    top = tissues[:, :, 1]
    assert cols[top == TISSUES["liver"]].mean() > width / 2
    assert cols[top == TISSUES["spleen"]].mean() < width / 2
    assert rows[np.isin(top, SPINE)].mean() > height / 2


def test_anatomy_is_plausible(default_volumes):
    for image, label, tissues in default_volumes:
        slices = np.flatnonzero(label.any(axis=(0, 1)))
        assert slices.size >= 8 and np.all(np.diff(slices) == 1), "label z-range must be contiguous"
        assert 0.3 <= slices.size / label.shape[2] <= 0.7
        assert not np.any(label.astype(bool) & (tissues == TISSUES["air"]))
        rows, cols, _ = np.nonzero(label)
        spine_rows = np.nonzero(np.isin(tissues[:, :, slices], SPINE))[0]
        assert rows.mean() < spine_rows.mean() and np.percentile(rows, 95) < spine_rows.mean()
        assert cols.min() < label.shape[1] / 2 < cols.max(), "the pancreas crosses the midline"
        # The pancreas is about as bright as the liver: intensity alone does not find it.
        in_slices = (slice(None), slice(None), slices)
        pancreas = image[in_slices][label[in_slices] > 0].mean()
        liver = image[in_slices][tissues[in_slices] == TISSUES["liver"]].mean()
        assert abs(pancreas / liver - 1) < 0.25


def test_intensities_are_mri_like(default_volumes):
    for image, _, tissues in default_volumes:
        assert image.dtype == np.float32 and image.min() >= 0
        assert image.max() > 255
        fat = image[tissues == TISSUES["subcutaneous_fat"]].mean()
        border_air = np.concatenate([image[:4].ravel(), image[-4:].ravel()])
        assert border_air.mean() < 0.1 * fat
    scales = [np.median(image[tissues == TISSUES["liver"]]) for image, _, tissues in default_volumes]
    assert max(scales) / min(scales) > 1.2, "global intensity scaling varies between volumes"


def test_kidneys_are_a_second_class_and_change_nothing_else(small_set, tmp_path):
    _, plain = small_set
    pairs = write_phantoms(str(tmp_path / "k"), count=2, seed=7, shape=SMALL, spacing=SPACING, kidneys=True)
    kidney_tissue = [TISSUES[name] for name in ("kidney_cortex", "kidney_medulla", "renal_sinus")]
    for i, ((image_k, label_k), (image_p, label_p)) in enumerate(zip(pairs, plain)):
        (_, with_kidneys), (_, pancreas_only) = _load(label_k), _load(label_p)
        assert set(np.unique(with_kidneys)) == {0, 1, 2} and set(np.unique(pancreas_only)) == {0, 1}
        np.testing.assert_array_equal(with_kidneys == 1, pancreas_only == 1)  # pancreas unchanged, disjoint
        assert (with_kidneys == 2).any(axis=(0, 1)).sum() >= SMALL[2] // 2  # the kidneys span the slab
        assert _load(image_k)[1].tobytes() == _load(image_p)[1].tobytes()
        _, _, tissues = render_phantom(7, i, SMALL, SPACING)
        _, label, _ = render_phantom(7, i, SMALL, SPACING, kidneys=True)
        np.testing.assert_array_equal(label == 2, np.isin(tissues, kidney_tissue))


def test_refuses_non_empty_output_folders(tmp_path):
    for folder in ("imagesTr", "labelsTr"):
        out = tmp_path / folder
        (out / folder).mkdir(parents=True)
        (out / folder / "old.nii.gz").write_bytes(b"x")
        with pytest.raises(FileExistsError, match=folder):
            write_phantoms(str(out), count=1, shape=SMALL)
        assert os.listdir(out / folder) == ["old.nii.gz"]
    empty = tmp_path / "empty"
    (empty / "imagesTr").mkdir(parents=True)
    assert len(write_phantoms(str(empty), count=1, shape=SMALL)) == 1


def test_cli(tmp_path, capsys):
    assert synthetic_phantoms.main([str(tmp_path / "cli"), "--count", "1", "--seed", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("wrote 1 phantom volume") and str(tmp_path / "cli") in line
    assert os.listdir(tmp_path / "cli" / "labelsTr") == ["phantom_000.nii.gz"]
    assert synthetic_phantoms.main([str(tmp_path / "two"), "--count", "1", "--kidneys"]) == 0
    assert "labels 1 = pancreas and 2 = kidneys" in capsys.readouterr().out
    assert set(np.unique(_load(str(tmp_path / "two" / "labelsTr" / "phantom_000.nii.gz"))[1])) == {0, 1, 2}
    assert synthetic_phantoms.main([str(tmp_path / "cli")]) == 1
    assert "already contains files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        synthetic_phantoms.main(["--help"])
    assert exit_info.value.code == 0
