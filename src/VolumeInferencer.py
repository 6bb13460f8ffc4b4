"""Segments NIfTI volumes slice by slice: `[infer] volumes_dir` → `<output_dir>/<name>_mask.nii.gz`.

Each volume is cut into axial slices exactly as the dataset converter
(generator/ImageMaskDatasetGenerator.py) cuts training slices, with the same
functions (volume_slices.py): L-P-I orientation, 8-bit intensities
(`[infer] volume_normalize`), padding to a square, resizing to `volume_size`
and rotation by `volume_rotation`. The slices are predicted in batches through
`Inferencer.predict` (training's preprocessing, `[infer] mirror`), and every
step is undone on the predicted maps, so that the mask has the volume's shape,
voxel order, affine and header and overlays it in a viewer. Voxels are 0/1
(probability ≥ 0.5) for one class, the most likely class for N > 1. With
`[infer] largest_component` (new) only the largest connected component of
each foreground class is kept, in 3-D over the whole volume (26 neighbours;
src/postprocess.py). A model trained on the converter's `--context K` stacks
(manifest.csv's `context` column) is given the same stacks of 2K+1
neighbouring slices, in the same channel order (`volume_slices.context_stack`).

The converter records its settings in manifest.csv; they are checked against
the `[infer] volume_*` keys before anything is predicted (`settings_manifest`).
"""

import csv
import os
import warnings

import cv2
import nibabel as nib
import numpy as np

from atomic import atomic_path
from ConfigParser import ConfigParser, ConfigWarning
from errors import ConfigError, DataError
from postprocess import largest_component_per_class
from progress import progress
from slice_manifest import find_manifest
from volume_slices import (
    NIFTI_SUFFIXES,
    SETTINGS_FIELDS,
    VolumeError,
    context_stack,
    from_lpi,
    nifti_stem,
    read_nifti,
    stored_orientation,
    three_d,
    to_lpi,
    to_uint8,
    unsquare_slice,
)

BATCH_SIZE = 8  # slices per model call
MASK_SUFFIX = "_mask.nii.gz"
KEYS = {"size": "volume_size", "rotation": "volume_rotation", "normalize": "volume_normalize"}


def list_volumes(folder: str) -> list[str]:
    """The .nii and .nii.gz files of a folder, sorted by name."""
    return sorted(
        os.path.join(folder, name) for name in os.listdir(folder)
        if name.endswith(NIFTI_SUFFIXES) and os.path.isfile(os.path.join(folder, name))
    )


def settings_manifest(config: ConfigParser) -> str | None:
    """The converter's manifest.csv the `[infer] volume_*` keys are checked against, or None.

    `[infer] volume_manifest` when set (it must exist); else manifest.csv in
    the folder above `[train] image_datapath` (the converter's output), else in
    the one above that (split_master's output, which copies it).
    """
    explicit = config.get(ConfigParser.INFER, "volume_manifest")
    if explicit is not None:
        if not os.path.isfile(explicit):
            raise config.error(ConfigParser.INFER, "volume_manifest", f"{explicit} does not exist")
        return explicit
    if not config.has(ConfigParser.TRAIN, "image_datapath"):
        return None
    return find_manifest(config.get(ConfigParser.TRAIN, "image_datapath"))


