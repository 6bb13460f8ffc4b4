"""Turns a predicted probability map into the files a researcher looks at (docs/differences.md, I3–I10).

One class: the soft map (or 0/255 with `binarize`, new in `[infer]`) at the
input's own size, on the `[segmentation]` black→white ramp when `colorize`,
as `<name>.jpg` (tiled inference: the input's own file name and format).
N > 1 classes: `<name>.png` holds the most likely class 0…N−1; per-epoch
previews are pictures in class colours instead. `colorized_dir` also gets
`<name>.png` in class colours, and `merged_dir` the input with the mask
picture added on top (saturating), under the input's file name.
`[infer] largest_component` (new) keeps each mask's largest connected
foreground component (per class for N > 1; src/postprocess.py).
"""

import os
import warnings

import cv2
import numpy as np
from PIL import ImageColor

import named_objects
from atomic import write_image
from binarize import binarize
from ConfigParser import ConfigParser, ConfigWarning
from GrayScaleImageWriter import GrayScaleImageWriter
from ImagePreprocessor import is_stack_file
from MaskColorizedWriter import MaskColorizedWriter
from postprocess import keep_largest


class PredictionWriter:
    """Writes the masks of one `Inferencer.Target`.

    Args:
        config: the parsed config.
        target: the Inferencer's Target (folders, naming, extension, verbosity).
        section: the section of `binarize`, `threshold` and `algorithm`
            ("infer", or "tiledinfer" for tiled inference).
    """

    def __init__(self, config: ConfigParser, target, section: str = ConfigParser.INFER):
        self.target = target
        self.section = section
        self.num_classes = config.get(ConfigParser.MODEL, "num_classes")
        # An [infer] key: tiled inference ([tiledinfer]) writes its masks as they are predicted.
        self.largest = section == ConfigParser.INFER and bool(config.get(ConfigParser.INFER, "largest_component"))
        self.grey = GrayScaleImageWriter(
            colorize=bool(config.get(ConfigParser.SEGMENTATION, "colorize")),
            black=_colour(config, "black"),
            white=_colour(config, "white"),
            threshold=self._thresholding(config),
            verbose=target.verbose,
        )
        self.colours = MaskColorizedWriter(config, self.grey, verbose=target.verbose, largest=self.largest)
        if target.verbose:
            self._warn_about_one_class_keys(config)

    def make_folders(self) -> None:
        for folder in (self.target.output_dir, self.target.merged_dir, self.target.colorized_dir):
            if folder:
                os.makedirs(folder, exist_ok=True)

    def extension(self, path: str) -> str:
        if self.num_classes > 1:
            return ".png"
        return self.target.extension or os.path.splitext(path)[1]

    def output_path(self, path: str, epoch: int | None = None) -> str:
        """Where the mask of input `path` is written."""
        return os.path.join(self.target.output_dir, self.target.naming(path, epoch) + self.extension(path))

    def write(self, path: str, image: np.ndarray, prediction: np.ndarray, epoch: int | None = None) -> str:
        """Writes the mask of input `path` (decoded BGR `image`) from its (h, w, C) probability map,
        at the image's own size; returns the mask's path."""
        size = (image.shape[1], image.shape[0])
        name = self.target.naming(path, epoch)
        folder = self.target.output_dir
        if self.num_classes == 1:
            picture = self.grey.save_resized(prediction, size, folder, name, self.extension(path))
        elif self.target.pictures:
            picture = self.colours.save_colorized(prediction, size, folder, name)
        else:
            self.colours.save_labels(prediction, size, folder, name)
            picture = self.colours.picture(prediction, size)
        if self.target.colorized_dir:
            self.colours.save_colorized(prediction, size, self.target.colorized_dir, name)
        if self.target.merged_dir:
            self._merge(path, image, picture)
        return self.output_path(path, epoch)

    def _merge(self, path: str, image: np.ndarray, mask_rgb: np.ndarray) -> None:
        merged = cv2.add(image, cv2.cvtColor(mask_rgb, cv2.COLOR_RGB2BGR))
        name = os.path.basename(path)
        if is_stack_file(path):  # the overlay of a .npy channel stack is a picture of its centre channel
            name = os.path.splitext(name)[0] + ".png"
        target = os.path.join(self.target.merged_dir, name)
        write_image(target, merged)
        if self.target.verbose:
            print(f"=== Saved {target}")

    def _warn_about_one_class_keys(self, config: ConfigParser) -> None:
        """Keys that only change one-class masks are named when N classes make them idle."""
        if self.num_classes == 1:
            return
        for section, key, instead in (
            (self.section, "binarize", "N-class masks are written as their most likely class"),
            (ConfigParser.SEGMENTATION, "colorize", "for N classes set [infer] mask_colorize = True and "
                                                    "colorized_dir to get pictures in class colours"),
        ):
            if config.get(section, key):
                warnings.warn(f"{config.where(section, key)}: [{section}] {key} = True changes one-class masks "
                              f"only: {instead}", ConfigWarning, stacklevel=4)

    def _thresholding(self, config: ConfigParser):
        """What becomes of a one-class 8-bit mask at the image's size: `binarize`, `largest_component`
        (the soft map kept inside the largest component of its binarised mask), both, or None."""
        thresholded = bool(config.get(self.section, "binarize"))
        if not thresholded and not self.largest:
            return None
        algorithm = named_objects.lookup(config, self.section, "algorithm", named_objects.THRESHOLDS)
        threshold = config.get(self.section, "threshold")
        if not self.largest:
            return lambda gray: binarize(gray, algorithm, threshold)

        def largest(gray: np.ndarray) -> np.ndarray:
            binary = binarize(gray, algorithm, threshold)
            return keep_largest(binary if thresholded else gray, binary > 0)

        return largest


def _colour(config: ConfigParser, key: str):
    value = config.get(ConfigParser.SEGMENTATION, key)
    if isinstance(value, str):
        try:
            ImageColor.getrgb(value)
        except ValueError:
            raise config.error(ConfigParser.SEGMENTATION, key, "not a colour name PIL knows") from None
    return value
