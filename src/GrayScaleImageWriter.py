"""Writes a predicted probability map as a JPEG mask (docs/differences.md, I8).

The map is scaled to 0–255 (truncated, clipped), resized to the input
image's own size with bicubic interpolation, optionally thresholded
(`[infer] binarize`, new), colourised from `black` to `white` when
`[segmentation] colorize`, and saved as RGB JPEG (PIL's default quality), or the format the
caller's extension names.
"""

import os

import numpy as np
from PIL import Image, ImageOps

from atomic import atomic_path


class GrayScaleImageWriter:
    """Mask writer.

    Args:
        colorize: map grey 0→255 onto `black`→`white`.
        black, white: PIL colour names or (r, g, b) tuples.
        threshold: a function thresholding the resized 8-bit mask, or None.
        verbose: print each saved path.
    """

    def __init__(self, colorize=False, black="black", white="white", threshold=None, verbose=True):
        self.colorize = colorize
        self.black = tuple(black) if isinstance(black, (list, tuple)) else black
        self.white = tuple(white) if isinstance(white, (list, tuple)) else white
        self.threshold = threshold
        self.verbose = verbose

    def save_resized(self, data: np.ndarray, size: tuple[int, int], output_dir: str, name: str,
                     extension: str = ".jpg") -> np.ndarray:
        """Writes `<output_dir>/<name><extension>` at `size` = (width, height), in the format the
        extension names (PIL's defaults: JPEG quality 75).

        Args:
            data: the (H, W) or (H, W, 1) probability map, values in [0, 1].

        Returns:
            the written image as an (height, width, 3) RGB array.
        """
        image = self.picture(data, size)
        if self.verbose:
            print(f"== resized to {size}")
        path = os.path.join(output_dir, name + extension)
        image_format = Image.registered_extensions().get(extension.lower())
        if image_format is None:
            raise OSError(f"cannot write an image as {extension!r}: {path}")
        with atomic_path(path) as tmp:
            image.save(tmp, format=image_format)
        if self.verbose:
            print(f"=== Saved {path}")
        return np.asarray(image)

    def picture(self, data: np.ndarray, size: tuple[int, int], colorize: bool | None = None) -> Image.Image:
        """The RGB picture `save_resized` writes (`colorize` overrides the writer's)."""
        gray = np.clip(np.asarray(data, np.float32).squeeze(-1) if data.ndim == 3 else data, 0, 1)
        image = Image.fromarray((gray * 255).astype(np.uint8)).resize(size, Image.BICUBIC)
        if self.threshold is not None:
            image = Image.fromarray(self.threshold(np.asarray(image)))
        if self.colorize if colorize is None else colorize:
            return ImageOps.colorize(image, self.black, self.white)
        return image.convert("RGB")
