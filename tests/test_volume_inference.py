"""Volume inference: NIfTI volume → converter slices → prediction → mask volume, with stand-in models."""

import csv
import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import split_master
from conftest import REPO, config_text, small_model_section, write_config
from ImageMaskDatasetGenerator import ImageMaskDatasetGenerator
from synthetic_phantoms import write_phantoms

from ConfigParser import ConfigParser
from errors import ConfigError, DataError
from Inferencer import Inferencer
from volume_slices import square_slice, to_uint8, unsquare_slice
from VolumeInferencer import VolumeInferencer

SHAPE = (40, 48, 6)  # not square: the padding must be cropped away again
RAS = np.diag([1.5, 1.2, 3.0, 1.0])
PERMUTED = np.array([[0, 0, -2.5, 10], [1.2, 0, 0, -3], [0, -1.1, 0, 5], [0, 0, 0, 1.0]])  # A-I-L


class GreyThreshold:
    """Foreground where the model's input grey level (0–1) is at least 128/255: a pointwise model."""

    def predict_on_batch(self, x):
        return (x[..., :1] >= 127.5 / 255).astype(np.float32)


class GreyBands:
    """Three classes by grey level: < 85, < 170, the rest (one-hot)."""

    def predict_on_batch(self, x):
        grey = x[..., 0] * 255
        bands = (grey >= 84.5).astype(int) + (grey >= 169.5)
        return np.eye(3, dtype=np.float32)[bands]


def noise_volume(shape=SHAPE, seed=0):
    return np.random.default_rng(seed).uniform(0, 1000, shape).astype(np.float32)


def smooth_volume(shape=SHAPE):
    """Two bright blobs off centre (no symmetry hides a flip) in a dim body."""
    x, y, z = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape), indexing="ij")
    blob = ((x - 12) / 8) ** 2 + ((y - 30) / 11) ** 2 < 1 + 0.05 * z
    bar = (np.abs(x - 30) < 4) & (y > 8) & (y < 20)
    return (200 + 700 * blob + 500 * bar).astype(np.float32)


def save_volume(folder, name, data, affine, header=None):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    nib.save(nib.Nifti1Image(data, affine, header), path)
    return path


def make_config(tmp_path, model=None, **infer):
    sections = {
        "model": model or small_model_section(48),
        "dataset": {"image_normalize": True},
        "infer": {"volumes_dir": str(tmp_path / "volumes"), "output_dir": str(tmp_path / "out"), **infer},
    }
    return ConfigParser.from_string(config_text(sections), str(tmp_path / "v.config"))


def segment(tmp_path, model, config):
    written = VolumeInferencer(Inferencer(model, config), config).infer()
    return [nib.load(path) for path in written]


def expected_labels(data, normalize=True, threshold=128):
    return (to_uint8(data, normalize) >= threshold).astype(np.uint8)


@pytest.mark.parametrize("shape", [(30, 44), (44, 30)], ids=["wide", "tall"])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_unsquare_slice_undoes_square_slice(shape, rotation):
    plane = np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
    square = square_slice(plane, 0, rotation, nearest=False)
    assert square.shape == (44, 44)
    np.testing.assert_array_equal(unsquare_slice(square, shape, rotation), plane)
    three = np.stack([square, 255 - square], axis=-1)  # channels travel together
    np.testing.assert_array_equal(unsquare_slice(three, shape, rotation)[..., 1], 255 - plane)


@pytest.mark.parametrize("affine, side", [(RAS, 48), (PERMUTED, 40)], ids=["RAS", "AIL"])
@pytest.mark.parametrize("resized, rotation", [(False, 270), (True, 90)], ids=["size0", "size=side"])
def test_round_trip_keeps_shape_affine_orientation_and_voxels(tmp_path, affine, side, resized, rotation):
    # side: the padded square of an L-P-I slice (A-I-L stores 40 × 48 × 6 as 6 × 40 × 48 in L-P-I).
    data = noise_volume()
    save_volume(tmp_path / "volumes", "case_01.nii.gz", data, affine)
    config = make_config(tmp_path, model=small_model_section(side), volume_size=side if resized else 0,
                         volume_rotation=rotation)
    [mask] = segment(tmp_path, GreyThreshold(), config)
    source = nib.load(tmp_path / "volumes" / "case_01.nii.gz")
    assert mask.get_filename() == str(tmp_path / "out" / "case_01_mask.nii.gz")
    assert mask.shape == data.shape
    np.testing.assert_array_equal(mask.affine, source.affine)
    assert nib.aff2axcodes(mask.affine) == nib.aff2axcodes(affine)
    assert (int(mask.header["sform_code"]), int(mask.header["qform_code"])) == (
        int(source.header["sform_code"]), int(source.header["qform_code"]))
    labels = np.asarray(mask.dataobj)
    assert labels.dtype == np.uint8 and mask.header.get_slope_inter() == (None, None)
    # Slices of the padded model-sized square: every voxel maps back onto itself.
    np.testing.assert_array_equal(labels, expected_labels(data))


