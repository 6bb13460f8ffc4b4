"""Tiled inference: large images predicted window by window at native resolution
(see [tiledinfer] in docs/config.md; docs/differences.md, TI1–TI8).

An Inferencer whose `predict` cuts each image, after the same
ImagePreprocessor steps as whole-image inference, into `split_size` tiles with
`overlapping` pixels of context on each side (tiling.py), predicts the
windows in batches, and blends them ("paste" or "gaussian"). With
`bitwise_blending` the mosaic is combined with the whole-image prediction by
a pixel-wise minimum (a logical AND of the binarised masks). Outputs keep the
input's file name, format and size.
"""

import numpy as np

import tiling
from ConfigParser import ConfigParser
from errors import DataError
from ImagePreprocessor import is_stack_file, zscore_stats
from Inferencer import Inferencer, Target, existing_dir, keep_stem
from progress import progress

TILE_BATCH = 8  # windows per model call: a few MB at 256 px, whatever the image's size


def tiled_target(config: ConfigParser) -> Target:
    """`4.tiled_infer`'s: `[tiledinfer] images_dir` → `output_dir` (+ `merged_dir`), input names kept."""
    return Target(
        images_dir=existing_dir(config, ConfigParser.TILEDINFER),
        output_dir=config.require(ConfigParser.TILEDINFER, "output_dir"),
        merged_dir=config.get(ConfigParser.TILEDINFER, "merged_dir"),
        naming=keep_stem,
        extension=None,
    )


def tiled_previews(config: ConfigParser) -> Target:
    """The per-epoch tiled previews': the first `[train] num_infer_images` of `[tiledinfer] images_dir`
    as `Epoch_<n>_<file name>` in `[train] epoch_change_tiledinfer_dir`."""
    return Target.previews(config, ConfigParser.TILEDINFER, "epoch_change_tiledinfer_dir", extension=None)


class TiledInferencer(Inferencer):
    """Writes tiled predictions of the images of `[tiledinfer] images_dir`.

    Args:
        model: the Keras model.
        config: the parsed config.
        target: default `tiled_target(config)`; `tiled_previews(config)` for per-epoch previews.
    """

    section = ConfigParser.TILEDINFER
    batch_size = 1  # one large image and its full-size maps at a time; its windows are batched instead

    def __init__(self, model, config: ConfigParser, target: Target | None = None):
        get = config.get
        self.split = get(ConfigParser.TILEDINFER, "split_size")
        self.margin = get(ConfigParser.TILEDINFER, "overlapping")
        self.bitwise = bool(get(ConfigParser.TILEDINFER, "bitwise_blending"))
        self.blending = get(ConfigParser.TILEDINFER, "blending")
        self.background = get(ConfigParser.TILEDINFER, "background")
        super().__init__(model, config, target or tiled_target(config))
        stacks = [path for path in self.files() if is_stack_file(path)] if self.target.images_dir else []
        if stacks:  # its masks keep the input's extension: a .npy "mask" would be nobody's file
            raise DataError(f"{stacks[0]}: tiled inference reads pictures, not .npy channel stacks; "
                            "predict stacks with 3.infer ([infer] images_dir)")

    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Probability maps at each image's own size: tiles blended, then ANDed with the whole-image map."""
        return [self.predict_one(image) for image in images]

    def predict_one(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        adjusted = self.preprocessor.adjust(image)  # colour order, [image] steps: as whole-image inference
        if adjusted.ndim == 2:
            adjusted = adjusted[..., np.newaxis]
        # z-scored by the whole image's mean and SD, as training saw whole images, not by each tile's
        stats = zscore_stats(adjusted) if self.preprocessor.zscore else None
        size = self.split + 2 * self.margin
        tiles = tiling.grid(height, width, self.split, self.margin)
        mosaic = None
        starts = range(0, len(tiles), TILE_BATCH)
        for start in progress(starts, len(tiles), "windows", self.target.verbose, step=TILE_BATCH):
            batch = tiles[start : start + TILE_BATCH]
            x = np.stack([
                self.preprocessor.finish(self.preprocessor.resize(
                    tiling.window(adjusted, tile, size, self.background)), stats)
                for tile in batch
            ])
            if len(tiles) > TILE_BATCH and len(batch) < TILE_BATCH:
                # One batch shape per run: a short last batch would make Keras retrace its predict function.
                x = np.concatenate([x, np.zeros((TILE_BATCH - len(batch),) + x.shape[1:], x.dtype)])
            for tile, prediction in zip(batch, self.predict_arrays(x)):
                if mosaic is None:
                    mosaic = tiling.Mosaic(height, width, prediction.shape[-1], self.split, self.margin,
                                           self.blending)
                mosaic.add(tile, tiling.resize_map(prediction, size, size))
        del adjusted
        tiled = mosaic.result()
        del mosaic  # its Gaussian weight sums, a float per pixel, are not needed for the whole-image pass
        if self.bitwise:
            whole = super().predict([image])[0]
            np.minimum(tiled, tiling.resize_map(whole, width, height), out=tiled)
        return tiled
