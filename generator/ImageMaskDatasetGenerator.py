"""NIfTI volumes → 2-D image/mask slices, the Pancreas-T1 dataset's format (docs/differences.md, G1–G15).

Usage:
    python generator/ImageMaskDatasetGenerator.py IMAGES_DIR LABELS_DIR OUTPUT_DIR
        [--size 512] [--rotation 270] [--keep-empty | --keep-empty-fraction R] [--seed 137]
        [--no-normalize] [--format jpg] [--multi-class] [--context K]

Writes `OUTPUT_DIR/images/<volume>_<slice>.jpg` (or .png, or .npy: step 6), `OUTPUT_DIR/masks/
<volume>_<slice>.png` (exact values 0/255) and `OUTPUT_DIR/manifest.csv` (slice
file, volume, slice index, source files and orientation, voxel spacing, the
side of the padded square `square_side` (for 2.evaluate's pixel spacing), and
the settings `size`, `rotation`, `normalize`, which `3.infer` checks its
`[infer] volume_*` keys against; then `empty_mask` and `context`, steps 5
and 6). The slicing itself is `src/volume_slices.py`,
shared with volume inference.
With `--multi-class` the masks keep the label values as class indices
(0..N-1, uint8 PNG; a label above 255 is an error) instead of 0/255.

Per volume:
1. Image and label are paired by file name (`<case>_0000.nii.gz` or
   `<case>.nii.gz` with `<case>.nii.gz`), never by listing order.
2. Both are brought to one orientation, L-P-I (axis 0 towards the patient's
   left, 1 posterior, 2 inferior: how most PanSegData T1 scans are stored),
   using the *image's* affine for both (some PanSegData labels carry
   headers that disagree with their images while their voxels align).
3. Intensities are normalised in floating point over the whole volume to
   robust percentiles (0.5–99.5 %) and only then converted to 8 bits; the
   original cast raw values to uint8 first, which wraps bright tissue around.
4. Each axial slice is padded to a square (centred), resized (bicubic for
   images, nearest for masks) and rotated 270° counter-clockwise like the
   original, so a volume stored as PanSegData stores it gives the original
   converter's slices (anterior up), whatever its stored orientation.
5. Slices whose mask is empty (no non-zero label) are skipped unless
   `--keep-empty` (all of them) or `--keep-empty-fraction R` (0 ≤ R ≤ 1):
   of a volume's E empty slices, floor(R·E + 0.5) (R·E rounded half up) are
   kept, chosen at random by a generator seeded from (`--seed`, volume
   name), so the choice is the same on every run and machine, whatever the
   order the volumes are listed or converted in. `manifest.csv`'s
   `empty_mask` column is 1 for the kept empty slices, 0 for the others.
6. `--context K` (K ≥ 0; default 0, one grey slice per image) makes the
   image of slice n a stack of the slices n−K … n+K of its volume, in that
   order (beyond the volume's ends the nearest slice repeats), each sliced
   as in step 4; the mask stays slice n's. K = 1 writes a 3-channel PNG
   (lossless) whose red, green, blue are n−1, n, n+1: the toolkit's reader
   (`[dataset] color_order = "rgb"`, the default) gives channel 0 = n−1, and
   so does any RGB reader (OpenCV's own BGR array holds n+1, n, n−1). K ≥ 2
   writes `<volume>_<slice>.npy`, uint8 H×W×(2K+1), channel c = slice
   n−K+c, which the toolkit reads as stored with `[model] image_channels =
   2K+1`. The manifest's `context` column records K.
"""

import argparse
import csv
import hashlib
import math
import os
import re
import sys
import time

import cv2
import nibabel as nib
import numpy as np

# Runnable by path: the slicing geometry lives with the toolkit, in src/, where inference shares it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src"))

from volume_slices import (  # noqa: E402, F401 - FIXED_ORIENTATION, NIFTI_SUFFIXES, nifti_stem: public here too
    FIXED_ORIENTATION,
    NIFTI_SUFFIXES,
    SETTINGS_FIELDS,
    VolumeError,
    context_stack,
    lpi_transform,
    nifti_stem,
    read_nifti,
    square_slice,
    stored_orientation,
    three_d,
    to_lpi,
    to_uint8,
)