def test_slices_resized_by_the_converter_come_back_within_interpolation(tmp_path):
    data = smooth_volume()
    save_volume(tmp_path / "volumes", "smooth.nii", data, RAS)
    config = make_config(tmp_path, model=small_model_section(32), volume_size=64)  # 48 → 64 → 32 → 48
    [mask] = segment(tmp_path, GreyThreshold(), config)
    assert mask.get_filename().endswith("smooth_mask.nii.gz") and mask.shape == data.shape
    labels, expected = np.asarray(mask.dataobj), expected_labels(data)
    assert expected.mean() > 0.1
    dice = 2 * (labels & expected).sum() / (labels.sum() + expected.sum())
    assert dice > 0.95 and (labels != expected).mean() < 0.03


def test_several_classes_are_written_as_class_indices(tmp_path):
    data = noise_volume(seed=3)
    save_volume(tmp_path / "volumes", "three.nii.gz", data, RAS)
    config = make_config(tmp_path, model=small_model_section(48, num_classes=3), volume_size=0)
    [mask] = segment(tmp_path, GreyBands(), config)
    grey = to_uint8(data, True)
    np.testing.assert_array_equal(np.asarray(mask.dataobj), (grey >= 85).astype(np.uint8) + (grey >= 170))
    assert set(np.unique(np.asarray(mask.dataobj))) == {0, 1, 2}
    assert float(mask.header["cal_max"]) == 2 and mask.header.get_intent()[0] == "label"


def test_no_normalize_clips_as_the_converter_does(tmp_path):
    data = noise_volume(seed=4) * 0.3  # 0–300: clipping and percentiles give different slices
    save_volume(tmp_path / "volumes", "clip.nii.gz", data, RAS)
    config = make_config(tmp_path, volume_size=0, volume_normalize=False)
    [mask] = segment(tmp_path, GreyThreshold(), config)
    np.testing.assert_array_equal(np.asarray(mask.dataobj), expected_labels(data, normalize=False))


def converted_dataset(tmp_path, **settings):
    """A phantom converted by the real converter and split by split_master: `split/<s>/images`."""
    pairs = write_phantoms(str(tmp_path / "nifti"), count=4, seed=5, shape=(48, 40, 8))  # phantom 3 is R-A-S
    ImageMaskDatasetGenerator(**settings).generate(
        str(tmp_path / "nifti/imagesTr"), str(tmp_path / "nifti/labelsTr"), str(tmp_path / "master"), progress=False)
    split_master.split_master(str(tmp_path / "master"), str(tmp_path / "split"), seed=1)
    return pairs


def test_converter_records_its_settings_and_split_master_keeps_them(tmp_path):
    converted_dataset(tmp_path, size=64, rotation=90, normalize=False)
    for manifest in (tmp_path / "master/manifest.csv", tmp_path / "split/manifest.csv"):
        with open(manifest, newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows and {(r["size"], r["rotation"], r["normalize"]) for r in rows} == {("64", "90", "False")}


def test_settings_are_checked_against_the_manifest_found_above_the_training_images(tmp_path, capsys):
    converted_dataset(tmp_path, size=64, rotation=270)
    save_volume(tmp_path / "volumes", "v.nii.gz", noise_volume(), RAS)
    infer = {"volumes_dir": str(tmp_path / "volumes"), "output_dir": str(tmp_path / "out"),
             "volume_size": 64, "volume_rotation": 90, "volume_normalize": False}
    sections = {"model": small_model_section(32), "train": {"image_datapath": str(tmp_path / "split/train/images")},
                "infer": infer}
    config = ConfigParser.from_string(config_text(sections), "m.config")
    with pytest.raises(ConfigError) as error:
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)
    message = str(error.value)
    assert "[infer] volume_rotation = 90 (converter: 270)" in message
    assert "[infer] volume_normalize = False (converter: True)" in message
    assert "volume_size" not in message.split(" differ ")[0]
    assert str(tmp_path / "split" / "manifest.csv") in message
    assert not os.path.exists(tmp_path / "out"), "nothing is written before the check"
    sections["infer"].update(volume_rotation=270, volume_normalize=True)
    config = ConfigParser.from_string(config_text(sections), "m.config")
    VolumeInferencer(Inferencer(GreyThreshold(), config), config)
    assert "match the converter settings in " + str(tmp_path / "split" / "manifest.csv") in capsys.readouterr().out


