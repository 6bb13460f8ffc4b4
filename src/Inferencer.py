"""Predicts masks for a folder of images (docs/differences.md, D8, I3–I8), for the inference script
and for the per-epoch previews of training alike.

The one seam is `Inferencer.predict(images) -> probability maps`: how a
mask is predicted. Which images, where their masks go and under which names
is a `Target`; how a probability map becomes files is `PredictionWriter`.
Tiled inference (`TiledInferencer`) overrides `predict` only.

Whole-image prediction reads each image exactly as training does
(ImagePreprocessor; a `.npy` channel stack as a stack, its centre channel
as the picture of overlays), predicts in batches, optionally averages mirrored
predictions (`[infer] mirror`, new), and Gaussian-blurs the map (`[infer]
blur`, `ksize`). Folders are created if needed and never emptied; same-name
files are replaced atomically.
"""

import os
from dataclasses import dataclass, field, replace
from typing import Callable

import cv2
import numpy as np

from ConfigParser import ConfigParser
from errors import DataError
from ImageMaskDataset import list_images
from ImagePreprocessor import ImagePreprocessor, is_stack_file, read_image, stack_picture
from mirroring import mirrored, warn_if_untrained
from PredictionWriter import PredictionWriter
from progress import progress
from TensorflowModel import first_output


def keep_stem(path: str, epoch: int | None) -> str:
    """`<stem>`: the input's file name without its extension."""
    return os.path.splitext(os.path.basename(path))[0]


def epoch_stem(path: str, epoch: int | None) -> str:
    """`Epoch_<n>_<stem>`, n counted from 1: the per-epoch previews' names."""
    return f"Epoch_{epoch + 1}_{keep_stem(path, epoch)}"


@dataclass(frozen=True)
class Target:
    """What an Inferencer predicts and where it writes.

    Attributes:
        images_dir: the input folder (None: no images, only `predict` is used).
        output_dir: the masks' folder.
        merged_dir: overlays of mask on image (input's file name), or None.
        colorized_dir: pictures in class colours (`<name>.png`), or None.
        first: predict only the first `first` images by name (previews), or all.
        naming: `(input path, epoch or None) -> output name without extension`.
        extension: of one-class masks; None keeps the input's own (tiled inference).
        pictures: N-class masks as pictures in class colours rather than label maps.
        verbose: print what is written.
    """

    images_dir: str | None
    output_dir: str
    merged_dir: str | None = None
    colorized_dir: str | None = None
    first: int | None = None
    naming: Callable[[str, int | None], str] = field(default=keep_stem)
    extension: str | None = ".jpg"
    pictures: bool = False
    verbose: bool = True

    @classmethod
    def infer(cls, config: ConfigParser) -> "Target":
        """`3.infer`'s: `[infer] images_dir` → `output_dir`, `merged_dir`, `colorized_dir`.

        `images_dir` is None when only `[infer] volumes_dir` is set (VolumeInferencer predicts then).
        """
        colorized = None
        if config.get(ConfigParser.INFER, "mask_colorize"):
            colorized = config.require(ConfigParser.INFER, "colorized_dir")
        images_dir = None
        if config.get(ConfigParser.INFER, "images_dir") is not None or config.get(
                ConfigParser.INFER, "volumes_dir") is None:
            images_dir = existing_dir(config, ConfigParser.INFER)
        return cls(
            images_dir=images_dir,
            output_dir=config.require(ConfigParser.INFER, "output_dir"),
            merged_dir=config.get(ConfigParser.INFER, "merged_dir"),
            colorized_dir=colorized,
        )

    @classmethod
    def previews(cls, config: ConfigParser, section: str = ConfigParser.INFER,
                 folder_key: str = "epoch_change_infer_dir", extension: str | None = ".jpg") -> "Target":
        """The per-epoch previews': the first `[train] num_infer_images` of `[<section>] images_dir`,
        as `Epoch_<n>_<stem>` in `[train] <folder_key>`, quietly and without overlays (tiled
        previews: section "tiledinfer", `epoch_change_tiledinfer_dir`, the input's extension)."""
        return cls(
            images_dir=existing_dir(config, section),
            output_dir=config.get(ConfigParser.TRAIN, folder_key),
            first=config.get(ConfigParser.TRAIN, "num_infer_images"),
            naming=epoch_stem,
            extension=extension,
            pictures=True,
            verbose=False,
        )

    def quiet(self) -> "Target":
        return replace(self, verbose=False)


def existing_dir(config: ConfigParser, section: str) -> str:
    folder = config.require(section, "images_dir")
    if not os.path.isdir(folder):
        raise config.error(section, "images_dir", f"{folder} does not exist")
    return folder


