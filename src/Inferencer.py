"""Predicts masks for a folder of images (docs/differences.md, D8, I3–I8), for the inference script
and for the per-epoch previews of training alike.

Each image is read exactly as in training (ImagePreprocessor), predicted in
small batches, optionally Gaussian-blurred (`[infer] blur`, `ksize`), and
written at the image's own size. One class: GrayScaleImageWriter writes
`<output_dir>/<stem>.jpg`, the soft probability map unless `[infer]
binarize` (new) applies `threshold`/`algorithm`, colourised per
`[segmentation]`. N > 1 classes: `<output_dir>/<stem>.png` holds the most
likely class 0…N−1 (MaskColorizedWriter), and per-epoch previews are
pictures in class colours. `[infer] mask_colorize = True` also writes
`<colorized_dir>/<stem>.png` in class colours (one class: the
`[segmentation]` ramp). With `[infer] merged_dir`, the mask picture is also
overlaid on the input (saturating addition) under the input's file name.
Folders are created if needed and never emptied; same-name files are
replaced atomically.
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
from errors import DataError
from GrayScaleImageWriter import GrayScaleImageWriter
from ImageMaskDataset import list_images
from ImagePreprocessor import ImagePreprocessor, read_file
from MaskColorizedWriter import MaskColorizedWriter
from TensorflowModel import first_output

BATCH_SIZE = 4


class Inferencer:
    """Writes predicted masks for the images of `[infer] images_dir`.

    Args:
        model: the Keras model to predict with.
        config: the parsed config.
        on_epoch_change: preview mode: the first `[train] num_infer_images`
            images, written to `[train] epoch_change_infer_dir` as
            `Epoch_<n>_<stem>.jpg` (`.png` in class colours for N > 1 classes),
            quietly and without overlays.
    """

    def __init__(self, model, config: ConfigParser, on_epoch_change: bool = False):
        self.model = first_output(model)
        self.on_epoch_change = on_epoch_change
        self._previews = None
        get = config.get
        self.images_dir = config.require(ConfigParser.INFER, "images_dir")
        if not os.path.isdir(self.images_dir):
            raise config.error(ConfigParser.INFER, "images_dir", f"{self.images_dir} does not exist")
        if on_epoch_change:
            self.output_dir = get(ConfigParser.TRAIN, "epoch_change_infer_dir")
            self.merged_dir = None
        else:
            self.output_dir = config.require(ConfigParser.INFER, "output_dir")
            self.merged_dir = get(ConfigParser.INFER, "merged_dir")
        self.num_images = get(ConfigParser.TRAIN, "num_infer_images")
        self.blur = bool(get(ConfigParser.INFER, "blur"))
        self.ksize = tuple(get(ConfigParser.INFER, "ksize"))
        if self.blur and not all(k % 2 for k in self.ksize):
            raise config.error(ConfigParser.INFER, "ksize", "Gaussian kernel sizes must be odd")
        self.preprocessor = ImagePreprocessor(config)
        self.num_classes = get(ConfigParser.MODEL, "num_classes")
        self.writer = GrayScaleImageWriter(
            colorize=bool(get(ConfigParser.SEGMENTATION, "colorize")),
            black=_colour(config, "black"),
            white=_colour(config, "white"),
            threshold=self._thresholding(config),
            verbose=not on_epoch_change,
        )
        self.colorizer = MaskColorizedWriter(config, self.writer, verbose=not on_epoch_change)
        self.colorized_dir = None
        if get(ConfigParser.INFER, "mask_colorize") and not on_epoch_change:
            self.colorized_dir = config.require(ConfigParser.INFER, "colorized_dir")
        self._warn_about_one_class_keys(config)
        self.files()  # fails now, not after the first epoch, if there is nothing to read

    def files(self) -> list[str]:
        """The images to predict, sorted by name (listed once for previews)."""
        if self.on_epoch_change and self._previews is not None:
            return self._previews
        files = list(list_images(self.images_dir).values())
        if not files:
            raise DataError(f"[infer] images_dir {self.images_dir} holds no images")
        if self.on_epoch_change:
            files = self._previews = files[: max(1, min(self.num_images, len(files)))]
        return files

    def output_name(self, path: str, epoch: int | None) -> str:
        stem = os.path.splitext(os.path.basename(path))[0]
        return f"Epoch_{epoch + 1}_{stem}" if self.on_epoch_change else stem

    def output_path(self, path: str, epoch: int | None) -> str:
        """Where the mask of input `path` is written."""
        extension = ".jpg" if self.num_classes == 1 else ".png"
        return os.path.join(self.output_dir, self.output_name(path, epoch) + extension)

    def infer(self, epoch: int | None = None) -> list[str]:
        """Predicts every image; returns the paths of the written masks."""
        files = self.files()
        for folder in (self.output_dir, self.merged_dir, self.colorized_dir):
            if folder:
                os.makedirs(folder, exist_ok=True)
        if not self.on_epoch_change:
            print(f"=== Inferencer.infer start: {len(files)} images from {self.images_dir}")
        written = []
        for start in range(0, len(files), BATCH_SIZE):
            batch = files[start : start + BATCH_SIZE]
            read = [self.preprocessor.read(path) for path in batch]
            x = np.stack([image for image, _ in read]).astype(np.float32)
            predictions = np.asarray(self.model.predict_on_batch(x))
            for path, (_, (height, width)), prediction in zip(batch, read, predictions):
                written.append(self._write(path, prediction, (width, height), epoch))
        return written

    def _write(self, path: str, prediction: np.ndarray, size: tuple[int, int], epoch) -> str:
        if self.blur:
            prediction = cv2.GaussianBlur(prediction, self.ksize, 0)
        name = self.output_name(path, epoch)
        if self.num_classes == 1:
            picture = self.writer.save_resized(prediction, size, self.output_dir, name)
        elif self.on_epoch_change:
            picture = self.colorizer.save_colorized(prediction, size, self.output_dir, name)
        else:
            self.colorizer.save_labels(prediction, size, self.output_dir, name)
            picture = self.colorizer.picture(prediction, size)
        if self.colorized_dir:
            self.colorizer.save_colorized(prediction, size, self.colorized_dir, name)
        if self.merged_dir:
            self._merge(path, picture)
        return self.output_path(path, epoch)

    def _merge(self, path: str, mask_rgb: np.ndarray) -> None:
        image = read_file(path)  # BGR, 3 channels
        merged = cv2.add(image, cv2.cvtColor(mask_rgb, cv2.COLOR_RGB2BGR))
        target = os.path.join(self.merged_dir, os.path.basename(path))
        write_image(target, merged)
        print(f"=== Saved {target}")

    def _warn_about_one_class_keys(self, config: ConfigParser) -> None:
        """Keys that only change one-class masks are named when N classes make them idle."""
        if self.num_classes == 1 or self.on_epoch_change:
            return
        for section, key, instead in (
            (ConfigParser.INFER, "binarize", "N-class masks are written as their most likely class"),
            (ConfigParser.SEGMENTATION, "colorize", "for N classes set [infer] mask_colorize = True and "
                                                    "colorized_dir to get pictures in class colours"),
        ):
            if config.get(section, key):
                warnings.warn(f"{config.where(section, key)}: [{section}] {key} = True changes one-class masks "
                              f"only: {instead}", ConfigWarning, stacklevel=3)

    def _thresholding(self, config: ConfigParser):
        if not config.get(ConfigParser.INFER, "binarize"):
            return None
        algorithm = named_objects.lookup(config, ConfigParser.INFER, "algorithm", named_objects.THRESHOLDS)
        threshold = config.get(ConfigParser.INFER, "threshold")
        return lambda gray: binarize(gray, algorithm, threshold)


def _colour(config: ConfigParser, key: str):
    value = config.get(ConfigParser.SEGMENTATION, key)
    if isinstance(value, str):
        try:
            ImageColor.getrgb(value)
        except ValueError:
            raise config.error(ConfigParser.SEGMENTATION, key, "not a colour name PIL knows") from None
    return value
