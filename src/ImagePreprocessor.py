"""Turns an image file into the array the model sees, for training and
inference alike (the original preprocessed the two differently, docs/differences.md, D8).

Steps, in the original's training order (see [image] in docs/config.md): read (8-bit; grey files
become three equal channels, alpha is dropped, 16-bit is scaled to 8-bit),
`[image] gamma`, `sharpening`, `reverse`, `contrast_adjuster`, then either
`color_converter` (applied to the BGR image, as the original's training did)
or the conversion to `[dataset] color_order` (default RGB), then
`image_channels` (1 = grey), resize to the model size with
`[dataset] resize_interpolation` (default nearest), and `[dataset]
image_normalize` (divide by 255) or, replacing it, `[image] normalize = "zscore"`
(per image: minus its mean, over its SD).

A `.npy` file is a channel stack (uint8 H×W×C, e.g. the converter's
`--context K`, C = 2K + 1): read as stored, with C = `[model] image_channels`,
never colour-swapped or converted (`color_order`, `color_converter` do not
apply; the `[image]` intensity steps do, channel by channel).
"""

import os

import cv2
import numpy as np

import named_objects
from ConfigParser import ConfigParser
from errors import DataError

STACK_EXTENSION = ".npy"  # a uint8 H×W×C channel stack, read as stored
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", STACK_EXTENSION)


def is_image_file(path: str) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def is_stack_file(path: str) -> bool:
    return path.lower().endswith(STACK_EXTENSION)


def read_image(path: str) -> np.ndarray:
    """An image file decoded as BGR (`read_file`), or a `.npy` channel stack (H, W, C) as stored."""
    return read_stack(path) if is_stack_file(path) else read_file(path)


def read_stack(path: str) -> np.ndarray:
    """A `.npy` uint8 channel stack as (H, W, C), or raises DataError naming it."""
    try:
        stack = np.load(path, allow_pickle=False)
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    except ValueError as e:
        raise DataError(f"{path}: not a readable .npy channel stack ({e})") from None
    if stack.dtype != np.uint8 or stack.ndim not in (2, 3) or 0 in stack.shape:
        raise DataError(f"{path}: a .npy channel stack must be uint8 (H, W) or (H, W, C); it is "
                        f"{stack.dtype} {stack.shape}")
    return stack[..., np.newaxis] if stack.ndim == 2 else stack


