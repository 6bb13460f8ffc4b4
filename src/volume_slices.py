"""NIfTI volumes as 2-D slices and back: the geometry the dataset converter and volume inference share.

`generator/ImageMaskDatasetGenerator.py` cuts training slices with these
functions and `VolumeInferencer` cuts inference slices with the same ones,
so a model sees a volume at inference exactly as it saw its training data;
`unsquare_slice` and `from_lpi` undo the geometry for predicted masks.

A slice is taken from a volume in L-P-I orientation (`to_lpi`), its
intensities are 8-bit (`to_uint8`), and it is padded to a centred square,
resized and rotated (`square_slice`). With the converter's `--context K` a
slice is the stack of its 2K+1 neighbours (`context_stack`).
"""

import os

import cv2
import nibabel as nib
import numpy as np
from PIL import Image

from errors import DataError

FIXED_ORIENTATION = ("L", "P", "I")
NIFTI_SUFFIXES = (".nii.gz", ".nii")
PERCENTILES = (0.5, 99.5)  # to_uint8's window; fixed, so manifests need not record it
# The converter's settings that decide how a slice looks, as manifest.csv columns (values: int, int, bool).
SETTINGS_FIELDS = ("size", "rotation", "normalize")


class VolumeError(DataError):
    """A volume that cannot be read or placed in space; the message names the file."""


def nifti_stem(path: str) -> str:
    """The file name without `.nii.gz` or `.nii` (or any other extension)."""
    name = os.path.basename(path)
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return os.path.splitext(name)[0]


def read_nifti(path: str, voxels: bool = True):
    """A NIfTI image and its voxel array (None without `voxels`: the header alone is read),
    or a VolumeError naming the file."""
    try:
        image = nib.load(path)
        return image, np.asarray(image.dataobj) if voxels else None
    except Exception as e:  # noqa: BLE001 - nibabel, gzip and zlib raise many kinds
        raise VolumeError(f"{path}: not a readable NIfTI volume ({type(e).__name__}: {e})") from None


def three_d(array: np.ndarray, path: str) -> np.ndarray:
    """The 3-D volume of an array: trailing unit axes dropped, a 4-D array's first channel."""
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 4:
        array = array[..., 0]  # several channels: the first, as the original
    if array.ndim != 3:
        raise VolumeError(f"{path}: expected a 3-D volume, found shape {array.shape}")
    return array


def stored_orientation(affine: np.ndarray, path: str) -> np.ndarray:
    """The nibabel orientation of a volume's stored voxel axes, from its affine.

    Raises:
        VolumeError: the affine has non-finite entries or does not map the
            three voxel axes onto three directions, so the volume has no
            orientation to bring to L-P-I (or to restore).
    """
    affine = np.asarray(affine, dtype=float)
    rotation = affine[:3, :3]
    if affine.shape != (4, 4) or not np.isfinite(affine).all() or np.linalg.matrix_rank(rotation) < 3:
        raise VolumeError(f"{path}: its header has no usable affine (voxel-to-world {rotation.tolist()})")
    return nib.orientations.io_orientation(affine)


def lpi_transform(source: np.ndarray) -> np.ndarray:
    """The nibabel orientation transform from `source` (`stored_orientation`) to L-P-I."""
    return nib.orientations.ornt_transform(source, nib.orientations.axcodes2ornt(FIXED_ORIENTATION))


def to_lpi(array: np.ndarray, source: np.ndarray) -> np.ndarray:
    """A 3-D array in its stored axis order, `source`, reoriented to L-P-I."""
    return np.ascontiguousarray(nib.orientations.apply_orientation(array, lpi_transform(source)))


def from_lpi(array: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The inverse of `to_lpi`: an L-P-I array back in the stored axis order `source`."""
    back = nib.orientations.ornt_transform(nib.orientations.axcodes2ornt(FIXED_ORIENTATION), source)
    return np.ascontiguousarray(nib.orientations.apply_orientation(array, back))


def to_uint8(volume: np.ndarray, normalize: bool, percentiles=PERCENTILES) -> np.ndarray:
    """8-bit intensities: robust percentile window, or clipping to 0–255."""
    if normalize:
        low, high = np.percentile(volume, percentiles)
        if high <= low:
            return np.zeros(volume.shape, np.uint8)
        volume = (volume - low) * (255.0 / (high - low))
    return np.clip(np.rint(volume), 0, 255).astype(np.uint8)


def square_slice(plane: np.ndarray, size: int, rotation: int, nearest: bool) -> np.ndarray:
    """Pads a 2-D slice to a centred square, resizes it and rotates it.

    `rotation` is counter-clockwise in degrees, as PIL's `rotate`.
    """
    rows, cols = plane.shape
    side = max(rows, cols)
    canvas = np.zeros((side, side), np.uint8)
    top, left = (side - rows) // 2, (side - cols) // 2
    canvas[top : top + rows, left : left + cols] = plane
    if size and size != side:
        # PIL's bicubic, as the original, for images; nearest keeps masks 0/255.
        resample = Image.NEAREST if nearest else Image.BICUBIC
        canvas = np.asarray(Image.fromarray(canvas).resize((size, size), resample))
    return np.ascontiguousarray(np.rot90(canvas, k=(rotation // 90) % 4))


def context_stack(volume: np.ndarray, index: int, context: int, size: int, rotation: int,
                  planes: dict | None = None) -> np.ndarray:
    """Slice `index` of an 8-bit volume as the converter writes it and the dataset reads it back.

    `context` 0: the (H, W) grey square slice. K >= 1: slices index−K … index+K
    (edge slices repeat the nearest one) as channels, in that order: (H, W, 3)
    BGR for K = 1, so that the PNG the converter writes (and cv2 reads) has
    slice n−1 as red; (H, W, 2K+1) as stored in a `.npy` file for K >= 2.
    `planes` (slice index → square slice) spares a slice's resize when it
    appears in several stacks.
    """
    planes = {} if planes is None else planes

    def plane(n: int) -> np.ndarray:
        if n not in planes:
            planes[n] = square_slice(volume[:, :, n], size, rotation, nearest=False)
        return planes[n]

    if context == 0:
        return plane(index)
    depth = volume.shape[2]
    stack = np.stack([plane(min(max(n, 0), depth - 1)) for n in range(index - context, index + context + 1)],
                     axis=-1)
    return stack[..., ::-1].copy() if context == 1 else stack


def unsquare_slice(square: np.ndarray, shape: tuple[int, int], rotation: int) -> np.ndarray:
    """The inverse geometry of `square_slice` for a (H, W) or (H, W, C) float map of any size.

    The map is resized (bilinear) to the padded square of a `shape` slice,
    rotated back by `rotation` and cropped to `shape`.
    """
    rows, cols = shape
    side = max(rows, cols)
    plane = np.asarray(square, np.float32)
    if plane.shape[:2] != (side, side):
        resized = cv2.resize(plane, (side, side), interpolation=cv2.INTER_LINEAR)
        plane = resized.reshape((side, side) + plane.shape[2:])  # cv2 drops a single channel
    plane = np.rot90(plane, k=-(rotation // 90) % 4, axes=(0, 1))
    top, left = (side - rows) // 2, (side - cols) // 2
    return np.ascontiguousarray(plane[top : top + rows, left : left + cols])
