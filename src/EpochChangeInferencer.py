"""Predicts a few images after every epoch, so a researcher can watch the
masks form (see [train] epoch_change_infer in docs/config.md): `Epoch_<n>_<stem>.jpg`
(n from 1; `.png` in class colours for N > 1 classes) for the first
`[train] num_infer_images` images (sorted) of `[infer] images_dir`, written
to `[train] epoch_change_infer_dir` by the same Inferencer as `3.infer`.
"""

import os
import warnings

import keras

from ConfigParser import ConfigParser
from errors import OutputWarning
from ImagePreprocessor import read_file
from Inferencer import Inferencer, Target


class EpochChangeInferencer(keras.callbacks.Callback):
    """Per-epoch mask previews with the live model.

    Args:
        model: the model being trained.
        config: the parsed config.
    """

    def __init__(self, model: keras.Model, config: ConfigParser):
        super().__init__()
        self.inferencer = self.build(model, config)
        for path in self.inferencer.files():
            read_file(path)  # a broken preview image fails now, not after epoch 1

    @staticmethod
    def build(model: keras.Model, config: ConfigParser) -> Inferencer:
        """The Inferencer of the previews (EpochChangeTiledInferencer builds a tiled one)."""
        return Inferencer(model, config, Target.previews(config))

    def after_commit(self, state) -> None:
        """Draws the committed epoch's previews (TrainingState calls it after each commit, and
        after a restore, where it redraws the previews a crash left out: the restored weights are
        that epoch's)."""
        epoch = state.epochs_done - 1
        if epoch < 0 or self._previews_exist(epoch):
            return
        try:
            self.inferencer.infer(epoch)
        except OSError as e:
            warnings.warn(f"could not write the previews of epoch {epoch + 1} ({e})", OutputWarning, stacklevel=2)

    def _previews_exist(self, epoch: int) -> bool:
        return all(os.path.exists(self.inferencer.output_path(f, epoch)) for f in self.inferencer.files())