def stack_picture(stack: np.ndarray) -> np.ndarray:
    """A (H, W, C) channel stack's picture: its centre channel (slice n of a `--context` stack) as grey BGR."""
    return cv2.cvtColor(np.ascontiguousarray(stack[..., stack.shape[2] // 2]), cv2.COLOR_GRAY2BGR)


def read_file(path: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Decodes an image file with OpenCV, or raises DataError naming it.

    A `.npy` channel stack gives its picture: the centre channel (slice n of
    a `--context` stack) as grey BGR, for drawing on; the model reads the
    whole stack (`ImagePreprocessor.load`, `read_image`).
    """
    if is_stack_file(path):
        if flags != cv2.IMREAD_COLOR:
            raise DataError(f"{path}: a .npy channel stack, not an image file (masks are PNG)")
        return stack_picture(read_stack(path))
    try:
        # imdecode over bytes, unlike imread, also reads non-ASCII paths.
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror})") from None
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise DataError(f"{path}: not a readable image (empty or corrupt file?)")
    return image


def in_channel_groups(op, image: np.ndarray, fill=None) -> np.ndarray:
    """`op(part, part_fill)` on groups of at most 4 channels, stacked back to (H, W, C);
    a per-channel `fill` is split with the channels, a scalar one passed to each group.

    Some OpenCV functions (resize with INTER_AREA, a warp's border colour)
    take at most 4 channels; `.npy` channel stacks can hold more. Images of
    up to 4 channels go to `op` whole, and come back as `op` returns them.
    """
    if image.ndim == 2 or image.shape[2] <= 4:
        return op(image, fill)
    parts = []
    for start in range(0, image.shape[2], 4):
        part_fill = fill if fill is None or np.ndim(fill) == 0 else fill[start : start + 4]
        part = op(np.ascontiguousarray(image[..., start : start + 4]), part_fill)
        parts.append(part.reshape(part.shape[:2] + (-1,)))
    return np.concatenate(parts, axis=2)


def sharpen(image: np.ndarray, k: float) -> np.ndarray:
    """The original's 3×3 sharpening: centre 1+8k, neighbours −k (uint8 saturated)."""
    kernel = np.full((3, 3), -k, dtype=np.float32)
    kernel[1, 1] = 1 + 8 * k
    return cv2.filter2D(image, -1, kernel)


def zscore_stats(image: np.ndarray) -> tuple[float, float]:
    """Mean and SD of an image's values over pixels and channels; SD 1 for a constant image (all 0)."""
    values = image.astype(np.float64)
    mean, sd = float(values.mean()), float(values.std())
    return mean, sd if sd > 1e-6 else 1.0


class ImagePreprocessor:
    """Reads images as the model expects them.

    Args:
        config: the parsed config; reads `[model]` size and channels,
            `[image]`, and `[dataset] resize_interpolation`, `color_order`,
            `image_normalize`.
    """

    def __init__(self, config: ConfigParser):
        get = config.get
        self.height = get(ConfigParser.MODEL, "image_height")
        self.width = get(ConfigParser.MODEL, "image_width")
        self.channels = get(ConfigParser.MODEL, "image_channels")
        self.gamma = get(ConfigParser.IMAGE, "gamma")
        self.sharpening = get(ConfigParser.IMAGE, "sharpening")
        self.reverse = bool(get(ConfigParser.IMAGE, "reverse"))
        self.contrast = bool(get(ConfigParser.IMAGE, "contrast_adjuster"))
        self.contrast_alpha = get(ConfigParser.IMAGE, "contrast_alpah")
        self.contrast_beta = get(ConfigParser.IMAGE, "contrast_best")
        self.converter = named_objects.lookup(
            config, ConfigParser.IMAGE, "color_converter", named_objects.COLOR_CONVERSIONS
        )
        self.interpolation = named_objects.lookup(
            config, ConfigParser.DATASET, "resize_interpolation", named_objects.INTERPOLATIONS
        )
        order = get(ConfigParser.DATASET, "color_order").lower()
        if order not in ("rgb", "bgr"):
            raise config.error(ConfigParser.DATASET, "color_order", "expected 'rgb' or 'bgr'")
        self.color_order = order
        self.normalize = bool(get(ConfigParser.DATASET, "image_normalize"))
        self.zscore = get(ConfigParser.IMAGE, "normalize") == "zscore"
        if self.gamma > 0:
            levels = np.arange(256) / 255.0
            self._gamma_table = np.clip(levels**self.gamma * 255, 0, 255).astype(np.uint8)
        self._check_converter(config)

    def _check_converter(self, config: ConfigParser) -> None:
        """Fails before any file is read if the converter cannot feed the model."""
        if self.converter is None:
            return
        try:
            probe = cv2.cvtColor(np.zeros((8, 8, 3), np.uint8), self.converter)
        except cv2.error:
            raise config.error(
                ConfigParser.IMAGE, "color_converter", "does not convert 3-channel images"
            ) from None
        channels = 1 if probe.ndim == 2 else probe.shape[2]
        if channels not in (1, self.channels):
            raise config.error(
                ConfigParser.IMAGE,
                "color_converter",
                f"gives {channels} channels but [model] image_channels = {self.channels}",
            )

    @property
    def outputs_rgb(self) -> bool:
        """Whether images reach the model as RGB (no converter, 3 channels, RGB order)."""
        return self.converter is None and self.channels == 3 and self.color_order == "rgb"

    @property
    def dtype(self) -> str:
        return "float32" if self.normalize or self.zscore else "uint8"

    def read(self, path: str) -> tuple[np.ndarray, tuple[int, int]]:
        """The model-sized (H, W, C) array and the file's own (height, width)."""
        image, original_size = self.load(path)
        return self.finish(image), original_size

    def load(self, path: str) -> tuple[np.ndarray, tuple[int, int]]:
        """The model-sized uint8 image, before `image_normalize`, and the file's size."""
        if is_stack_file(path):
            stack = read_stack(path)
            return self.resize(self.adjust_stack(stack, path)), stack.shape[:2]
        if self.channels not in (1, 3):
            raise DataError(f"{path}: an image file gives 1 or 3 channels, but [model] image_channels = "
                            f"{self.channels}; only .npy channel stacks carry other counts")
        image = read_file(path)
        return self.resize(self.adjust(image)), image.shape[:2]

    def adjust_stack(self, stack: np.ndarray, path: str) -> np.ndarray:
        """The `[image]` intensity steps on a channel stack, channel by channel; no colour handling."""
        if stack.shape[2] != self.channels:
            raise DataError(f"{path}: a .npy channel stack of {stack.shape[2]} channels, but [model] "
                            f"image_channels = {self.channels}")
        if self.converter is not None:
            raise DataError(f"{path}: [image] color_converter does not apply to .npy channel stacks; "
                            "leave it unset")
        image = self._intensity_steps(stack)
        return image[..., np.newaxis] if image.ndim == 2 else image

    def prepare(self, bgr: np.ndarray) -> np.ndarray:
        """A decoded BGR image (any size) as the model sees it: `read` without the file."""
        return self.finish(self.resize(self.adjust(bgr)))

    def prepare_stack(self, stack: np.ndarray, name: str) -> np.ndarray:
        """A (H, W, C) channel stack (a `.npy` file's, or one built from a volume) as the model sees it:
        `read` without the file; `name` says in an error which stack it was."""
        return self.finish(self.resize(self.adjust_stack(stack, name)))

    def resize(self, adjusted: np.ndarray) -> np.ndarray:
        """An `adjust`ed image (or a crop of one) at the model's size, (H, W, C) uint8."""
        image = in_channel_groups(
            lambda part, _: cv2.resize(part, (self.width, self.height), interpolation=self.interpolation), adjusted)
        if image.ndim == 2:
            image = image[..., np.newaxis]
        return image

    def finish(self, image: np.ndarray, stats: tuple[float, float] | None = None) -> np.ndarray:
        """The uint8 image z-scored (`[image] normalize`; with `stats`, by that mean and SD instead of
        its own), divided by 255 (`[dataset] image_normalize`), or as it is."""
        if self.zscore:
            mean, sd = stats if stats is not None else zscore_stats(image)
            return (image.astype(np.float32) - mean) / np.float32(sd)
        return image.astype(np.float32) / 255.0 if self.normalize else image

    def adjust(self, bgr: np.ndarray) -> np.ndarray:
        """The `[image]` steps and colour handling, at the file's own size."""
        if self.channels not in (1, 3):
            raise DataError(f"[model] image_channels = {self.channels} takes .npy channel stacks, but this "
                            "is a picture (1 or 3 channels)")
        image = self._intensity_steps(bgr)
        if self.converter is not None:
            image = cv2.cvtColor(image, self.converter)
        elif self.channels == 1:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        elif self.color_order == "rgb":
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return self._fit_channels(image)

    def _intensity_steps(self, image: np.ndarray) -> np.ndarray:
        """`[image]` gamma, sharpening, reverse and contrast_adjuster, each channel alike."""
        if self.gamma > 0:
            image = cv2.LUT(image, self._gamma_table)
        if self.sharpening > 0:
            image = sharpen(image, self.sharpening)
        if self.reverse:
            image = cv2.bitwise_not(image)
        if self.contrast:
            image = cv2.convertScaleAbs(image, alpha=self.contrast_alpha, beta=self.contrast_beta)
        return image

    def _fit_channels(self, image: np.ndarray) -> np.ndarray:
        """Grey output of a converter, repeated when the model wants three."""
        if image.ndim == 2 and self.channels == 3:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        return image
