"""How a mask file becomes a class map, one codec per way masks are stored.

`[dataset] datasetclass`, `[model] num_classes` and `[mask] mask_colors`
choose the codec (`make_codec`); every codec turns the file, resized
nearest-neighbour to the model size, into an (H, W) uint8 class map: 0/1 for
one class, 0…N−1 for N classes (0 = background).

  GreyCodec      ImageMaskDataset, BaseImageMaskDataset (one class). Default
                 rule: lossless files (PNG, BMP, TIFF) any non-zero value is
                 foreground, as in the original; JPEG grey ≥ 128, which drops
                 compression fringe. `[mask] binarize = True` applies
                 `threshold`/`algorithm` instead (see [mask] algorithm in
                 docs/config.md; docs/differences.md, D5).
  NormalizedCodec  NormalizedImageMaskDataset: grey scaled to 0–1 (÷255 when
                 above 1), foreground ≥ `[mask] normalized_threshold`.
  ColourCodec    `[mask] mask_colors` (RGB2GrayscaleImageMaskDataset needs
                 them): colours in `[mask] color_order`. Lossless files match
                 exactly; JPEG pixels take the nearest listed colour (or
                 black) when no channel differs by more than 40. One class:
                 the union of the colours; N classes: colour k is class k+1.
  LabelCodec     N classes without colours: the file holds 0…N−1 itself
                 (8- or 16-bit), read unchanged.

`read(path, size, inspect=True)` also returns a `MaskStats` that the
up-front check adds up per split (ImageMaskDataset.check_split).
"""

from dataclasses import dataclass, field

import cv2
import numpy as np

import named_objects
from binarize import binarize
from ConfigParser import ConfigParser
from errors import DataError
from ImagePreprocessor import read_file

LOSSLESS = (".png", ".bmp", ".tif", ".tiff")
JPEG_FOREGROUND = 128
COLOUR_TOLERANCE = 40  # largest channel difference for a JPEG pixel to match a colour
BINARY_DATASETS = ("ImageMaskDataset", "BaseImageMaskDataset")
DATASET_CLASSES = BINARY_DATASETS + ("NormalizedImageMaskDataset", "RGB2GrayscaleImageMaskDataset")


def is_lossless(path: str) -> bool:
    return path.lower().endswith(LOSSLESS)


@dataclass
class MaskStats:
    """What one mask file holds, for the up-front check."""

    pixels: int
    nonzero: int  # pixels with any non-zero value in the file
    class_pixels: np.ndarray  # pixels per class (index 0 = background)
    values: frozenset = field(default_factory=frozenset)  # grey or label values found
    unmatched: int = 0  # colour masks: non-black pixels that match no colour

    @property
    def foreground(self) -> int:
        return int(self.class_pixels[1:].sum())


class MaskCodec:
    """Base: reads a mask file into a class map at the model size.

    Attributes:
        num_classes: classes including background (2 for a binary mask).
        rule: the rule in words, for messages.
        fix: what to set when masks read empty under the rule.
    """

    flags = cv2.IMREAD_UNCHANGED
    fix = ""

    def __init__(self, num_classes: int):
        self.num_classes = num_classes

    def rule(self, path: str) -> str:
        raise NotImplementedError

    def decode(self, raw: np.ndarray, path: str) -> np.ndarray:
        """The (H, W) uint8 class map of a resized file array."""
        raise NotImplementedError

    def read(self, path: str, size: tuple[int, int] | None, inspect: bool = False):
        """(class map at `size` = (width, height), the file's (height, width), stats or None).

        `size` None keeps the file's own size (2.evaluate's per-image metrics).
        """
        path = str(path)
        raw = read_file(path, self.flags)
        file_size = raw.shape[:2]
        if size is not None:
            raw = cv2.resize(raw, size, interpolation=cv2.INTER_NEAREST)
        labels, unmatched = self.classify(raw, path)
        stats = self.inspect(raw, labels, unmatched) if inspect else None
        return labels, file_size, stats

    def classify(self, raw: np.ndarray, path: str) -> tuple[np.ndarray, int]:
        """The class map, and how many pixels matched no class (colour masks)."""
        return self.decode(raw, path), 0

    def inspect(self, raw: np.ndarray, labels: np.ndarray, unmatched: int = 0) -> MaskStats:
        nonzero = raw[..., :3].any(axis=2) if raw.ndim == 3 else raw > 0  # alpha is no content
        counts = np.bincount(labels.ravel(), minlength=self.num_classes)
        return MaskStats(labels.size, int(nonzero.sum()), counts, self._values(raw), unmatched)

    def _values(self, raw: np.ndarray) -> frozenset:
        return frozenset(np.unique(_grey(raw)).tolist())


def _grey(raw: np.ndarray) -> np.ndarray:
    """A single-channel view of a mask file (3-channel grey or colour → luma)."""
    if raw.ndim == 2:
        return raw
    code = cv2.COLOR_BGRA2GRAY if raw.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(raw, code)


