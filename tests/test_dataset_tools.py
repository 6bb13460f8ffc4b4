"""The dataset tools: NIfTI → slices, patient-level splits, statistics."""

import csv
import os

import cv2
import nibabel as nib
import numpy as np
import pytest

import split_master
from DatasetStatistics import DatasetStatistics
from ImageMaskDatasetGenerator import ConversionError, ImageMaskDatasetGenerator, main as convert_main
from synthetic_phantoms import write_phantoms
from volume_ids import volume_id


def phantom_lpi(shape=(40, 30, 6), bright=1800.0):
    """A body with a bright blob (the label) and a dimmer blob, in L-P-I order."""
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    image = np.zeros(shape, np.float32)
    label = np.zeros(shape, np.uint8)
    body = ((x - 20) / 18.0) ** 2 + ((y - 15) / 13.0) ** 2 < 1
    blob = (x - 12) ** 2 + (y - 10) ** 2 < 16
    dim = (x - 28) ** 2 + (y - 20) ** 2 < 16
    for z in range(shape[2]):
        image[..., z] = 300 * body + (bright - 300) * blob + 100 * dim + 5 * z
        if 1 <= z <= 4:
            label[..., z] = blob
    image[0, 0, :] = 4000  # one outlier voxel the percentile window ignores
    return image, label


def save(folder, name, array, affine):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    nib.save(nib.Nifti1Image(array, affine), path)
    return path


def write_case(root, case, image, label, affine, label_affine=None):
    save(os.path.join(root, "imagesTr"), f"{case}_0000.nii.gz", image, affine)
    save(os.path.join(root, "labelsTr"), f"{case}.nii.gz", label, affine if label_affine is None else label_affine)


def convert(root, out, **options):
    generator = ImageMaskDatasetGenerator(**options)
    return generator.generate(os.path.join(root, "imagesTr"), os.path.join(root, "labelsTr"), out, progress=False)


def read(path, flags=cv2.IMREAD_GRAYSCALE):
    return cv2.imread(str(path), flags)


def test_one_phantom_in_two_orientations_gives_identical_slices(tmp_path):
    image, label = phantom_lpi()
    lpi = np.diag([-1.5, -1.5, -3.0, 1.0])
    ras = np.diag([1.5, 1.5, 3.0, 1.0])
    # PanSegData's usual storage, and the same anatomy stored R-A-S; the label's own
    # header is wrong on purpose: the image's affine is the one used.
    write_case(tmp_path / "a", "case01", image, label, lpi)
    write_case(tmp_path / "b", "case01", image[::-1, ::-1, ::-1].copy(), label[::-1, ::-1, ::-1].copy(),
               ras, label_affine=np.eye(4))
    rows_a = convert(tmp_path / "a", tmp_path / "out_a", size=64)
    rows_b = convert(tmp_path / "b", tmp_path / "out_b", size=64)
    assert [r["image"] for r in rows_a] == [r["image"] for r in rows_b]
    assert [r["source_orientation"] for r in (rows_a[0], rows_b[0])] == ["LPI", "RAS"]
    for row in rows_a:
        a, b = read(tmp_path / "out_a/images" / row["image"]), read(tmp_path / "out_b/images" / row["image"])
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
        assert (read(tmp_path / "out_a/masks" / row["mask"]) == read(tmp_path / "out_b/masks" / row["mask"])).all()


def test_slices_follow_the_originals_pad_resize_and_rotation(tmp_path):
    image, label = phantom_lpi()
    image[0:4, 0:4, :] = 1500  # patient's right (axis 0 low), anterior (axis 1 low)
    write_case(tmp_path, "c", image, label, np.diag([-1.0, -1.0, -1.0, 1.0]))
    rows = convert(tmp_path, tmp_path / "out", size=80)
    slice_image = read(tmp_path / "out/images" / rows[0]["image"])
    assert slice_image.shape == (80, 80)
    # 40×30 slice → 40×40 square (5 padding columns each side) → ×2 → rotated 90°
    # clockwise: the padding becomes the top and bottom rows; anterior is at the
    # top and the patient's right on the image right.
    assert slice_image[:6].max() == 0 and slice_image[-6:].max() == 0
    assert slice_image[11:17, 73:80].min() > 200  # the marker, just below the top padding
    assert slice_image[11:17, :8].max() < 100


