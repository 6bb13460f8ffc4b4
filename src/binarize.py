"""Thresholding of 8-bit masks, shared by mask reading and inference.

`algorithm` is an OpenCV constant (see named_objects.THRESHOLDS) or None, as
in the original's `[mask] algorithm` (see [mask] algorithm in docs/config.md):
  THRESH_OTSU / THRESH_TRIANGLE: automatic threshold, output 0/255;
  THRESH_BINARY: 255 where value > threshold;
  THRESH_TRUNC: min(value, threshold) (not a binarisation);
  None: 255 where value >= threshold.
"""

import cv2
import numpy as np


def binarize(gray: np.ndarray, algorithm: int | None, threshold: float) -> np.ndarray:
    """Thresholds a 2-D uint8 array; returns a uint8 array of the same shape."""
    if algorithm in (cv2.THRESH_OTSU, cv2.THRESH_TRIANGLE):
        return cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | algorithm)[1]
    if algorithm in (cv2.THRESH_BINARY, cv2.THRESH_TRUNC):
        return cv2.threshold(gray, threshold, 255, algorithm)[1]
    return np.where(gray >= threshold, 255, 0).astype(np.uint8)