def _eight_bit(grey: np.ndarray) -> np.ndarray:
    """16-bit values scaled to 8 bits as OpenCV reads 16-bit images (v >> 8)."""
    return (grey >> 8).astype(np.uint8) if grey.dtype == np.uint16 else grey.astype(np.uint8)


class _BinaryCodec(MaskCodec):
    """One class: a foreground test, then the optional `[mask] blur`."""

    def __init__(self, blur_size: tuple[int, int] | None):
        super().__init__(2)
        self.blur_size = blur_size

    def foreground(self, grey: np.ndarray, path: str) -> np.ndarray:
        raise NotImplementedError

    def decode(self, raw, path):
        mask = self.foreground(_grey(raw), path).astype(np.uint8)
        if self.blur_size:
            # The box blur smooths the outline; the 128 cut keeps it binary (docs D6).
            mask = (cv2.blur(mask * 255, self.blur_size) >= 128).astype(np.uint8)
        return mask


class GreyCodec(_BinaryCodec):
    """Grey masks, one class: the default rule, or `[mask] binarize = True`.

    Args:
        binarize: whether `[mask] binarize = True`.
        algorithm: the OpenCV constant of `[mask] algorithm`, or None.
        threshold: `[mask] threshold`.
        blur_size: `[mask] blur_size` when `[mask] blur`, else None.
    """

    def __init__(self, binarize: bool = False, algorithm=None, threshold=None, blur_size=None):
        super().__init__(blur_size)
        self.binarize, self.algorithm, self.threshold = binarize, algorithm, threshold
        self.fix = ("lower [mask] threshold or set [mask] algorithm (thresholds apply to 8-bit values: 16-bit "
                    "masks are shifted to 8 bits, so 16-bit 0/1 masks need binarize = False)" if binarize else
                    "set [mask] binarize = True with a [mask] threshold the foreground reaches "
                    "(e.g. threshold = 1 for 0/1 masks)")

    def rule(self, path):
        if self.binarize:
            name = next((f"cv2.{n}" for n, v in named_objects.THRESHOLDS.items() if v == self.algorithm), None)
            return f"[mask] binarize = True, threshold {self.threshold}" + (f", algorithm {name}" if name else "")
        if is_lossless(path):
            return "lossless masks: any non-zero value is foreground"
        return f"JPEG masks: grey >= {JPEG_FOREGROUND} is foreground"

    def foreground(self, grey, path):
        if not self.binarize:
            return grey > 0 if is_lossless(path) else _eight_bit(grey) >= JPEG_FOREGROUND
        out = binarize(_eight_bit(grey), self.algorithm, self.threshold)
        # THRESH_TRUNC gives min(v, threshold), no binarisation: any non-zero value, as the original.
        return out > 0 if self.algorithm == cv2.THRESH_TRUNC else out >= 128


class NormalizedCodec(_BinaryCodec):
    """NormalizedImageMaskDataset: grey ÷ full scale (when above 1) ≥ threshold."""

    fix = "lower [mask] normalized_threshold"

    def __init__(self, threshold: float = 0.15, blur_size=None):
        super().__init__(blur_size)
        self.threshold = threshold

    def rule(self, path):
        return ("NormalizedImageMaskDataset: value / full scale (255, 65535 for 16-bit; 1 for 0/1 masks) "
                f">= [mask] normalized_threshold {self.threshold}")

    def foreground(self, grey, path):
        scale = np.iinfo(grey.dtype).max if grey.max() > 1 else 1
        return grey.astype(np.float32) / scale >= self.threshold


class ColourCodec(MaskCodec):
    """Colour-coded masks; `colours` are RGB tuples in class order.

    Args:
        colours: the foreground colours, as RGB.
        num_classes: 1 (the union of the colours) or len(colours) + 1.
    """

    flags = cv2.IMREAD_COLOR
    fix = "check [mask] mask_colors and [mask] color_order"

    def __init__(self, colours: list[tuple[int, int, int]], num_classes: int):
        super().__init__(2 if num_classes == 1 else num_classes)
        # Black (the background) is a candidate too, so JPEG fringe near black stays background.
        self.bgr = np.array([(0, 0, 0)] + [tuple(c)[::-1] for c in colours], np.int16)
        self.union = num_classes == 1

    def rule(self, path):
        how = "exact colours" if is_lossless(path) else f"nearest colour within {COLOUR_TOLERANCE}"
        return f"[mask] mask_colors ({how})"

    def _nearest(self, raw: np.ndarray, path: str) -> np.ndarray:
        """Index into self.bgr per pixel (0 = black), −1 where nothing matches."""
        pixels = raw.astype(np.int16)
        if is_lossless(path):
            found = np.full(raw.shape[:2], -1, np.int16)
            for index, colour in enumerate(self.bgr):
                found[(pixels == colour).all(axis=2)] = index
            return found
        distance = np.abs(pixels[:, :, None, :] - self.bgr[None, None]).max(axis=3)
        nearest = distance.argmin(axis=2).astype(np.int16)
        nearest[distance.min(axis=2) > COLOUR_TOLERANCE] = -1
        return nearest

    def classify(self, raw, path):
        nearest = self._nearest(raw, path)
        labels = np.clip(nearest, 0, None).astype(np.uint8)
        return (np.minimum(labels, 1) if self.union else labels), int((nearest < 0).sum())

    def decode(self, raw, path):
        return self.classify(raw, path)[0]

    def _values(self, raw):
        return frozenset()  # colours, not grey values, carry the classes