def test_bright_tissue_is_not_wrapped(tmp_path):
    image, label = phantom_lpi(bright=1800.0)
    write_case(tmp_path, "bright", image, label, np.diag([-1.0, -1.0, -1.0, 1.0]))
    rows = convert(tmp_path, tmp_path / "out", size=0, rotation=0)
    picture = read(tmp_path / "out/images" / rows[0]["image"])
    mask = read(tmp_path / "out/masks" / rows[0]["mask"]) > 0
    body_only = (picture > 0) & ~mask
    # 1800 is the brightest tissue: it must come out brightest, not wrapped to 1800 % 256 = 8.
    assert picture[mask].mean() > 240
    assert picture[mask].mean() > picture[body_only].mean() + 100


def test_slice_count_names_mask_values_and_manifest(tmp_path):
    image, label = phantom_lpi()
    write_case(tmp_path, "vol-A", image, label, np.diag([-1.2, -1.4, -3.0, 1.0]))
    rows = convert(tmp_path, tmp_path / "out", size=64)
    assert [r["image"] for r in rows] == [f"vol_A_{z}.jpg" for z in (1, 2, 3, 4)]  # non-empty slices only
    assert sorted(os.listdir(tmp_path / "out/masks")) == [f"vol_A_{z}.png" for z in (1, 2, 3, 4)]
    assert all(volume_id(r["image"]) == "vol_A" for r in rows)
    for row in rows:
        assert set(np.unique(read(tmp_path / "out/masks" / row["mask"]))) == {0, 255}
        assert read(tmp_path / "out/images" / row["image"]).shape == (64, 64)
    with open(tmp_path / "out/manifest.csv") as f:
        manifest = list(csv.DictReader(f))
    assert manifest[0]["volume"] == "vol_A" and manifest[0]["slice"] == "1"
    assert (manifest[0]["spacing_x_mm"], manifest[0]["spacing_z_mm"]) == ("1.2", "3.0")
    kept = convert(tmp_path, tmp_path / "all", size=64, skip_empty_mask=False, image_format="png")
    assert len(kept) == 6 and kept[0]["image"] == "vol_A_0.png"


def test_volumes_are_paired_by_name_and_orphans_named(tmp_path):
    image, label = phantom_lpi()
    affine = np.diag([-1.0, -1.0, -1.0, 1.0])
    for case in ("b", "a"):
        write_case(tmp_path, case, image, label, affine)
    rows = convert(tmp_path, tmp_path / "out", size=32)
    assert {r["volume"] for r in rows} == {"a", "b"}
    assert all(r["source_label"] == r["volume"] + ".nii.gz" for r in rows)
    save(tmp_path / "imagesTr", "c_0000.nii.gz", image, affine)
    with pytest.raises(ConversionError, match="c_0000.nii.gz has no label volume for case 'c'"):
        convert(tmp_path, tmp_path / "out2")
    with pytest.raises(ConversionError, match="is not empty"):
        os.remove(tmp_path / "imagesTr/c_0000.nii.gz")
        convert(tmp_path, tmp_path / "out")


def test_converter_command_line(tmp_path, capsys):
    image, label = phantom_lpi()
    write_case(tmp_path, "cli", image, label, np.diag([-1.0, -1.0, -1.0, 1.0]))
    args = [str(tmp_path / "imagesTr"), str(tmp_path / "labelsTr"), str(tmp_path / "out"), "--size", "32"]
    assert convert_main(args) == 0
    assert "Wrote 4 slices of 1 volumes" in capsys.readouterr().out
    assert convert_main([str(tmp_path / "nope"), str(tmp_path), str(tmp_path / "x")]) == 1
    assert "nope does not exist" in capsys.readouterr().err


