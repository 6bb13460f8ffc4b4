"""Image/mask augmentations of the original's ImageMaskAugmentor (docs/differences.md, A4–A10), as
pure functions on NumPy arrays.

Images are (H, W, C) arrays, masks (H, W, 1) arrays of 0/1. Geometric
transforms move the image and the mask with the same map (the original drew
separate random fields for the two, docs/differences.md, A4, A5): images are interpolated
bilinearly, masks nearest-neighbour, so masks stay binary. Intensity
transforms change the image only. Random values come from the `rng` passed
in, so a caller that seeds it gets the same result every time.
"""

import cv2
import numpy as np
from scipy import ndimage

from ImagePreprocessor import in_channel_groups, sharpen


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))


def _background(image: np.ndarray):
    """The fill colour of uncovered areas: the pixel at (2, 2), as the original."""
    return tuple(float(v) for v in np.atleast_1d(image[2, 2]))


def _as_mask(warped: np.ndarray) -> np.ndarray:
    return warped.reshape(warped.shape[:2] + (1,))


def _as_image(warped: np.ndarray, like: np.ndarray) -> np.ndarray:
    return warped.reshape(like.shape)


def _remap(image, mask, map_x, map_y, image_border=cv2.BORDER_CONSTANT, fill=None):
    """Samples image and mask at (map_x, map_y), one map for both."""
    fill = _background(image) if fill is None else fill
    warped = in_channel_groups(lambda part, value: cv2.remap(part, map_x, map_y, cv2.INTER_LINEAR,
                                                             borderMode=image_border, borderValue=value),
                               image, fill)
    warped_mask = cv2.remap(mask, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return _as_image(warped, image), _as_mask(warped_mask)


def _affine(image, mask, matrix):
    height, width = mask.shape[:2]
    warped = in_channel_groups(lambda part, value: cv2.warpAffine(part, matrix, (width, height),
                                                                  flags=cv2.INTER_LINEAR,
                                                                  borderMode=cv2.BORDER_CONSTANT, borderValue=value),
                               image, _background(image))
    warped_mask = cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_NEAREST,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return _as_image(warped, image), _as_mask(warped_mask)


def hflip(image, mask):
    """Mirrors left and right."""
    return image[:, ::-1].copy(), mask[:, ::-1].copy()


def vflip(image, mask):
    """Mirrors top and bottom."""
    return image[::-1].copy(), mask[::-1].copy()


def rotate(image, mask, angle: float):
    """Rotates counter-clockwise by `angle` degrees about the centre."""
    height, width = mask.shape[:2]
    return _affine(image, mask, cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0))


def shrink(image, mask, scale: float):
    """Scales down by `scale` and centres on a background-filled canvas."""
    height, width = mask.shape[:2]
    small_w, small_h = max(1, int(width * scale)), max(1, int(height * scale))
    small = in_channel_groups(lambda part, _: cv2.resize(part, (small_w, small_h), interpolation=cv2.INTER_AREA),
                              image)
    small_mask = cv2.resize(mask, (small_w, small_h), interpolation=cv2.INTER_NEAREST)
    canvas = np.empty_like(image)
    canvas[...] = np.array(_background(image), dtype=image.dtype)
    canvas_mask = np.zeros_like(mask)
    top, left = (height - small_h) // 2, (width - small_w) // 2
    canvas[top : top + small_h, left : left + small_w] = _as_image(small, canvas[:small_h, :small_w])
    canvas_mask[top : top + small_h, left : left + small_w] = _as_mask(small_mask)
    return canvas, canvas_mask


def shear(image, mask, factor: float):
    """Vertical shear about the centre column: y' = y + factor·(x − W/2)."""
    width = mask.shape[1]
    return _affine(image, mask, np.float32([[1, 0, 0], [factor, 1, -factor * width / 2]]))


def elastic(image, mask, alpha: float, sigma: float, rng: np.random.Generator):
    """Elastic deformation: a random field smoothed with `sigma`, scaled by `alpha`.

    Each displacement field is drawn as the original drew it, uniform noise
    of shape (H, W, 3) smoothed along all three axes, which scales it down
    about sevenfold at sigma 8 (so `alpah = 1300` moves pixels by a few, not
    dozens); its middle plane then moves every channel and the mask alike.
    """
    height, width = mask.shape[:2]
    dx, dy = (
        ndimage.gaussian_filter(rng.uniform(-1, 1, (height, width, 3)), sigma, mode="constant")[:, :, 1]
        * alpha
        for _ in range(2)
    )
    x, y = _grid(height, width)
    return _remap(image, mask, (x + dx).astype(np.float32), (y + dy).astype(np.float32), cv2.BORDER_REPLICATE)


def distort(image, mask, size: float, rsigma: float, rng: np.random.Generator):
    """A smooth random warp whose largest displacement is `size`·max(H, W) pixels."""
    height, width = mask.shape[:2]
    field = rng.standard_normal((height, width))
    limit = int(max(height, width) * size)
    dx = ndimage.gaussian_filter(field, rsigma, order=(0, 1))
    dy = ndimage.gaussian_filter(field, rsigma, order=(1, 0))
    # The original divided by the signed maximum, so displacements could
    # exceed the limit or flip sign; the largest magnitude is what is meant.
    dx *= limit / max(np.abs(dx).max(), 1e-12)
    dy *= limit / max(np.abs(dy).max(), 1e-12)
    x, y = _grid(height, width)
    return _remap(image, mask, (x - dx).astype(np.float32), (y - dy).astype(np.float32), fill=0)


def radial(image, mask, center: tuple[float, float], radius: float, amount: float):
    """Barrel (amount > 0) or pincushion (amount < 0) distortion in a disc.

    Inside the disc of radius `radius`·W about (`fx`·W, `fy`·H), a pixel at
    distance d samples the point at f·d from the centre, with
    f = sin(π·d / 2R)^amount; outside it, nothing moves.
    """
    height, width = mask.shape[:2]
    cx, cy, big_r = width * center[0], height * center[1], width * radius
    x, y = _grid(height, width)
    d = np.hypot(x - cx, y - cy)
    inside = (d < big_r) & (d > 0)
    factor = np.ones_like(d)
    factor[inside] = np.sin(np.pi * d[inside] / (2 * big_r)) ** amount
    map_x = (cx + factor * (x - cx)).astype(np.float32)
    map_y = (cy + factor * (y - cy)).astype(np.float32)
    return _remap(image, mask, map_x, map_y, fill=0)


def sharpening(image, mask, k: float):
    """The original's 3×3 sharpening, on the image only."""
    return _as_image(sharpen(image, k), image), mask


def brightening(image, mask, alpha: float, beta: float):
    """|alpha·v + beta|, saturated, on the image only."""
    return _as_image(cv2.convertScaleAbs(image, alpha=alpha, beta=beta), image), mask