class LabelCodec(MaskCodec):
    """N classes stored as the values 0…N−1 themselves (8- or 16-bit files)."""

    fix = "store the class numbers 0..num_classes-1, or list the classes' colours in [mask] mask_colors"

    def rule(self, path):
        return f"label masks: values 0..{self.num_classes - 1} are the classes"

    def decode(self, raw, path):
        if raw.ndim == 3:
            if not (raw[..., :3] == raw[..., :1]).all():
                raise DataError(f"{path}: a colour mask, but [mask] mask_colors is not set: list the "
                                f"colours of classes 1..{self.num_classes - 1} there")
            raw = raw[..., 0]
        if raw.max() >= self.num_classes:
            found = sorted(np.unique(raw).tolist())
            shown = ", ".join(map(str, found[:12])) + (", ..." if len(found) > 12 else "")
            hint = " (JPEG cannot store labels exactly: use PNG)" if not is_lossless(path) else ""
            raise DataError(f"{path}: mask values {{{shown}}} are not class numbers 0..{self.num_classes - 1} "
                            f"of [model] num_classes = {self.num_classes}{hint}; {self.fix}")
        return raw.astype(np.uint8)


def make_codec(config: ConfigParser) -> MaskCodec:
    """The codec the config's dataset class, classes and mask keys describe.

    Raises:
        ConfigError: keys that contradict each other or the dataset class.
    """
    get = config.get
    M = ConfigParser.MASK
    name = get(ConfigParser.DATASET, "datasetclass")
    if name not in DATASET_CLASSES:
        raise config.error(ConfigParser.DATASET, "datasetclass", f"expected one of {', '.join(DATASET_CLASSES)}")
    classes = get(ConfigParser.MODEL, "num_classes")
    colours = mask_colours(config)
    blur = tuple(get(M, "blur_size")) if get(M, "blur") else None
    if classes > 1:
        for key, on in (("binarize", get(M, "binarize")), ("blur", blur)):
            if on:
                raise config.error(M, key, f"works on one-class masks only ([model] num_classes = {classes})")
    if name == "NormalizedImageMaskDataset":
        if classes > 1 or colours:
            key = "mask_colors" if colours else None
            raise config.error(M if key else ConfigParser.MODEL, key or "num_classes",
                               "NormalizedImageMaskDataset reads one-class grey masks")
        return NormalizedCodec(get(M, "normalized_threshold"), blur)
    if colours:
        if classes > 1 and len(colours) != classes - 1:
            raise config.error(M, "mask_colors", f"lists {len(colours)} colours, but [model] num_classes = "
                               f"{classes} needs {classes - 1} (one per class besides the background)")
        if blur:
            raise config.error(M, "blur", "works on grey masks only, not with [mask] mask_colors")
        return ColourCodec(colours, classes)
    if name == "RGB2GrayscaleImageMaskDataset":
        raise config.error(M, "mask_colors", "RGB2GrayscaleImageMaskDataset needs the classes' colours here")
    if classes > 1:
        return LabelCodec(classes)
    algorithm = named_objects.lookup(config, M, "algorithm", named_objects.THRESHOLDS)
    threshold = get(M, "threshold")
    on = bool(get(M, "binarize"))
    if on and threshold is None and algorithm not in (cv2.THRESH_OTSU, cv2.THRESH_TRIANGLE):
        raise config.error(M, "threshold", "binarize = True needs a threshold")
    return GreyCodec(on, algorithm, threshold, blur)


def mask_colours(config: ConfigParser) -> list[tuple[int, int, int]]:
    """`[mask] mask_colors` as RGB tuples, checked."""
    M = ConfigParser.MASK
    colours = config.get(M, "mask_colors") or []
    order = config.get(M, "color_order")
    rgb = [tuple(c) if order == "rgb" else tuple(c)[::-1] for c in colours]
    if (0, 0, 0) in rgb:
        raise config.error(M, "mask_colors", "lists black (0, 0, 0), the background: list the foreground colours only")
    if len(set(rgb)) != len(rgb):
        raise config.error(M, "mask_colors", "lists a colour twice")
    return rgb


def visible_scale(num_classes: int) -> int:
    """The factor that spreads class numbers over 0–255 in debug pictures (0/255 for one class)."""
    return 255 // max(1, num_classes - 1)


def describe_values(values: set) -> str:
    """A value set, short: `{0, 255}` or `0-255 (137 values)`."""
    ordered = sorted(values)
    if len(ordered) <= 8:
        return "{" + ", ".join(map(str, ordered)) + "}"
    return f"{ordered[0]}-{ordered[-1]} ({len(ordered)} values)"