def make_master(folder, volumes=10, slices=3):
    for kind in ("images", "masks"):
        os.makedirs(os.path.join(folder, kind), exist_ok=True)
    rows = []
    for v in range(volumes):
        for s in range(slices):
            name = f"{100 + v}_{s}"
            cv2.imwrite(os.path.join(folder, "images", name + ".jpg"), np.full((8, 8), v * 10, np.uint8))
            cv2.imwrite(os.path.join(folder, "masks", name + ".png"), np.zeros((8, 8), np.uint8))
            rows.append({"image": name + ".jpg", "volume": str(100 + v), "slice": s})
    with open(os.path.join(folder, "manifest.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "volume", "slice"])
        writer.writeheader()
        writer.writerows(rows)


def make_flat_master(folder, names):
    """A master folder of single 2-D images, one per name."""
    for kind in ("images", "masks"):
        os.makedirs(os.path.join(folder, kind), exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(os.path.join(folder, "images", name + ".jpg"), np.full((8, 8), i, np.uint8))
        cv2.imwrite(os.path.join(folder, "masks", name + ".png"), np.zeros((8, 8), np.uint8))


def split_volumes(out):
    return {s: {volume_id(n) for n in os.listdir(os.path.join(out, s, "images"))} for s in split_master.SPLITS}


def test_no_volume_is_in_two_splits_and_the_split_is_reproducible(tmp_path):
    make_master(tmp_path / "master", volumes=20)
    first = split_master.split_master(str(tmp_path / "master"), str(tmp_path / "a"), seed=7)
    again = split_master.split_master(str(tmp_path / "master"), str(tmp_path / "b"), seed=7)
    other = split_master.split_master(str(tmp_path / "master"), str(tmp_path / "c"), seed=8)
    assert first == again != other
    volumes = split_volumes(tmp_path / "a")
    assert [len(volumes[s]) for s in split_master.SPLITS] == [16, 3, 1]  # int(0.8·20), int(0.15·20), rest
    assert not (volumes["train"] & volumes["valid"] or volumes["train"] & volumes["test"]
                or volumes["valid"] & volumes["test"])
    for split in split_master.SPLITS:  # masks travel with their images
        assert sorted(os.listdir(tmp_path / "a" / split / "masks")) == sorted(
            n.replace(".jpg", ".png") for n in os.listdir(tmp_path / "a" / split / "images"))
    with open(tmp_path / "a/split.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["volume"]: r["split"] for r in rows} == first and rows[0]["slices"] == "3"
    with open(tmp_path / "a/manifest.csv") as f:
        manifest = list(csv.DictReader(f))
    assert all(r["split"] == first[r["volume"]] for r in manifest)


def test_small_datasets_keep_every_split_and_slice_mode_warns(tmp_path, capsys):
    assert split_master.split_counts(14) == (11, 2, 1)
    assert split_master.split_counts(3) == (1, 1, 1)
    make_master(tmp_path / "master", volumes=4, slices=5)
    assert split_master.main([str(tmp_path / "master"), str(tmp_path / "s"), "--by-slice"]) == 0
    assert "leak" in capsys.readouterr().err
    volumes = split_volumes(tmp_path / "s")
    assert volumes["train"] & (volumes["valid"] | volumes["test"])  # what --by-slice does
    assert split_master.main([str(tmp_path / "master"), str(tmp_path / "s")]) == 1
    assert "is not empty" in capsys.readouterr().err


def test_dataset_statistics_chart_and_table(tmp_path, monkeypatch):
    make_master(tmp_path / "master", volumes=10)
    split_master.split_master(str(tmp_path / "master"), str(tmp_path / "Demo-T1"), seed=1)
    (tmp_path / "Demo-T1" / "notes.txt").write_text("a plain file in the dataset root")
    monkeypatch.chdir(tmp_path)
    statistics = DatasetStatistics(str(tmp_path / "Demo-T1") + "/")
    splits = statistics.count()
    assert {s: len(n) for s, n in splits.items()} == {"test": 3, "train": 24, "valid": 3}
    table = statistics.table(splits)
    assert "train           24        8" in table and "total           30       10" in table
    assert "WARNING" not in table
    path = statistics.plot(splits)
    assert path == "./Demo-T1_Statistics.png" and os.path.getsize(path) > 0
    leaky = dict(splits, valid=splits["valid"] + [splits["train"][0]])
    assert "volumes are in more than one split" in statistics.table(leaky)
    two_d = {"train": ["ISIC_0000001.jpg", "ISIC_0000002.jpg"], "valid": ["ISIC_0000003.jpg"]}
    table = statistics.table(two_d)  # one id for every file: no patients, so no leak to warn of
    assert "carry no volume ids" in table and "WARNING" not in table and "total            3" in table


def test_a_corrupt_volume_is_named_and_leaves_no_half_dataset(tmp_path):
    image, label = phantom_lpi()
    write_case(tmp_path, "good", image, label, np.diag([-1.0, -1.0, -1.0, 1.0]))
    (tmp_path / "imagesTr" / "zbad_0000.nii.gz").write_bytes(b"\x1f\x8b truncated")
    save(tmp_path / "labelsTr", "zbad.nii.gz", label, np.eye(4))
    with pytest.raises(ConversionError, match=r"zbad_0000.nii.gz: not a readable NIfTI volume"):
        convert(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConversionError, match=r"out.partial is left from an earlier conversion"):
        convert(tmp_path, tmp_path / "out")


def test_case_names_ending_in_four_digits_pair_exactly(tmp_path):
    image, label = phantom_lpi()
    affine = np.diag([-1.0, -1.0, -1.0, 1.0])
    for case in ("PANCREAS_0001", "PANCREAS_0002"):
        save(tmp_path / "imagesTr", f"{case}.nii.gz", image, affine)
        save(tmp_path / "labelsTr", f"{case}.nii.gz", label, affine)
    rows = convert(tmp_path, tmp_path / "out", size=32)
    assert sorted({r["volume"] for r in rows}) == ["PANCREAS_0001", "PANCREAS_0002"]


def test_names_without_volume_ids_are_split_by_file(tmp_path, capsys):
    names = [f"ISIC_{i:07d}" for i in range(10)]  # volume_id gives ISIC for every file
    make_flat_master(tmp_path / "master", names)
    assert split_master.main([str(tmp_path / "master"), str(tmp_path / "a"), "--seed", "3"]) == 0
    out, err = capsys.readouterr()
    assert out.count("carry no volume ids") == 1 and "splitting by file" in out
    assert "(all 10 give the one id 'ISIC')" in out and not err  # no leakage warning
    assert "num_train     8 images from 8 files" in out and "num_valid     1 images from 1 files" in out
    with open(tmp_path / "a/split.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["slice"] for r in rows] == [n + ".jpg" for n in names] and {r["slices"] for r in rows} == {"1"}
    files = {s: sorted(os.listdir(tmp_path / "a" / s / "images")) for s in split_master.SPLITS}
    assert [len(files[s]) for s in split_master.SPLITS] == [8, 1, 1]  # the volume ratios, applied to files
    assert {r["slice"]: r["split"] for r in rows} == {n: s for s, group in files.items() for n in group}
    again = split_master.split_master(str(tmp_path / "master"), str(tmp_path / "b"), seed=3)
    assert again == {r["slice"]: r["split"] for r in rows}  # the same seeded shuffle


def test_mixed_names_stop_the_split(tmp_path, capsys):
    make_flat_master(tmp_path / "master", ["a_1", "a_2", "b_1", "b_2", "scan", "photo"])
    assert split_master.main([str(tmp_path / "master"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ERROR: the file names in ") and "mix two conventions" in err
    assert "a_1.jpg, a_2.jpg, b_1.jpg" in err and "photo.jpg, scan.jpg" in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def kidney_phantoms(tmp_path_factory):
    out = tmp_path_factory.mktemp("kidneys")
    write_phantoms(str(out), count=1, seed=7, shape=(48, 40, 8), kidneys=True)
    return out


def test_multi_class_masks_keep_the_label_values(kidney_phantoms, tmp_path):
    rows = convert(kidney_phantoms, tmp_path / "multi", size=32, multi_class=True)
    values = [set(np.unique(read(tmp_path / "multi/masks" / r["mask"]))) for r in rows]
    assert all(v <= {0, 1, 2} and v != {0} for v in values)  # every kept slice has some label
    assert any(2 in v for v in values) and any(1 in v for v in values)
    binary = convert(kidney_phantoms, tmp_path / "binary", size=32)
    assert [r["image"] for r in binary] == [r["image"] for r in rows]  # the same non-empty slices
    for row in binary:
        assert set(np.unique(read(tmp_path / "binary/masks" / row["mask"]))) == {0, 255}


def test_multi_class_labels_above_255_are_named(tmp_path):
    image, label = phantom_lpi()
    write_case(tmp_path, "big", image, label.astype(np.uint16) * 300, np.diag([-1.0, -1.0, -1.0, 1.0]))
    with pytest.raises(ConversionError, match=r"big.nii.gz: label values 0..300 do not fit"):
        convert(tmp_path, tmp_path / "out", size=32, multi_class=True)
    args = [str(tmp_path / "imagesTr"), str(tmp_path / "labelsTr"), str(tmp_path / "cli"), "--multi-class"]
    assert convert_main(args) == 1


def two_volumes(root, seed_shapes=((40, 30, 12), (40, 30, 9))):
    """Volumes 'a' (8 empty slices: 0, 5…11) and 'b' (5 empty: 0, 5…8); slices 1…4 are labelled."""
    for case, shape in zip(("a", "b"), seed_shapes):
        image, label = phantom_lpi(shape)
        write_case(root, case, image, label, np.diag([-1.0, -1.0, -1.0, 1.0]))


def kept_empty(rows):
    return {v: [r["slice"] for r in rows if r["volume"] == v and r["empty_mask"]] for v in ("a", "b")}


def test_keep_empty_fraction_keeps_a_seeded_share_of_each_volume(tmp_path):
    two_volumes(tmp_path)
    rows = convert(tmp_path, tmp_path / "half", size=16, keep_empty_fraction=0.5)
    kept = kept_empty(rows)
    # floor(R·E + 0.5): 0.5·8 = 4 and 0.5·5 = 2.5, rounded half up to 3.
    assert len(kept["a"]) == 4 and len(kept["b"]) == 3
    assert set(kept["a"]) <= {0, 5, 6, 7, 8, 9, 10, 11} and set(kept["b"]) <= {0, 5, 6, 7, 8}
    assert [r["slice"] for r in rows if not r["empty_mask"]] == [1, 2, 3, 4] * 2  # every labelled slice
    with open(tmp_path / "half/manifest.csv") as f:
        manifest = list(csv.DictReader(f))
    assert [r["empty_mask"] for r in manifest] == [str(r["empty_mask"]) for r in rows]
    assert len(os.listdir(tmp_path / "half/images")) == len(rows) == 8 + 7
    again = convert(tmp_path, tmp_path / "again", size=16, keep_empty_fraction=0.5)
    assert kept_empty(again) == kept
    other = convert(tmp_path, tmp_path / "other", size=16, keep_empty_fraction=0.5, seed=138)
    assert kept_empty(other) != kept and [len(v) for v in kept_empty(other).values()] == [4, 3]
    # The choice of a volume depends on its name and the seed only, not on the other volumes.
    image, label = phantom_lpi((40, 30, 9))
    write_case(tmp_path / "alone", "b", image, label, np.diag([-1.0, -1.0, -1.0, 1.0]))
    alone = convert(tmp_path / "alone", tmp_path / "b_only", size=16, keep_empty_fraction=0.5)
    assert [r["slice"] for r in alone if r["empty_mask"]] == kept["b"]
    assert [len(v) for v in kept_empty(convert(tmp_path, tmp_path / "all", size=16,
                                               keep_empty_fraction=1)).values()] == [8, 5]
    assert all(not r["empty_mask"] for r in convert(tmp_path, tmp_path / "none", size=16, keep_empty_fraction=0))


def test_keep_empty_fraction_options(tmp_path, capsys):
    from ImageMaskDatasetGenerator import empty_slices_kept

    assert empty_slices_kept([9, 3, 5, 7], 0.5, 1, "v") == empty_slices_kept([3, 5, 7, 9], 0.5, 1, "v")
    assert len(empty_slices_kept(list(range(10)), 0.25, 1, "v")) == 3  # 2.5 rounded half up
    with pytest.raises(ValueError, match="contradicts keep_empty_fraction=0.5"):
        ImageMaskDatasetGenerator(skip_empty_mask=False, keep_empty_fraction=0.5)
    with pytest.raises(ValueError, match="within 0..1"):
        ImageMaskDatasetGenerator(keep_empty_fraction=1.5)
    two_volumes(tmp_path)
    base = [str(tmp_path / "imagesTr"), str(tmp_path / "labelsTr")]
    for wrong in (["--keep-empty", "--keep-empty-fraction", "0.5"], ["--keep-empty-fraction", "-0.1"]):
        with pytest.raises(SystemExit):
            convert_main(base + [str(tmp_path / "x")] + wrong)
    assert "give one of them" in capsys.readouterr().err
    args = base + [str(tmp_path / "cli"), "--size", "16", "--keep-empty", "--keep-empty-fraction", "1"]
    assert convert_main(args) == 0 and "Wrote 21 slices of 2 volumes" in capsys.readouterr().out
    args = base + [str(tmp_path / "cli2"), "--size", "16", "--keep-empty-fraction", "0.5", "--seed", "3"]
    assert convert_main(args) == 0 and "Wrote 15 slices of 2 volumes" in capsys.readouterr().out


def ramp_volume(root, depth=6, side=16):
    """Slice i holds intensity 10·i everywhere, and a label everywhere: no slice is empty."""
    image = np.broadcast_to(10.0 * np.arange(depth, dtype=np.float32), (side, side, depth)).copy()
    label = np.ones((side, side, depth), np.uint8)
    write_case(root, "ramp", image, label, np.diag([-1.0, -1.0, -1.0, 1.0]))


def expected_stack(n, k, depth=6):
    return [10 * min(max(m, 0), depth - 1) for m in range(n - k, n + k + 1)]


def channel_values(array):
    assert all((array[..., c] == array[0, 0, c]).all() for c in range(array.shape[-1]))
    return [int(v) for v in array[0, 0]]


def test_context_stacks_neighbour_slices_as_channels(tmp_path):
    ramp_volume(tmp_path)
    rows = convert(tmp_path, tmp_path / "k2", size=0, normalize=False, context=2)
    assert [r["image"] for r in rows] == [f"ramp_{n}.npy" for n in range(6)]
    assert {r["context"] for r in rows} == {2} and {r["mask"] for r in rows} == {f"ramp_{n}.png" for n in range(6)}
    for n in range(6):
        stack = np.load(tmp_path / f"k2/images/ramp_{n}.npy")
        assert stack.dtype == np.uint8 and stack.shape == (16, 16, 5)
        assert channel_values(stack) == expected_stack(n, 2)  # n−2 … n+2, the ends repeated
    assert channel_values(np.load(tmp_path / "k2/images/ramp_0.npy")) == [0, 0, 0, 10, 20]
    rows = convert(tmp_path, tmp_path / "k1", size=0, normalize=False, context=1)
    assert rows[0]["image"] == "ramp_0.png"
    bgr = read(tmp_path / "k1/images/ramp_3.png", cv2.IMREAD_UNCHANGED)
    assert channel_values(bgr) == [40, 30, 20]  # OpenCV's BGR array: the PNG's red is n−1
    plain = convert(tmp_path, tmp_path / "k0", size=0, normalize=False, keep_empty_fraction=1)
    assert read(tmp_path / "k0/images/ramp_3.jpg").shape == (16, 16)
    with pytest.raises(ValueError, match="context=1 stacks 3 slices, written as png"):
        ImageMaskDatasetGenerator(context=1, image_format="jpg")
    with pytest.raises(ValueError, match="context must be an integer >= 0"):
        ImageMaskDatasetGenerator(context=-1)
    assert len(plain) == 6


def test_context_images_read_back_in_slice_order(tmp_path):
    from conftest import config_text, small_model_section

    from ConfigParser import ConfigParser
    from data_pipeline import PairReader, make_dataset
    from errors import DataError
    from ImageMaskDataset import ImageMaskDataset

    ramp_volume(tmp_path)
    convert(tmp_path, tmp_path / "k1", size=0, normalize=False, context=1)
    convert(tmp_path, tmp_path / "k2", size=0, normalize=False, context=2)

    def dataset(folder, channels):
        sections = {"model": small_model_section(16, image_channels=channels),
                    "train": {"image_datapath": str(tmp_path / folder / "images"),
                              "mask_datapath": str(tmp_path / folder / "masks")}}
        return ImageMaskDataset(ConfigParser.from_string(config_text(sections), "c.config"))

    k1 = dataset("k1", 3)
    x, _ = k1.read_pair(str(tmp_path / "k1/images/ramp_3.png"), str(tmp_path / "k1/masks/ramp_3.png"))
    assert channel_values(x) == [20, 30, 40]  # channel 0 = slice n−1
    k2 = dataset("k2", 5)
    pairs = k2.pairs("train")
    assert [os.path.basename(i) for i, _ in pairs] == [f"ramp_{n}.npy" for n in range(6)]
    k2.check_split(pairs, "train", need_foreground=True)
    images, masks = next(iter(make_dataset(pairs, PairReader(k2), batch_size=6)))
    assert images.shape == (6, 16, 16, 5) and masks.shape == (6, 16, 16, 1)
    for n in range(6):
        assert channel_values(images.numpy()[n].astype(np.uint8)) == expected_stack(n, 2)
    with pytest.raises(DataError, match=r"ramp_0.npy: a .npy channel stack of 5 channels, but \[model\] "
                                        r"image_channels = 3"):
        dataset("k2", 3).read_pair(*pairs[0])
    with pytest.raises(DataError, match=r"ramp_0.png: an image file gives 1 or 3 channels, but \[model\] "
                                        r"image_channels = 5"):
        dataset("k1", 5).read_pair(*k1.pairs("train")[0])


def test_a_stack_file_shows_its_centre_slice(tmp_path):
    from errors import DataError
    from ImagePreprocessor import read_file, read_image

    ramp_volume(tmp_path)
    convert(tmp_path, tmp_path / "k2", size=0, normalize=False, context=2)
    path = str(tmp_path / "k2/images/ramp_1.npy")
    picture = read_file(path)  # what 2.evaluate's worst cases draw on
    assert picture.shape == (16, 16, 3) and channel_values(picture) == [10, 10, 10]
    assert channel_values(read_image(path)) == [0, 0, 10, 20, 30]
    with pytest.raises(DataError, match="ramp_1.npy: a .npy channel stack, not an image file"):
        read_file(path, cv2.IMREAD_UNCHANGED)


def test_debug_pictures_of_stacks_show_the_centre_slice(tmp_path, monkeypatch):
    from conftest import config_text, small_model_section

    from ConfigParser import ConfigParser
    from DatasetDebugWriter import DatasetDebugWriter
    from ImageMaskDataset import ImageMaskDataset

    ramp_volume(tmp_path)
    convert(tmp_path, tmp_path / "k2", size=0, normalize=False, context=2)
    sections = {"model": small_model_section(16, image_channels=5), "dataset": {"debug_max": 2},
                "train": {"image_datapath": str(tmp_path / "k2/images"), "mask_datapath": str(tmp_path / "k2/masks")}}
    config = ConfigParser.from_string(config_text(sections), "c.config")
    dataset = ImageMaskDataset(config)
    monkeypatch.chdir(tmp_path)
    assert DatasetDebugWriter(config, dataset).write(dataset.pairs("train")) == 2
    assert sorted(os.listdir("dataset_images")) == ["ramp_0.png", "ramp_1.png"]
    assert (read("dataset_images/ramp_1.png") == 10).all()