def test_default_size_mismatch_and_explicit_manifest(tmp_path):
    converted_dataset(tmp_path, size=64)
    save_volume(tmp_path / "volumes", "v.nii.gz", noise_volume(), RAS)
    config = make_config(tmp_path, volume_manifest=str(tmp_path / "master/manifest.csv"))
    with pytest.raises(ConfigError, match=r"\[infer\] volume_size = 512 \(converter: 64\)"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)
    config = make_config(tmp_path, volume_manifest=str(tmp_path / "nowhere.csv"))
    with pytest.raises(ConfigError, match=r"\[infer\] volume_manifest = .*nowhere.csv.*does not exist"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)


def test_a_manifest_without_settings_is_named_in_a_warning(tmp_path):
    save_volume(tmp_path / "volumes", "v.nii.gz", noise_volume(), RAS)
    (tmp_path / "old.csv").write_text("image,mask,volume,slice\na_1.jpg,a_1.png,a,1\n")
    config = make_config(tmp_path, volume_manifest=str(tmp_path / "old.csv"))
    with pytest.warns(UserWarning, match="old.csv records no converter settings"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)


def test_an_unreadable_volume_is_named_before_anything_is_predicted(tmp_path):
    save_volume(tmp_path / "volumes", "a.nii.gz", noise_volume(), RAS)
    (tmp_path / "volumes" / "b.nii.gz").write_bytes(b"not a volume")
    config = make_config(tmp_path)
    with pytest.raises(DataError, match=r"b\.nii\.gz: not a readable NIfTI volume"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)


def test_a_volume_that_breaks_midway_keeps_what_was_written(tmp_path):
    save_volume(tmp_path / "volumes", "a.nii.gz", noise_volume(), RAS)
    broken = save_volume(tmp_path / "volumes", "b.nii", noise_volume(seed=1), RAS)
    with open(broken, "rb") as f:
        head = f.read(1000)  # the 352-byte header survives, most voxels do not
    with open(broken, "wb") as f:
        f.write(head)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    config = make_config(tmp_path, volume_size=0)
    volumes = VolumeInferencer(Inferencer(GreyThreshold(), config), config)
    with pytest.raises(DataError, match=r"b\.nii: not a readable NIfTI volume"):
        volumes.infer()
    assert sorted(os.listdir(tmp_path / "out")) == ["a_mask.nii.gz", "notes.txt"]
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
    assert nib.load(tmp_path / "out" / "a_mask.nii.gz").shape == SHAPE


@pytest.mark.parametrize("value", [0.0, np.nan], ids=["zero", "nan"])
def test_a_header_without_usable_affine_is_named(tmp_path, value):
    image = nib.Nifti1Image(noise_volume(), np.eye(4))
    image.header.set_qform(None, code=0)
    for row in ("srow_x", "srow_y", "srow_z"):
        image.header[row] = value
    image.header["sform_code"] = 1
    save_volume(tmp_path / "volumes", "flat.nii.gz", noise_volume(), None, image.header)
    config = make_config(tmp_path)
    with pytest.raises(DataError, match=r"flat\.nii\.gz: its header has no usable affine"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)


def test_an_output_folder_that_cannot_be_made_names_the_key(tmp_path):
    save_volume(tmp_path / "volumes", "a.nii.gz", noise_volume(), RAS)
    (tmp_path / "taken").write_text("a file, not a folder")
    for output in (tmp_path / "taken", tmp_path / "taken" / "sub"):
        config = make_config(tmp_path, output_dir=str(output))
        with pytest.raises(ConfigError, match=r"\[infer\] output_dir = .*taken.*: cannot be created"):
            VolumeInferencer(Inferencer(GreyThreshold(), config), config)
    assert (tmp_path / "taken").read_text() == "a file, not a folder"


def test_a_mask_never_overwrites_an_input_volume(tmp_path):
    save_volume(tmp_path / "volumes", "a.nii.gz", noise_volume(), RAS)
    save_volume(tmp_path / "volumes", "a_mask.nii.gz", noise_volume(seed=2), RAS)
    config = make_config(tmp_path, output_dir=str(tmp_path / "volumes"))
    with pytest.raises(ConfigError, match=r"\[infer\] output_dir .*would overwrite the input volume"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)
    save_volume(tmp_path / "other", "a.nii", noise_volume(), RAS)
    save_volume(tmp_path / "other", "a.nii.gz", noise_volume(), RAS)
    config = make_config(tmp_path, volumes_dir=str(tmp_path / "other"))
    with pytest.raises(DataError, match=r"a\.nii and .*a\.nii\.gz would both be segmented into"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)


