"""Writes the training pairs as the model sees them, for a researcher to look
at: `[dataset] debug = True` (docs/differences.md, D14).

The first `[dataset] debug_max` (default 50) training pairs, in sorted
order, go to `./dataset_images/<image name>` and `./dataset_masks/<stem>.png`
after all preprocessing, at model size. Masks are scaled to be visible:
class k is written as k·(255 // (num_classes - 1)), so binary masks are
0/255. The original wrote every pair, and the mask's pixel sum rather than
the mask; folders are created, never emptied. A `.npy` channel stack is
written as `<stem>.png`, its centre channel (slice n of a `--context` stack).
"""

import os

import cv2
import numpy as np

from atomic import write_image
from ConfigParser import ConfigParser
from ImageMaskDataset import ImageMaskDataset
from mask_codecs import visible_scale

IMAGES_DIR = "./dataset_images"
MASKS_DIR = "./dataset_masks"


class DatasetDebugWriter:
    """Saves the first training pairs, preprocessed, as image files.

    Args:
        config: the parsed config (`[dataset] debug_max`, `[model] num_classes`).
        dataset: the dataset that reads the pairs for training.

    Example:
        DatasetDebugWriter(config, dataset).write(train_pairs)
    """

    def __init__(self, config: ConfigParser, dataset: ImageMaskDataset):
        self.dataset = dataset
        self.limit = config.get(ConfigParser.DATASET, "debug_max")
        num_classes = config.get(ConfigParser.MODEL, "num_classes")
        self.mask_scale = visible_scale(num_classes)

    def write(self, pairs: list[tuple[str, str]]) -> int:
        """Writes the first `debug_max` of `pairs` (sorted); returns how many."""
        chosen = sorted(pairs)[: self.limit]
        os.makedirs(IMAGES_DIR, exist_ok=True)
        os.makedirs(MASKS_DIR, exist_ok=True)
        for image_path, mask_path in chosen:
            image, mask = self.dataset.read_pair(image_path, mask_path)
            name = os.path.basename(image_path)
            if name.lower().endswith(".npy"):
                name = os.path.splitext(name)[0] + ".png"
            write_image(os.path.join(IMAGES_DIR, name), self._picture(image))
            mask_picture = (mask * self.mask_scale).astype(np.uint8)
            write_image(os.path.join(MASKS_DIR, os.path.splitext(name)[0] + ".png"), mask_picture)
        print(f"=== [dataset] debug: wrote {len(chosen)} training image/mask pairs to {IMAGES_DIR} and {MASKS_DIR}")
        return len(chosen)

    def _picture(self, image: np.ndarray) -> np.ndarray:
        """The model's input as an OpenCV (BGR, uint8) image."""
        if self.dataset.preprocessor.zscore:  # z-scored: stretched to 0-255 to be seen
            low, high = float(image.min()), float(image.max())
            image = np.rint((image - low) * (255 / (high - low) if high > low else 0)).astype(np.uint8)
        elif image.dtype != np.uint8:
            # `image_normalize` divided by 255; rounding undoes it exactly.
            image = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
        if self.dataset.preprocessor.outputs_rgb:
            image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if image.shape[2] not in (1, 3):  # a channel stack: its centre slice
            image = image[..., image.shape[2] // 2]
        return image
