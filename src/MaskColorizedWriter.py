"""Writes predicted masks as class maps and as pictures in class colours
(`[infer] mask_colorize`, as it was meant to work: docs/differences.md, I10).

For N > 1 classes the prediction's most likely class is written as a label
PNG (values 0…N−1, the format `[model] num_classes` masks are read in), and
as a picture: class k in colour k of `[mask] mask_colors` (in `[mask]
color_order`), or of matplotlib's tab10 palette when the masks carry no
colours; background black. For one class the picture is the probability map
on the `[segmentation]` black→white ramp. Pictures are PNG, resized to the
input's own size nearest-neighbour (classes) or bicubically (ramp);
`[infer] colorized_output_format = "bgr"` swaps their red and blue channels,
as the original's option did. With `largest` (`[infer] largest_component`)
each class keeps only its largest connected component (src/postprocess.py).
"""

import os

import matplotlib
import numpy as np
from PIL import Image

from atomic import atomic_path
from ConfigParser import ConfigParser
from GrayScaleImageWriter import GrayScaleImageWriter
from mask_codecs import mask_colours
from postprocess import largest_component_per_class


def class_colours(config: ConfigParser, num_classes: int) -> np.ndarray:
    """(N, 3) uint8 RGB colours of classes 0…N−1, background black."""
    colours = mask_colours(config)
    if len(colours) < num_classes - 1:
        palette = matplotlib.colormaps["tab10"]
        colours = [tuple(int(255 * v) for v in palette(k % 10)[:3]) for k in range(num_classes - 1)]
    return np.array([(0, 0, 0)] + [tuple(c) for c in colours[: num_classes - 1]], np.uint8)


class MaskColorizedWriter:
    """Class maps and colourised pictures of predictions.

    Args:
        config: the parsed config.
        ramp: the one-class writer whose `[segmentation]` ramp colours
            binary predictions.
        verbose: print each saved path.
        largest: keep each class's largest connected component only (N > 1 classes; the ramp's
            threshold does it for one class).
    """

    def __init__(self, config: ConfigParser, ramp: GrayScaleImageWriter, verbose: bool = True,
                 largest: bool = False):
        self.num_classes = config.get(ConfigParser.MODEL, "num_classes")
        self.colours = class_colours(config, self.num_classes)
        self.swap = config.get(ConfigParser.INFER, "colorized_output_format") == "bgr"
        self.ramp = ramp
        self.verbose = verbose
        self.largest = largest

    def labels(self, prediction: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """The (height, width) uint8 most likely class at `size` = (width, height)."""
        classes = np.asarray(prediction).argmax(axis=-1).astype(np.uint8)
        classes = np.asarray(Image.fromarray(classes).resize(size, Image.NEAREST))
        return largest_component_per_class(classes) if self.largest else classes

    def picture(self, prediction: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """The (height, width, 3) RGB picture of a prediction."""
        if self.num_classes == 1:
            return np.asarray(self.ramp.picture(prediction, size, colorize=True))
        return self.colours[self.labels(prediction, size)]

    def save_labels(self, prediction, size, folder: str, name: str) -> str:
        """Writes `<folder>/<name>.png`, the class map; returns its path."""
        return self._save(self.labels(prediction, size), folder, name)

    def save_colorized(self, prediction, size, folder: str, name: str) -> np.ndarray:
        """Writes `<folder>/<name>.png`, the picture; returns it (RGB, unswapped)."""
        picture = self.picture(prediction, size)
        self._save(picture[..., ::-1] if self.swap else picture, folder, name)
        return picture

    def _save(self, array: np.ndarray, folder: str, name: str) -> str:
        path = os.path.join(folder, name + ".png")
        with atomic_path(path) as tmp:
            Image.fromarray(np.ascontiguousarray(array)).save(tmp, format="PNG")
        if self.verbose:
            print(f"=== Saved {path}")
        return path
