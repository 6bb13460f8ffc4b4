"""Saves the model whenever `val_loss` improves, atomically.

Keras's ModelCheckpoint writes in place, so a kill during a save leaves a
truncated best model; this callback writes a temporary file and renames it.
Its `best` is part of the resumable state (TrainingState), so a resumed run
does not overwrite the best model with a worse one, and it writes the file
only once the epoch is committed (`after_commit`): a kill in between is
repaired on restart from the committed weights, which are that epoch's.
"""

import math
import os

import keras

from atomic import atomic_path
from TensorflowModelLoader import weights_view

WEIGHTS_FILE = "best_model.weights.h5"
MODEL_FILE = "best_model.keras"


def checkpoint_path(model_dir: str, save_weights_only: bool) -> str:
    """`best_model.weights.h5` (weights only) or `best_model.keras` (full model).

    The original wrote `best_model.h5` for both. Keras 3 refuses weights
    alone under a plain `.h5` name, and a full model in legacy `.h5` loads
    but cannot be trained further (its optimizer state does not restore),
    while `.keras` round-trips completely. The evaluator and inferencer find
    either name from the default `[train] best_model_file = "best_model.h5"`.
    """
    return os.path.join(model_dir, WEIGHTS_FILE if save_weights_only else MODEL_FILE)


class BestModelCheckpoint(keras.callbacks.Callback):
    """Keeps the model of the epoch with the lowest `val_loss`.

    Args:
        path: the file to write (see `checkpoint_path`).
        save_weights_only: write weights only, else the full model.
        monitor: the log key to minimise. Defaults to "val_loss".
    """

    def __init__(self, path: str, save_weights_only: bool, monitor: str = "val_loss"):
        super().__init__()
        self.path = path
        self.save_weights_only = save_weights_only
        self.monitor = monitor
        self.best = math.inf
        self.pending = False  # the model improved; its file is not written yet

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None or not current < self.best:
            return
        print(
            f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
            f"{current:.5f}, saving model to {self.path}"
        )
        self.best = float(current)
        self.pending = True

    def get_state(self) -> dict:
        return {"best": self.best, "pending": self.pending}

    def set_state(self, state: dict) -> None:
        self.best = state.get("best", self.best)
        self.pending = state.get("pending", self.pending)

    def after_commit(self, state) -> None:
        """Writes the model of the improved epoch from the committed weights (TrainingState calls it)."""
        if not self.pending:
            return
        model = state.files_model
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with atomic_path(self.path, fsync=True) as tmp:
            if self.save_weights_only:
                weights_view(model).save_weights(tmp)
            else:
                model.save(tmp)
        self.pending = False