class Inferencer:
    """Writes predicted masks for the images of a `Target`.

    Args:
        model: the Keras model to predict with (output 0 of a multi-output one).
        config: the parsed config.
        target: what to predict and where; default `Target.infer(config)`.
    """

    section = ConfigParser.INFER  # of the keys that change how masks are predicted and written
    batch_size = 4  # images read and predicted together

    def __init__(self, model, config: ConfigParser, target: Target | None = None):
        self.model = first_output(model)
        self.target = target or Target.infer(config)
        self.output_dir = self.target.output_dir
        self.preprocessor = ImagePreprocessor(config)
        self.num_classes = config.get(ConfigParser.MODEL, "num_classes")
        self.mirror = bool(config.get(self.section, "mirror"))
        if self.mirror:
            warn_if_untrained(config, self.section)
        self.blur = bool(config.get(ConfigParser.INFER, "blur")) and self.section == ConfigParser.INFER
        self.ksize = tuple(config.get(ConfigParser.INFER, "ksize"))
        if self.blur and not all(k % 2 for k in self.ksize):
            raise config.error(ConfigParser.INFER, "ksize", "Gaussian kernel sizes must be odd")
        self.writer = PredictionWriter(config, self.target, self.section)
        self._files = None
        if self.target.images_dir is not None:  # None: volumes only, predicted through `predict`
            self.files()  # fails now, not after the first epoch, if there is nothing to read

    def files(self) -> list[str]:
        """The images to predict, sorted by name (listed once)."""
        if self._files is None:
            files = list(list_images(self.target.images_dir).values())
            if not files:
                raise DataError(f"[{self.section}] images_dir {self.target.images_dir} holds no images")
            if self.target.first is not None:
                files = files[: max(1, min(self.target.first, len(files)))]
            self._files = files
        return self._files

    def output_path(self, path: str, epoch: int | None = None) -> str:
        """Where the mask of input `path` is written."""
        return self.writer.output_path(path, epoch)

    def infer(self, epoch: int | None = None) -> list[str]:
        """Predicts every image; returns the paths of the written masks."""
        files = self.files()
        self.writer.make_folders()
        if self.target.verbose:
            print(f"=== {type(self).__name__}.infer start: {len(files)} images from {self.target.images_dir}")
        written = []
        batches = range(0, len(files), self.batch_size)
        for start in progress(batches, len(files), "images", self.target.verbose, step=self.batch_size):
            batch = files[start : start + self.batch_size]
            inputs = [read_image(path) for path in batch]  # pictures as BGR, .npy stacks as stored
            images = [stack_picture(x) if is_stack_file(path) else x for path, x in zip(batch, inputs)]
            for path, image, prediction in zip(batch, images, self.predict_files(batch, inputs)):
                if self.blur:
                    prediction = cv2.GaussianBlur(prediction, self.ksize, 0)
                    if prediction.ndim == 2:
                        prediction = prediction[..., np.newaxis]
                written.append(self.writer.write(path, image, prediction, epoch))
        return written

    def predict_files(self, paths: list[str], inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Probability maps of files read by `read_image`: `predict` on pictures; `.npy` channel
        stacks as the stacks they are (training reads them so), not as their picture."""
        if not any(is_stack_file(path) for path in paths):
            return self.predict(inputs)
        x = np.stack([self.preprocessor.prepare_stack(x, path) if is_stack_file(path)
                      else self.preprocessor.prepare(x) for path, x in zip(paths, inputs)])
        return list(self.predict_arrays(x))

    def predict_stacks(self, stacks: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
        """Probability maps of (H, W, C) channel stacks, as training reads `.npy` stacks; `names`
        say in an error which stack it was."""
        x = np.stack([self.preprocessor.prepare_stack(stack, name) for stack, name in zip(stacks, names)])
        return list(self.predict_arrays(x))

    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Probability maps (H, W, num_classes) of decoded BGR images, any sizes.

        The whole-image way: each image is preprocessed to the model's size
        and all are predicted as one batch; the maps are at the model's size
        (the writer resizes them to each image's own).
        """
        x = np.stack([self.preprocessor.prepare(image) for image in images])
        return list(self.predict_arrays(x))

    def predict_arrays(self, x: np.ndarray) -> np.ndarray:
        """The model on a batch of model-sized arrays, averaged over mirrorings when `mirror`."""
        return mirrored(self._predict_on_batch, x) if self.mirror else self._predict_on_batch(x)

    def _predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """`predict_on_batch`, a short last batch padded to `batch_size`: another batch shape traces the
        step again (0.8 s of a 48-image epoch's previews, measured by benchmarks/train_throughput.py)."""
        count = len(x)
        if count < self.batch_size:
            x = np.concatenate([x, np.zeros((self.batch_size - count, *x.shape[1:]), x.dtype)])
        return np.asarray(self.model.predict_on_batch(x), np.float32)[:count]
