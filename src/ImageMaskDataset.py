"""Finds the image/mask pairs of a split, reads one pair, and checks a split.

Images and masks are paired by file stem (`a.jpg` with `a.png`), never by
position in two sorted lists as the original did. Masks are resized
nearest-neighbour and become class maps through the codec that
`[dataset] datasetclass`, `[model] num_classes` and `[mask]` choose
(mask_codecs.py): 0/1 for one class, 0…N−1 for N classes.

`check_split` decodes every pair of a split once, before training, and stops
with one line naming files and the `[mask]` key to set when masks would read
as empty under the rule in force.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import mask_codecs
from ConfigParser import ConfigParser
from errors import DataError
from ImagePreprocessor import ImagePreprocessor, is_image_file, read_image

# A mask counts as "not blank" from this many non-zero pixels (and 0.1 % of its pixels).
NOT_BLANK_PIXELS, NOT_BLANK_FRACTION = 20, 0.001


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
        self.preprocessor = ImagePreprocessor(config)
        self.codec = mask_codecs.make_codec(config)

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

    def check_split(self, pairs: list[tuple[str, str]], section: str, need_foreground: bool = False):
        """Decodes every pair of a split once, in parallel, and prints what its masks hold.

        Args:
            pairs: the split's (image, mask) paths.
            section: its config section, for messages.
            need_foreground: fail when every mask is empty (the training split).

        Returns:
            the split's summed `MaskSummary`.

        Raises:
            DataError: listing unreadable files and masks whose size differs
                from their image's; or naming masks that are not blank but
                have no foreground under the rule in force, with the `[mask]`
                key to set (always in the last line).
        """
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results = list(pool.map(lambda pair: self._inspect(*pair), pairs))
        problems = [problem for problem, _ in results if problem]
        if len(problems) == 1:
            raise DataError(problems[0])
        if problems:
            first = " (the first 10)" if len(problems) > 10 else ""
            shown = "\n".join(problems[:10])  # the last line still names a culprit
            raise DataError(f"{len(problems)} of {len(pairs)} image/mask pairs cannot be used{first}:\n{shown}")
        summary = MaskSummary(section, self.codec)
        for (_, mask_path), (_, stats) in zip(pairs, results):
            summary.add(mask_path, stats)
        print(summary.describe())
        summary.check(need_foreground)
        return summary

    def _inspect(self, image_path: str, mask_path: str):
        """(why the pair cannot be used or None, the mask's stats or None)."""
        try:
            size = read_image(image_path).shape[:2]
            _, mask_size, stats = self.codec.read(mask_path, self.model_size, inspect=True)
        except DataError as e:
            return str(e), None
        if size != mask_size:
            return _size_mismatch(image_path, mask_path, size, mask_size), None
        return None, stats

    @property
    def model_size(self) -> tuple[int, int]:
        return self.preprocessor.width, self.preprocessor.height

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
        """The (H, W, 1) uint8 class map at model size, and the file's (height, width)."""
        labels, size, _ = self.codec.read(path, self.model_size)
        return labels[..., np.newaxis], size


class MaskSummary:
    """What the masks of one split hold, added up file by file."""

    def __init__(self, section: str, codec: mask_codecs.MaskCodec):
        self.section, self.codec = section, codec
        self.files = 0
        self.pixels = 0
        self.class_pixels = np.zeros(codec.num_classes, np.int64)
        self.values: set = set()
        self.unmatched = self.unmatched_files = 0
        self.empty_but_not_blank: list[tuple[str, frozenset]] = []
        self.rules: dict[str, str] = {}

    def add(self, path: str, stats: mask_codecs.MaskStats) -> None:
        self.files += 1
        self.pixels += stats.pixels
        self.class_pixels += stats.class_pixels
        self.values |= stats.values
        self.unmatched += stats.unmatched
        self.unmatched_files += stats.unmatched > 0
        rule = self.codec.rule(path)
        self.rules.setdefault(rule, path)
        if stats.foreground == 0 and stats.nonzero >= max(NOT_BLANK_PIXELS, NOT_BLANK_FRACTION * stats.pixels):
            self.empty_but_not_blank.append((path, stats.values))

    @property
    def foreground_fraction(self) -> float:
        return float(self.class_pixels[1:].sum()) / max(self.pixels, 1)

    def describe(self) -> str:
        """One line: files, foreground share (per class), values, rule, unmatched colours."""
        share = f"foreground {100 * self.foreground_fraction:.2f}% of pixels"
        if self.codec.num_classes > 2:
            share += " (" + ", ".join(f"class {k} {100 * n / max(self.pixels, 1):.2f}%"
                                      for k, n in enumerate(self.class_pixels) if k) + ")"
        line = f"=== [{self.section}] {self.files} masks: {share}"
        if self.values:
            line += f"; values {mask_codecs.describe_values(self.values)}"
        line += "; " + "; ".join(self.rules)
        if self.unmatched:
            line += (f"; {self.unmatched} pixels in {self.unmatched_files} masks match no colour of "
                     "[mask] mask_colors and are background")
        return line

    def check(self, need_foreground: bool) -> None:
        if self.empty_but_not_blank:
            count = len(self.empty_but_not_blank)
            examples = ", ".join(f"{os.path.basename(p)} (values {mask_codecs.describe_values(v)})"
                                 if v else os.path.basename(p) for p, v in self.empty_but_not_blank[:3])
            raise DataError(
                f"{count} of {self.files} [{self.section}] masks have non-zero pixels but no foreground under "
                f"the rule in force ({'; '.join(self.rules)}), e.g. {examples} in "
                f"{os.path.dirname(self.empty_but_not_blank[0][0])}: {self.codec.fix}")
        if need_foreground and self.files and not self.class_pixels[1:].any():
            raise DataError(
                f"every one of the {self.files} [{self.section}] masks is empty under the rule in force "
                f"({'; '.join(self.rules)}): check [{self.section}] mask_datapath, or {self.codec.fix}")


def _size_mismatch(image_path, mask_path, size, mask_size) -> str:
    return (f"{mask_path}: mask is {mask_size[1]}x{mask_size[0]} but its image "
            f"{os.path.basename(image_path)} is {size[1]}x{size[0]}")
