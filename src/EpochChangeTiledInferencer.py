"""Tiled predictions of a few images after every epoch (see [train] epoch_change_tiledinfer in
docs/config.md): `Epoch_<n>_<file name>` (n from 1, the input's extension kept) for the first
`[train] num_infer_images` images (sorted) of `[tiledinfer] images_dir`, written to
`[train] epoch_change_tiledinfer_dir` by the same TiledInferencer as `4.tiled_infer`.
"""

import keras

from ConfigParser import ConfigParser
from EpochChangeInferencer import EpochChangeInferencer
from TiledInferencer import TiledInferencer, tiled_previews


class EpochChangeTiledInferencer(EpochChangeInferencer):
    """Per-epoch tiled previews with the live model (resumes redraw a missed epoch, as
    EpochChangeInferencer)."""

    @staticmethod
    def build(model: keras.Model, config: ConfigParser) -> TiledInferencer:
        return TiledInferencer(model, config, tiled_previews(config))
