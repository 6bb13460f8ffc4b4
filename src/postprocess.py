"""Post-processing of binary predictions: `[infer] largest_component` (new; docs/differences.md, I20).

Only the largest connected foreground component of a mask is kept, the
usual clean-up of single-structure segmentations (one organ, one lesion):
false-positive specks away from the structure are dropped. Components are
taken with full connectivity, as skimage's and nnU-Net's default: 8
neighbours in 2-D, 26 in 3-D, so that a thin structure touching itself only
along an edge or a corner is not cut in pieces. A tie between equally large
components keeps the first in scan order (scipy.ndimage.label's numbering),
so the result is deterministic.

3.infer applies it per image (2-D) and, for `[infer] volumes_dir`, per
volume (3-D); 2.evaluate per volume (3-D) where a volume's slices are
contiguous, else per image. With N > 1 classes every foreground class keeps
its own largest component and the rest of it becomes background (0).
"""

import numpy as np
from scipy import ndimage

FULL = None  # connectivity: every neighbour (8 in 2-D, 26 in 3-D)
FACES = 1  # connectivity: face neighbours only (4 in 2-D, 6 in 3-D)


def structure(ndim: int, connectivity: int | None = FULL) -> np.ndarray:
    """scipy's structuring element of `connectivity` (1 … ndim, None for ndim) in `ndim` dimensions."""
    return ndimage.generate_binary_structure(ndim, ndim if connectivity is None else connectivity)


def neighbours(ndim: int, connectivity: int | None = FULL) -> int:
    """How many neighbours a pixel has: 8 or 4 in 2-D, 26 or 6 in 3-D."""
    return int(structure(ndim, connectivity).sum()) - 1


def largest_component(mask: np.ndarray, connectivity: int | None = FULL) -> np.ndarray:
    """The largest connected component of a binary 2-D or 3-D mask, as a bool array of its shape.

    Args:
        mask: anything non-zero is foreground.
        connectivity: FULL (8 / 26 neighbours) or FACES (4 / 6 neighbours).

    Returns:
        a new bool array; all False when the mask is empty.
    """
    mask = np.asarray(mask).astype(bool)
    if mask.ndim not in (2, 3):
        raise ValueError(f"largest_component takes a 2-D or 3-D mask, not shape {mask.shape}")
    labels, count = ndimage.label(mask, structure(mask.ndim, connectivity))
    if count <= 1:
        return mask.copy()
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0  # background
    return labels == int(np.argmax(sizes))  # ties: the lowest label, the first in scan order


def largest_component_per_class(labels: np.ndarray, connectivity: int | None = FULL) -> np.ndarray:
    """A 2-D or 3-D label map (0 background, k > 0 classes) where each foreground class keeps only its
    largest connected component; the rest of the class becomes 0. Returns a new array of labels' dtype."""
    labels = np.asarray(labels)
    out = labels.copy()
    for k in np.unique(labels):
        if k == 0:
            continue
        of_class = labels == k
        out[of_class & ~largest_component(of_class, connectivity)] = 0
    return out


def keep_largest(values: np.ndarray, foreground: np.ndarray, connectivity: int | None = FULL) -> np.ndarray:
    """`values` (e.g. a soft 8-bit map) where the largest component of `foreground` is, 0 elsewhere."""
    return np.where(largest_component(foreground, connectivity), values, np.zeros_like(values))