CHANNEL_SUFFIX = re.compile(r"_\d{4}$")  # nnU-Net's `_0000` image suffix
MANIFEST_FIELDS = [
    "image", "mask", "volume", "slice", "source_image", "source_label",
    "source_orientation", "spacing_x_mm", "spacing_y_mm", "spacing_z_mm", "square_side", *SETTINGS_FIELDS,
    "empty_mask", "context",
]

ConversionError = VolumeError  # bad input: the message names the file or folder


def volume_name(case: str) -> str:
    """A slice-name prefix with no `-` (it would end the volume id early)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", case)


def list_nifti(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise ConversionError(f"{folder} does not exist")
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(NIFTI_SUFFIXES))


def pair_volumes(images_dir: str, labels_dir: str) -> list[tuple[str, str, str]]:
    """(volume name, image path, label path), paired by case name.

    An image `<case>.nii.gz` pairs with the label of the same name, else
    `<case>_0000.nii.gz` (nnU-Net's channel suffix) with `<case>.nii.gz`.
    """
    labels = {nifti_stem(p): p for p in list_nifti(labels_dir)}
    images: dict[str, str] = {}
    for path in list_nifti(images_dir):
        stem = nifti_stem(path)
        case = stem if stem in labels else CHANNEL_SUFFIX.sub("", stem)
        if case in images:
            raise ConversionError(
                f"{os.path.basename(images[case])} and {os.path.basename(path)} are both images of case '{case}'"
            )
        images[case] = path
    if not images:
        raise ConversionError(f"{images_dir} holds no .nii or .nii.gz files")
    for have, lack, kind, folder in ((images, labels, "label", labels_dir), (labels, images, "image", images_dir)):
        missing = [case for case in have if case not in lack]
        if missing:
            example = os.path.basename(have[missing[0]])
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ConversionError(f"{example}{more} has no {kind} volume for case '{missing[0]}' in {folder}")
    names = {}
    for case in images:
        name = volume_name(case)
        if name in names.values():
            raise ConversionError(f"cases {case!r} and another both become volume name {name!r}")
        names[case] = name
    return [(names[case], images[case], labels[case]) for case in images]


def load_oriented(image_path: str, label_path: str, multi_class: bool = False):
    """Image (float32) and label (uint8: 0/1, or the class indices with
    `multi_class`) arrays in L-P-I orientation, the voxel spacing in that
    orientation, and the source orientation."""
    image, data = read_nifti(image_path)
    _, mask = read_nifti(label_path)
    data = three_d(data.astype(np.float32, copy=False), image_path)
    mask = three_d(mask, label_path)
    if data.shape != mask.shape:
        raise ConversionError(f"{label_path}: shape {mask.shape} differs from its image's {data.shape}")
    source = stored_orientation(image.affine, image_path)
    transform = lpi_transform(source)
    data = to_lpi(data, source)
    mask = to_lpi(mask, source)
    zooms = np.asarray(image.header.get_zooms()[:3], dtype=float)
    spacing = tuple(round(float(zooms[int(axis)]), 4) for axis in np.argsort(transform[:, 0]))
    codes = "".join(nib.orientations.ornt2axcodes(source))
    mask = _class_indices(mask, label_path) if multi_class else (mask > 0).astype(np.uint8)
    return data, mask, spacing, codes


def empty_slices_kept(empty: list[int], fraction: float, seed: int, volume: str) -> list[int]:
    """The empty slice indices of `volume` to keep: floor(fraction·len(empty) + 0.5) of them, sorted.

    The choice depends only on (seed, volume name, the sorted indices), never
    on the order volumes are listed or converted in.
    """
    count = math.floor(fraction * len(empty) + 0.5)
    if count >= len(empty):
        return sorted(empty)
    if count == 0:
        return []
    digest = hashlib.sha256(volume.encode("utf-8")).digest()
    rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
    return sorted(int(i) for i in rng.choice(sorted(empty), size=count, replace=False))


def _class_indices(mask: np.ndarray, path: str) -> np.ndarray:
    """The label values as uint8 class indices; other values are a ConversionError naming the file."""
    values = np.unique(mask)
    if values.size and (values[0] < 0 or values[-1] > 255):
        raise ConversionError(f"{path}: label values {values[0]}..{values[-1]} do not fit 8-bit class "
                              "indices 0..255")
    fractional = values[values != np.round(values)]
    if fractional.size:
        raise ConversionError(f"{path}: label value {fractional[0]} is not a whole class index")
    return mask.astype(np.uint8)


class ImageMaskDatasetGenerator:
    """Converts NIfTI image/label volume pairs into slice files.

    Args:
        size: side of the square output slices (0 keeps the padded size).
        rotation: counter-clockwise rotation in degrees, a multiple of 90.
        skip_empty_mask: leave out slices whose label is empty (False: keep them all).
        keep_empty_fraction: keep this seeded fraction (0–1) of each volume's
            empty slices; None: 0, or 1 when `skip_empty_mask` is False.
        seed: seeds the choice of the kept empty slices.
        context: K, each image stacking the slices n−K … n+K (see the module's step 6).
        normalize: percentile-normalise intensities, else clip to 0–255.
        image_format: "jpg" (quality `quality`) or "png" for `context` 0; None: jpg,
            or what `context` needs (png for 1, npy for 2 or more).
        multi_class: write the label values as class indices, not 0/255.
    """

    def __init__(self, size=512, rotation=270, skip_empty_mask=True, normalize=True,
                 image_format=None, quality=95, multi_class=False, keep_empty_fraction=None, seed=137,
                 context=0):
        if rotation % 90:
            raise ValueError(f"rotation must be a multiple of 90. Received: rotation={rotation}")
        if not isinstance(context, int) or context < 0:
            raise ValueError(f"context must be an integer >= 0. Received: context={context!r}")
        needed = "png" if context == 1 else "npy" if context >= 2 else None
        if image_format is None:
            image_format = needed or "jpg"
        elif needed and image_format != needed:
            raise ValueError(f"context={context} stacks {2 * context + 1} slices, written as {needed} "
                             f"(lossless); image_format={image_format!r} cannot hold them")
        elif image_format not in ("jpg", "png"):
            raise ValueError(f"image_format must be 'jpg' or 'png'. Received: {image_format!r}")
        if keep_empty_fraction is None:
            keep_empty_fraction = 0.0 if skip_empty_mask else 1.0
        if not 0 <= keep_empty_fraction <= 1:
            raise ValueError(f"keep_empty_fraction must be within 0..1. Received: {keep_empty_fraction}")
        if not skip_empty_mask and keep_empty_fraction != 1:
            raise ValueError(f"keeping every empty slice (skip_empty_mask=False, --keep-empty) contradicts "
                             f"keep_empty_fraction={keep_empty_fraction}")
        self.size = size
        self.rotation = rotation
        self.keep_empty_fraction = float(keep_empty_fraction)
        self.skip_empty_mask = self.keep_empty_fraction < 1
        self.seed = seed
        self.normalize = normalize
        self.image_format = image_format
        self.quality = quality
        self.multi_class = multi_class
        self.context = context

    def generate(self, images_dir: str, labels_dir: str, output_dir: str, progress=True) -> list[dict]:
        """Converts every volume pair; returns the manifest rows.

        The slices are written into `<output_dir>.partial` and moved into
        place when every volume is done, so a failed conversion never leaves
        a half-filled dataset where a finished one is expected.
        """
        pairs = pair_volumes(images_dir, labels_dir)
        output_dir = os.path.normpath(output_dir)
        if os.path.isdir(output_dir) and os.listdir(output_dir):
            raise ConversionError(f"{output_dir} is not empty; choose a new output folder")
        staging = output_dir + ".partial"
        if os.path.exists(staging):
            raise ConversionError(f"{staging} is left from an earlier conversion that failed; delete it first")
        images_out, masks_out = (os.path.join(staging, k) for k in ("images", "masks"))
        os.makedirs(images_out)
        os.makedirs(masks_out)
        rows = []
        for name, image_path, label_path in _progress(pairs, progress):
            rows += self.convert_volume(name, image_path, label_path, images_out, masks_out)
        with open(os.path.join(staging, "manifest.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        if os.path.isdir(output_dir):
            os.rmdir(output_dir)  # empty, checked above
        os.replace(staging, output_dir)
        return rows

    def settings(self) -> dict:
        """What decides how a slice looks, as manifest.csv records it (volume inference checks it)."""
        return {"size": self.size, "rotation": self.rotation, "normalize": self.normalize}

    def convert_volume(self, name, image_path, label_path, images_out, masks_out) -> list[dict]:
        data, mask, spacing, codes = load_oriented(image_path, label_path, self.multi_class)
        data = to_uint8(data, self.normalize)
        empty = [index for index in range(data.shape[2]) if not mask[:, :, index].any()]
        kept = set(empty_slices_kept(empty, self.keep_empty_fraction, self.seed, name))
        empty = set(empty)
        planes: dict[int, np.ndarray] = {}  # slice index → its square image slice, for the context stacks
        rows = []
        for index in range(data.shape[2]):
            if index in empty and index not in kept:
                continue
            stem = f"{name}_{index}"
            image = context_stack(data, index, self.context, self.size, self.rotation, planes)
            plane = mask[:, :, index] if self.multi_class else mask[:, :, index] * 255
            label = square_slice(plane, self.size, self.rotation, nearest=True)
            image_file = f"{stem}.{self.image_format}"
            if self.image_format == "npy":
                np.save(os.path.join(images_out, image_file), image, allow_pickle=False)
            else:
                params = [cv2.IMWRITE_JPEG_QUALITY, self.quality] if self.image_format == "jpg" else []
                _write(os.path.join(images_out, image_file), image, params)
            _write(os.path.join(masks_out, stem + ".png"), label, [])
            rows.append({
                "image": image_file, "mask": stem + ".png", "volume": name, "slice": index,
                "source_image": os.path.basename(image_path), "source_label": os.path.basename(label_path),
                "source_orientation": codes, "spacing_x_mm": spacing[0], "spacing_y_mm": spacing[1],
                "spacing_z_mm": spacing[2],
                # The padded square resized to `size`: 2.evaluate's pixel spacing is spacing × side / size.
                "square_side": max(data.shape[:2]), **self.settings(), "empty_mask": int(index in empty),
                "context": self.context,
            })
        return rows


def _write(path: str, array: np.ndarray, params: list) -> None:
    if not cv2.imwrite(path, array, params):
        raise ConversionError(f"{path}: could not be written")


def _progress(items, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, unit="volume", desc="converting")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Convert NIfTI image/label volumes into 2-D image/mask slices.",
        epilog="Example: python generator/ImageMaskDatasetGenerator.py t1/imagesTr t1/labelsTr Pancreas-T1-master",
    )
    parser.add_argument("images_dir", help="folder of image volumes (*.nii.gz)")
    parser.add_argument("labels_dir", help="folder of label volumes with the same case names")
    parser.add_argument("output_dir", help="new or empty folder for images/, masks/ and manifest.csv")
    parser.add_argument("--size", type=int, default=512, help="output side in pixels (0: no resize; default 512)")
    parser.add_argument("--rotation", type=int, default=270, help="counter-clockwise degrees (default 270)")
    parser.add_argument("--keep-empty", action="store_true", help="also write slices whose mask is empty")
    parser.add_argument("--keep-empty-fraction", type=float, metavar="R",
                        help="keep a seeded fraction R (0-1) of each volume's empty slices (--keep-empty: R = 1)")
    parser.add_argument("--seed", type=int, default=137,
                        help="seeds the choice of --keep-empty-fraction's slices (default 137)")
    parser.add_argument("--no-normalize", action="store_true", help="clip intensities to 0-255 instead")
    parser.add_argument("--format", choices=("jpg", "png"),
                        help="image format (default jpg; --context 1 writes png, 2 or more npy)")
    parser.add_argument("--context", type=int, default=0, metavar="K",
                        help="each image stacks slices n-K..n+K as channels (default 0: slice n alone)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95)")
    parser.add_argument("--multi-class", action="store_true",
                        help="write masks with the label values as class indices 0..N-1 (default: 0/255)")
    args = parser.parse_args(argv)
    fraction = args.keep_empty_fraction
    if fraction is not None and not 0 <= fraction <= 1:
        parser.error(f"--keep-empty-fraction {fraction}: expected a fraction within 0..1")
    if args.keep_empty and fraction is not None and fraction != 1:
        parser.error(f"--keep-empty keeps every empty slice, --keep-empty-fraction {fraction} only some; "
                     "give one of them")
    if args.context < 0:
        parser.error(f"--context {args.context}: expected K >= 0")
    started = time.perf_counter()
    try:
        generator = ImageMaskDatasetGenerator(
            args.size, args.rotation, not args.keep_empty, not args.no_normalize, args.format, args.quality,
            args.multi_class, fraction, args.seed, args.context,
        )
        rows = generator.generate(args.images_dir, args.labels_dir, args.output_dir)
    except (ConversionError, ValueError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    volumes = len({row["volume"] for row in rows})
    print(f"=== Wrote {len(rows)} slices of {volumes} volumes to {args.output_dir} "
          f"in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
