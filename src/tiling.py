"""Tile geometry and blending of tiled inference, as plain functions (docs/differences.md, TI1–TI8).

The image is cut into a grid of `split` × `split` squares, raster order,
the last row and column reaching past the image. Each square's window adds
`margin` pixels of context on every side, so every window is
`split + 2·margin` square; where it reaches past the image it is filled with
the `background` grey level. A window's prediction comes back at window size,
and either
  - "paste": its central `split` square is written into the mosaic (the
    original's blending), or
  - "gaussian": the whole window is added, weighted by a Gaussian of
    sigma = window/8 (nnU-Net's and MONAI's choice), and the mosaic is the
    weighted mean, so overlapping windows leave no seam.
The mosaic is clipped to the image: output size = input size.
"""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Tile:
    """One grid square: its top-left corner (row, column) and its window's, in image pixels."""

    top: int
    left: int
    window_top: int
    window_left: int


def grid(height: int, width: int, split: int, margin: int) -> list[Tile]:
    """The tiles of a `height` × `width` image, raster order."""
    if split < 1:
        raise ValueError(f"split must be at least 1. Received: split={split}")
    if margin < 0:
        raise ValueError(f"margin must be at least 0. Received: margin={margin}")
    return [
        Tile(top, left, top - margin, left - margin)
        for top in range(0, height, split)
        for left in range(0, width, split)
    ]


def window(image: np.ndarray, tile: Tile, size: int, background: float = 0) -> np.ndarray:
    """The `size` × `size` window of `tile` cut from `image` (H, W[, C]); parts past the image are
    `background`. Copies only the window, never the image."""
    height, width = image.shape[:2]
    top, left = tile.window_top, tile.window_left
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, height), min(left + size, width)
    out = np.full((size, size) + image.shape[2:], background, image.dtype)
    if y1 > y0 and x1 > x0:
        out[y0 - top : y1 - top, x0 - left : x1 - left] = image[y0:y1, x0:x1]
    return out


def gaussian_weights(size: int, sigma_scale: float = 1 / 8) -> np.ndarray:
    """(size, size) float32 Gaussian importance window, peak 1, sigma = size·sigma_scale.

    The smallest weight is clamped above 0 (as nnU-Net does), so a pixel that
    only one window's rim covers still gets that window's prediction.
    """
    axis = np.arange(size, dtype=np.float64) - (size - 1) / 2
    sigma = max(size * sigma_scale, 1e-6)
    profile = np.exp(-(axis**2) / (2 * sigma**2))
    weights = np.outer(profile, profile).astype(np.float32)
    return np.maximum(weights, max(weights[weights > 0].min(), 1e-6))


class Mosaic:
    """Accumulates window predictions into one (height, width, channels) float32 probability map.

    Args:
        height, width: the image's size.
        channels: classes of the prediction.
        split, margin: the grid's (see `grid`).
        blending: "paste" or "gaussian".
    """

    def __init__(self, height: int, width: int, channels: int, split: int, margin: int, blending: str = "paste"):
        if blending not in ("paste", "gaussian"):
            raise ValueError(f"blending must be 'paste' or 'gaussian'. Received: blending={blending!r}")
        self.height, self.width = height, width
        self.split, self.margin, self.blending = split, margin, blending
        self.size = split + 2 * margin
        self.sum = np.zeros((height, width, channels), np.float32)
        if blending == "gaussian":
            self.weights = gaussian_weights(self.size)
            self.total = np.zeros((height, width), np.float32)

    def add(self, tile: Tile, prediction: np.ndarray) -> None:
        """Adds one window's (size, size, channels) prediction."""
        if self.blending == "paste":
            top, left, side, offset = tile.top, tile.left, self.split, self.margin
        else:
            top, left, side, offset = tile.window_top, tile.window_left, self.size, 0
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + side, self.height), min(left + side, self.width)
        if y1 <= y0 or x1 <= x0:
            return
        part = prediction[offset + y0 - top : offset + y1 - top, offset + x0 - left : offset + x1 - left]
        if self.blending == "paste":
            self.sum[y0:y1, x0:x1] = part
        else:
            weights = self.weights[y0 - top : y1 - top, x0 - left : x1 - left]
            self.sum[y0:y1, x0:x1] += part * weights[..., np.newaxis]
            self.total[y0:y1, x0:x1] += weights

    def result(self) -> np.ndarray:
        """The blended (height, width, channels) map (the accumulator itself, divided in place)."""
        if self.blending == "gaussian":
            self.sum /= self.total[..., np.newaxis]
        return self.sum


def resize_map(prediction: np.ndarray, width: int, height: int) -> np.ndarray:
    """An (h, w, C) probability map at (width, height), bilinearly in probability space
    (unchanged when it already is that size)."""
    if prediction.shape[:2] == (height, width):
        return prediction
    resized = cv2.resize(prediction, (width, height), interpolation=cv2.INTER_LINEAR)
    return resized[..., np.newaxis] if resized.ndim == 2 else resized
