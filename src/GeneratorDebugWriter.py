"""Writes what the augmented stream fed the model, for a researcher to look at.

With `[generator] debug = True` (the original's default) the pairs of the
first 10 batches go to `[generator] generated_images_dir` and
`generated_masks_dir` as `<prefix><file name>` (masks 0/255, or class k as
k·(255 // (num_classes − 1)); the original's variant prefixes, as ImageMaskAugmentor names them,
e.g. `rotated_30_10003_21.jpg`; the unaugmented image keeps its name), and
each sample adds a line `<n>_<image name>_<mask name>` (n: its place in
the batch) to `./generate_images.txt`. Folders are created, never emptied.
"""

import os
import threading

import cv2
import numpy as np

from atomic import write_image
from ConfigParser import ConfigParser
from mask_codecs import visible_scale

DEBUG_BATCHES = 10
LOG_FILE = "./generate_images.txt"


class GeneratorDebugWriter:
    """Saves the first samples of the stream; safe to call from several threads.

    Args:
        config: the parsed config (`[generator]` keys).
        batch_size: samples per batch.
        rgb: whether the images are RGB (`ImagePreprocessor.outputs_rgb`), to
            be written in OpenCV's BGR order.
        first_sample: the stream's first sample number (non-zero on resume).
    """

    def __init__(self, config: ConfigParser, batch_size: int, rgb: bool, first_sample: int = 0):
        get = config.get
        self.rgb = rgb
        self.images_dir = get(ConfigParser.GENERATOR, "generated_images_dir")
        self.masks_dir = get(ConfigParser.GENERATOR, "generated_masks_dir")
        self.verbose = bool(get(ConfigParser.GENERATOR, "verbose"))
        self.batch_size = batch_size
        self.mask_scale = visible_scale(get(ConfigParser.MODEL, "num_classes"))
        self.first, self.last = first_sample, first_sample + DEBUG_BATCHES * batch_size
        self._lock = threading.Lock()
        os.makedirs(self.images_dir, exist_ok=True)
        os.makedirs(self.masks_dir, exist_ok=True)
        open(LOG_FILE, "w").close()  # a log of this run, as the original rewrote it

    def wants(self, sample: int) -> bool:
        return self.first <= sample < self.last

    def write(self, sample: int, prefix: str, image: np.ndarray, mask: np.ndarray,
              image_path: str, mask_path: str) -> None:
        image_name, mask_name = os.path.basename(image_path), os.path.basename(mask_path)
        picture = image if image.dtype == np.uint8 else np.clip(image * 255, 0, 255).astype(np.uint8)
        if self.rgb:
            picture = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
        for folder, name, array in ((self.images_dir, image_name, picture),
                                    (self.masks_dir, mask_name, (mask * self.mask_scale).astype(np.uint8))):
            target = os.path.join(folder, prefix + name)
            write_image(target, array)
            if self.verbose:
                print(f"=== Saved {target}")
        with self._lock, open(LOG_FILE, "a") as log:
            log.write(f"{(sample - self.first) % self.batch_size}_{image_name}_{mask_name}\n")
