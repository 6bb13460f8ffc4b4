"""Finds the image/mask pairs of a split and reads one pair.

Images and masks are paired by file stem (`a.jpg` with `a.png`), never by
position in two sorted lists as the original did. Masks come out as 0/1:
with `[mask] binarize = False` a pixel is foreground when its grey value is
at least 128 (the original took any non-zero value, JPEG fringe included);
with `binarize = True`, `threshold` and `algorithm` apply as in spec §5.3.
`[mask] blur` box-blurs the binarised mask, and the 128 cut then smooths its
outline. Masks are always resized nearest-neighbour.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

import named_objects
from binarize import binarize
from ConfigParser import ConfigParser
from errors import DataError
from ImagePreprocessor import ImagePreprocessor, is_image_file, read_file

# The original's dataset classes; all of them read through this one class.
DATASET_CLASSES = (
    "ImageMaskDataset",
    "BaseImageMaskDataset",
    "NormalizedImageMaskDataset",
    "RGB2GrayscaleImageMaskDataset",
)
FOREGROUND = 128


def list_images(folder: str) -> dict[str, str]:
    """Image files of a folder by stem, sorted; other files are skipped."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder} does not exist")
    names = sorted(os.listdir(folder))
    images: dict[str, str] = {}
    skipped = []
    for name in names:
        path = os.path.join(folder, name)
        if not is_image_file(name) or not os.path.isfile(path):
            if not name.startswith("."):
                skipped.append(name)
            continue
        stem = os.path.splitext(name)[0]
        if stem in images:
            raise DataError(
                f"{folder}: {os.path.basename(images[stem])} and {name} have the "
                "same name; keep one of them"
            )
        images[stem] = path
    if skipped:
        print(f"Note: skipped {len(skipped)} non-image entries in {folder} (e.g. {skipped[0]})")
    return images


def pair_files(image_dir: str, mask_dir: str) -> list[tuple[str, str]]:
    """(image, mask) paths paired by stem, in sorted order.

    Raises:
        DataError: a folder is missing or empty, or a file has no partner.
    """
    images, masks = list_images(image_dir), list_images(mask_dir)
    if not images:
        raise DataError(f"{image_dir} holds no images")
    for have, lack, kind in ((images, masks, "mask"), (masks, images, "image")):
        orphans = [stem for stem in have if stem not in lack]
        if orphans:
            folder = mask_dir if kind == "mask" else image_dir
            example = os.path.basename(have[orphans[0]])
            more = f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else ""
            raise DataError(f"{example}{more} has no {kind} of the same name in {folder}")
    return [(images[stem], masks[stem]) for stem in images]


class ImageMaskDataset:
    """Image/mask pairs of the `[train]`, `[eval]` and `[test]` sections.

    Args:
        config: the parsed config.
    """

    def __init__(self, config: ConfigParser):
        self.config = config
        name = config.get(ConfigParser.DATASET, "datasetclass", "ImageMaskDataset")
        if name not in DATASET_CLASSES:
            raise config.error(
                ConfigParser.DATASET, "datasetclass", f"expected one of {', '.join(DATASET_CLASSES)}"
            )
        self.preprocessor = ImagePreprocessor(config)
        self.binarize = bool(config.get(ConfigParser.MASK, "binarize", False))
        self.algorithm = named_objects.lookup(
            config, ConfigParser.MASK, "algorithm", named_objects.THRESHOLDS
        )
        self.threshold = config.get(ConfigParser.MASK, "threshold")
        automatic = self.algorithm in (cv2.THRESH_OTSU, cv2.THRESH_TRIANGLE)
        if self.binarize and self.threshold is None and not automatic:
            raise config.error(
                ConfigParser.MASK, "threshold", "binarize = True needs a threshold"
            )
        self.blur = bool(config.get(ConfigParser.MASK, "blur", False))
        self.blur_size = tuple(config.get(ConfigParser.MASK, "blur_size", (3, 3)))

    def folders(self, section: str) -> tuple[str, str]:
        """The image and mask folders a section names."""
        return self.config.require(section, "image_datapath"), self.config.require(section, "mask_datapath")

    def exists(self, section: str) -> bool:
        """Whether the section names two existing folders."""
        if not all(self.config.has(section, k) for k in ("image_datapath", "mask_datapath")):
            return False
        return all(os.path.isdir(p) for p in self.folders(section))

    def pairs(self, section: str) -> list[tuple[str, str]]:
        """The sorted (image, mask) paths of a section."""
        image_dir, mask_dir = self.folders(section)
        for key, folder in (("image_datapath", image_dir), ("mask_datapath", mask_dir)):
            if not os.path.isdir(folder):
                raise self.config.error(section, key, f"{folder} does not exist")
        return pair_files(image_dir, mask_dir)

    def check_files(self, pairs: list[tuple[str, str]]) -> None:
        """Decodes every image and mask once, in parallel, before any training.

        Raises:
            DataError: listing each unreadable file and each mask whose size
                differs from its image's (the last line names one of them).
        """
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            problems = [p for p in pool.map(lambda pair: _problem(*pair), pairs) if p]
        if len(problems) == 1:
            raise DataError(problems[0])
        if problems:
            shown = "\n".join(problems[:10]) + (f"\n(and {len(problems) - 10} more)" if len(problems) > 10 else "")
            raise DataError(f"{len(problems)} of {len(pairs)} image/mask pairs cannot be used:\n{shown}")

    def read_pair(self, image_path: str, mask_path: str, normalize: bool = True):
        """The model-sized image and its (H, W, 1) uint8 0/1 mask.

        With `normalize = False` the image stays uint8 (for augmentation);
        `preprocessor.finish` completes it.
        """
        image, size = self.preprocessor.load(image_path)
        if normalize:
            image = self.preprocessor.finish(image)
        mask, mask_size = self.read_mask(mask_path)
        if mask_size != size:
            raise DataError(_size_mismatch(image_path, mask_path, size, mask_size))
        return image, mask

    def read_mask(self, path: str) -> tuple[np.ndarray, tuple[int, int]]:
        """The (H, W, 1) 0/1 mask at model size, and the file's (height, width)."""
        gray = read_file(path, cv2.IMREAD_GRAYSCALE)
        size = gray.shape[:2]
        p = self.preprocessor
        gray = cv2.resize(gray, (p.width, p.height), interpolation=cv2.INTER_NEAREST)
        cut = FOREGROUND
        if self.binarize:
            gray = binarize(gray, self.algorithm, self.threshold)
            if self.algorithm == cv2.THRESH_TRUNC:
                cut = 1  # min(v, threshold) is no binarisation: any non-zero value, as the original
        if self.blur:
            gray = cv2.blur(gray, self.blur_size)
        return (gray >= cut).astype(np.uint8)[..., np.newaxis], size


def _size_mismatch(image_path, mask_path, size, mask_size) -> str:
    return (f"{mask_path}: mask is {mask_size[1]}x{mask_size[0]} but its image "
            f"{os.path.basename(image_path)} is {size[1]}x{size[0]}")


def _problem(image_path: str, mask_path: str) -> str | None:
    """Why a pair cannot be used, or None."""
    try:
        size = read_file(image_path).shape[:2]
        mask_size = read_file(mask_path, cv2.IMREAD_GRAYSCALE).shape[:2]
    except DataError as e:
        return str(e)
    return None if size == mask_size else _size_mismatch(image_path, mask_path, size, mask_size)