def test_the_infer_script_segments_a_phantom_volume_end_to_end(tmp_path):
    """3.infer in a subprocess with only volumes_dir: a converted phantom dataset, a small model."""
    from ModelRegistry import create_model
    from TensorflowModelLoader import weights_view

    pairs = converted_dataset(tmp_path, size=64)
    phantom = pairs[0][0]
    sections = {
        "model": small_model_section(32),
        "train": {"model_dir": "./models", "image_datapath": str(tmp_path / "split/train/images"),
                  "mask_datapath": str(tmp_path / "split/train/masks")},
        "infer": {"volumes_dir": os.path.dirname(phantom), "output_dir": "./out", "volume_size": 64},
    }
    path = write_config(tmp_path / "train_eval_infer.config", sections)
    (tmp_path / "models").mkdir()
    model = create_model(ConfigParser(path)).model  # random weights: the plumbing, not the learning
    weights_view(model).save_weights(str(tmp_path / "models" / "best_model.weights.h5"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, os.path.join(REPO, "src", "TensorflowUNetInferencer.py"), path],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "match the converter settings" in result.stdout
    assert "Wrote 4 volume masks" in result.stdout
    for image_path, _ in pairs:
        source = nib.load(image_path)
        name = os.path.basename(image_path).replace(".nii.gz", "_mask.nii.gz")
        mask = nib.load(tmp_path / "out" / name)
        assert mask.shape == source.shape
        np.testing.assert_array_equal(mask.affine, source.affine)
        assert set(np.unique(np.asarray(mask.dataobj))) <= {0, 1}
    bad = write_config(tmp_path / "bad.config", {**sections, "infer": {**sections["infer"], "volume_size": 32}})
    result = subprocess.run([sys.executable, os.path.join(REPO, "src", "TensorflowUNetInferencer.py"), bad],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 1 and len(errors) == 1 and "volume_size = 32 (converter: 64)" in errors[0]


class Recorder:
    """Remembers every batch it is given; predicts nothing."""

    def __init__(self):
        self.batches = []

    def predict_on_batch(self, x):
        self.batches.append(np.array(x))
        return np.zeros(x.shape[:3] + (1,), np.float32)


@pytest.mark.parametrize("context", [1, 2])
def test_volume_slices_of_a_context_model_are_the_stacks_training_read(tmp_path, context):
    """Each slice the model is given is the array the dataset reads from the converter's file of it."""
    from ImagePreprocessor import ImagePreprocessor

    pairs = converted_dataset(tmp_path, size=64, context=context)
    volume = os.path.basename(pairs[0][0])
    os.makedirs(tmp_path / "volumes")
    shutil.copy(pairs[0][0], tmp_path / "volumes")
    config = make_config(tmp_path, model=small_model_section(48, image_channels=2 * context + 1),
                         volume_manifest=str(tmp_path / "master/manifest.csv"), volume_size=64)
    recorder = Recorder()
    segment(tmp_path, recorder, config)
    seen = np.concatenate(recorder.batches)
    with open(tmp_path / "master/manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["source_image"] == volume]
    assert len(rows) >= 3 and seen.shape[-1] == 2 * context + 1
    preprocessor = ImagePreprocessor(config)
    for row in rows:
        expected, _ = preprocessor.read(str(tmp_path / "master/images" / row["image"]))
        np.testing.assert_array_equal(seen[int(row["slice"])], expected)


def test_a_context_model_needs_the_stacks_channels_and_a_manifest(tmp_path):
    converted_dataset(tmp_path, size=64, context=2)
    save_volume(tmp_path / "volumes", "v.nii.gz", noise_volume(), RAS)
    config = make_config(tmp_path, volume_manifest=str(tmp_path / "master/manifest.csv"), volume_size=64)
    with pytest.raises(ConfigError, match=r"image_channels = 3: the training slices in .* are 5-slice context "
                                          r"stacks \(converter --context 2\); set image_channels = 5"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)
    config = make_config(tmp_path, model=small_model_section(48, image_channels=5), volume_size=64)
    with pytest.raises(ConfigError, match=r"image_channels = 5: .*set \[infer\] volume_manifest"):
        VolumeInferencer(Inferencer(GreyThreshold(), config), config)