def manifest_rows(manifest: str) -> list[dict]:
    """The rows of a converter's manifest.csv."""
    try:
        with open(manifest, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{manifest}: cannot be read as a CSV file ({e})") from None


def recorded_context(manifest: str, rows: list[dict]) -> int:
    """The converter's `--context K` in a manifest's rows (0 when it records none)."""
    values = {row.get("context") or "0" for row in rows}
    try:
        return max((int(v) for v in values), default=0)
    except ValueError:
        raise DataError(f"{manifest}: column context holds {sorted(values)}, not slice counts") from None


def recorded_settings(manifest: str, rows: list[dict] | None = None) -> dict | None:
    """The converter's `size`, `rotation` (quarter turns) and `normalize` in a manifest.csv
    (its `rows` when already read), or None when it records none (an older converter's, or no slices)."""
    rows = manifest_rows(manifest) if rows is None else rows
    if not rows or any(field not in rows[0] for field in SETTINGS_FIELDS):
        return None
    settings = {}
    for field in SETTINGS_FIELDS:
        values = {row[field] for row in rows}
        if len(values) != 1:
            raise DataError(f"{manifest}: column {field} holds several values {sorted(values)}: slices "
                            "converted with different settings cannot all match one model's")
        value = values.pop()
        try:
            if field == "normalize":
                settings[field] = {"True": True, "False": False}[value]
            else:
                settings[field] = int(value)
        except (KeyError, ValueError):
            raise DataError(f"{manifest}: column {field} holds {value!r}, not a converter setting") from None
    settings["rotation"] = (settings["rotation"] // 90) % 4
    return settings


class VolumeInferencer:
    """Writes a mask volume for every NIfTI volume of `[infer] volumes_dir`.

    Every volume header, the settings manifest and the output folder are
    checked when it is made, before anything is predicted.

    Args:
        inferencer: the `Inferencer` whose `predict` gives the slices' probability maps.
        config: the parsed config.
    """

    section = ConfigParser.INFER

    def __init__(self, inferencer, config: ConfigParser):
        self.inferencer = inferencer
        self.config = config
        self.num_classes = config.get(ConfigParser.MODEL, "num_classes")
        self.size = config.get(self.section, "volume_size")
        self.rotation = config.get(self.section, "volume_rotation")
        self.normalize = bool(config.get(self.section, "volume_normalize"))
        self.largest = bool(config.get(self.section, "largest_component"))
        self.volumes_dir = config.require(self.section, "volumes_dir")
        self.output_dir = config.require(self.section, "output_dir")
        self.files = self._list()
        self.context = 0  # the converter's --context K, from its manifest
        self.manifest = self._check_settings()
        for path in self.files:
            self._header(path)
        self._make_output_dir()

    def output_path(self, path: str) -> str:
        """`<output_dir>/<name>_mask.nii.gz`, `<name>` the file name without `.nii`/`.nii.gz`."""
        return os.path.join(self.output_dir, nifti_stem(path) + MASK_SUFFIX)

    def infer(self) -> list[str]:
        """Segments every volume; returns the paths of the written masks."""
        print(f"=== {type(self).__name__}.infer start: {len(self.files)} volumes from {self.volumes_dir}")
        written = []
        for path in progress(self.files, len(self.files), "volumes", desc="volumes"):
            image, data = read_nifti(path)
            data = three_d(data.astype(np.float32, copy=False), path)
            source = stored_orientation(image.affine, path)
            labels = from_lpi(self.segment(to_uint8(to_lpi(data, source), self.normalize)), source)
            written.append(self._write(path, image, labels))
        return written

    def segment(self, volume: np.ndarray) -> np.ndarray:
        """Labels (uint8) of an 8-bit L-P-I volume, slice by slice along axis 2; with `largest_component`
        each class's largest 3-D connected component only."""
        labels = np.zeros(volume.shape, np.uint8)
        plane_shape = volume.shape[:2]
        planes: dict[int, np.ndarray] = {}  # square slices, each resized once for its 2K+1 stacks
        for start in range(0, volume.shape[2], BATCH_SIZE):
            indices = range(start, min(start + BATCH_SIZE, volume.shape[2]))
            for k in [k for k in planes if k < start - self.context]:
                del planes[k]
            slices = [context_stack(volume, k, self.context, self.size, self.rotation, planes) for k in indices]
            for k, prediction in zip(indices, self._predict(slices, indices)):
                if self.inferencer.blur:
                    prediction = cv2.GaussianBlur(prediction, self.inferencer.ksize, 0).reshape(prediction.shape)
                labels[:, :, k] = self.labels(unsquare_slice(prediction, plane_shape, self.rotation))
        return largest_component_per_class(labels) if self.largest else labels

    def _predict(self, slices: list[np.ndarray], indices) -> list[np.ndarray]:
        """Probability maps of square slices as the converter writes them (`context_stack`)."""
        if self.context <= 1:
            # As training read the converter's files (cv2.IMREAD_COLOR): a grey slice as three equal
            # BGR channels, a 3-slice stack as the BGR PNG it is.
            return self.inferencer.predict([s if s.ndim == 3 else cv2.cvtColor(s, cv2.COLOR_GRAY2BGR)
                                            for s in slices])
        # 2K+1 >= 5 slices: as the .npy stacks training read, channel order n-K … n+K, no colour swap
        return self.inferencer.predict_stacks(slices, [f"slice {k} (context stack)" for k in indices])

    def labels(self, prediction: np.ndarray) -> np.ndarray:
        """A (h, w, C) probability map as labels: 0/1 for one class, else the most likely class."""
        if prediction.shape[-1] == 1:
            return (prediction[..., 0] >= 0.5).astype(np.uint8)
        return np.argmax(prediction, axis=-1).astype(np.uint8)

    def _list(self) -> list[str]:
        if not os.path.isdir(self.volumes_dir):
            raise self.config.error(self.section, "volumes_dir", f"{self.volumes_dir} does not exist")
        files = list_volumes(self.volumes_dir)
        if not files:
            raise self.config.error(self.section, "volumes_dir",
                                    f"{self.volumes_dir} holds no .nii or .nii.gz volumes")
        inputs = {os.path.realpath(path) for path in files}
        names: dict[str, str] = {}
        for path in files:
            target = self.output_path(path)
            if target in names:
                raise DataError(f"{names[target]} and {path} would both be segmented into {target}; "
                                "keep one of them")
            if os.path.realpath(target) in inputs:
                raise self.config.error(self.section, "output_dir",
                                        f"the mask of {path} would overwrite the input volume {target}")
            names[target] = path
        return files

    def _header(self, path: str) -> None:
        """Reads a volume's header (not its voxels) to find an unusable one before any work."""
        image, _ = read_nifti(path, voxels=False)
        if len(image.shape) < 3:
            raise VolumeError(f"{path}: expected a 3-D volume, found shape {image.shape}")
        stored_orientation(image.affine, path)

    def _check_settings(self) -> str | None:
        manifest = settings_manifest(self.config)
        channels = self.config.get(ConfigParser.MODEL, "image_channels")
        if manifest is None and channels not in (1, 3):
            raise self.config.error(ConfigParser.MODEL, "image_channels",
                                    "a model of context stacks segments volumes only with the converter's "
                                    "manifest.csv, which records how many neighbours a stack holds: set "
                                    "[infer] volume_manifest")
        if manifest is None:
            print("=== No converter manifest.csv set ([infer] volume_manifest) or found above [train] "
                  "image_datapath: the [infer] volume_* keys are not checked")
            return None
        rows = manifest_rows(manifest)
        self.context = recorded_context(manifest, rows)
        if self.context and channels != 2 * self.context + 1:
            raise self.config.error(ConfigParser.MODEL, "image_channels",
                                    f"the training slices in {manifest} are "
                                    f"{2 * self.context + 1}-slice context stacks (converter --context "
                                    f"{self.context}); set image_channels = {2 * self.context + 1}")
        if self.context:
            print(f"=== [{self.section}] volumes_dir: each slice with its {self.context} neighbours on either side "
                  f"({2 * self.context + 1} channels), as the converter's --context {self.context} in {manifest}")
        recorded = recorded_settings(manifest, rows)
        if recorded is None:
            warnings.warn(f"{manifest} records no converter settings ({', '.join(SETTINGS_FIELDS)}): the "
                          f"[infer] volume_* keys are not checked against it", ConfigWarning, stacklevel=3)
            return manifest
        ours = {"size": self.size, "rotation": (self.rotation // 90) % 4, "normalize": self.normalize}
        differ = [field for field in SETTINGS_FIELDS if ours[field] != recorded[field]]
        if differ:
            shown = ", ".join(f"[{self.section}] {KEYS[f]} = {self._shown(f, ours[f])} (converter: "
                              f"{self._shown(f, recorded[f])})" for f in differ)
            raise ConfigError(f"{self.config.path}: {shown} differ from the converter settings in {manifest}: "
                              "the slices would not look like the training slices; set the converter's values")
        print(f"=== [{self.section}] {', '.join(KEYS.values())} match the converter settings in {manifest}")
        return manifest

    @staticmethod
    def _shown(field: str, value):
        return value * 90 if field == "rotation" else value

    def _make_output_dir(self) -> None:
        try:
            os.makedirs(self.output_dir, exist_ok=True)
        except OSError as e:
            raise self.config.error(self.section, "output_dir", f"cannot be created ({e.strerror or e})") from None
        if not os.access(self.output_dir, os.W_OK):
            raise self.config.error(self.section, "output_dir", "is not writable")

    def _write(self, path: str, image, labels: np.ndarray) -> str:
        """Writes the labels with the input's affine and header (uint8, unscaled, a label map)."""
        header = image.header.copy()
        header.set_data_dtype(np.uint8)
        header.set_slope_inter(None, None)  # the labels are the values: no scaling
        header["cal_min"], header["cal_max"] = 0, max(1, self.num_classes - 1)  # a viewer's display window
        header.set_intent("label")
        kind = nib.Nifti2Image if isinstance(image, nib.Nifti2Image) else nib.Nifti1Image
        target = self.output_path(path)
        try:
            with atomic_path(target) as tmp:  # the temporary name keeps the .nii.gz ending nibabel reads
                nib.save(kind(labels, image.affine, header), tmp)
        except OSError as e:
            raise self.config.error(self.section, "output_dir",
                                    f"{target} cannot be written ({e.strerror or e})") from None
        print(f"=== Saved {target}")
        return target
