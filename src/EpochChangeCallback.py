"""Training curves after every epoch: the original's CSVs, plots and history.

Writes into `eval_dir` (the original's formats; docs/differences.md, T4–T6):
  train_losses.csv   `epoch, loss, val_loss`, rows `0, 0.4479, 0.4543`
  train_metrics.csv  `epoch,<m0>,<m1>,` (trailing comma), rows as above,
                     where [m0, m1] is `[train] metrics`
  train_losses.png, train_metrics.png (LineGraph)
and `./history.json`: a JSON string holding the repr of the history dict,
with Keras 3's `learning_rate` written as the original's `lr`.

Every file is rewritten from the committed logs of all finished epochs
(TrainingState), atomically, so a crash or a resume never duplicates or
loses a row. A file named `./break_training` stops training after the
current epoch, as in the original; the run can then be resumed.
"""

import json
import os
import warnings

import keras
import numpy as np

from atomic import write_text
from errors import OutputWarning
from LineGraph import LineGraph
from TrainingState import TrainingState

BREAK_FILE = "./break_training"


def metric_value(logs: dict[str, list[float]], name: str, fallback: str, epoch: int) -> float:
    """A logged value, else the original's fallback key, else 0."""
    for key in (name, fallback):
        if key in logs and epoch < len(logs[key]):
            return logs[key][epoch]
    return 0.0


def _original_order(key: str) -> tuple[int, int]:
    """loss, metrics, val_loss, val_metrics, lr: the order Keras 2 logged."""
    validation = key.startswith("val_")
    base = key.removeprefix("val_")
    if key == "learning_rate":
        return (2, 0)
    return (int(validation), 0 if base == "loss" else 1)


def history_text(history: dict[str, list[float]]) -> str:
    """The original's history.json content for a history dict."""
    renamed = {}
    for key in sorted(history, key=_original_order):
        values = history[key]
        if key == "learning_rate":
            # float32 values, printed at their shortest as NumPy 1 did.
            renamed["lr"] = [float(str(np.float32(v))) for v in values]
        else:
            renamed[key] = list(values)
    return json.dumps(str(renamed))


class EpochChangeCallback(keras.callbacks.Callback):
    """Writes the curves of a run after each epoch.

    Args:
        eval_dir: folder of the CSVs and plots (created if needed).
        metrics: the two log keys of `train_metrics.csv`.
        history_path: where history.json goes. Defaults to "./history.json".

    The run's TrainingState hands itself over in `after_commit`: the curves are
    written from its committed logs.
    """

    def __init__(self, eval_dir: str, metrics: list[str], history_path: str = "./history.json"):
        super().__init__()
        self.eval_dir = eval_dir
        self.metrics = list(metrics)
        self.state: TrainingState | None = None
        self.history_path = history_path
        self.plotter = LineGraph()

    def after_commit(self, state: TrainingState) -> None:
        """Rewrites the curves from the committed logs (after each epoch, and after a
        restore, which repairs files left an epoch behind by a crash)."""
        self.state = state
        if state.epochs_done:
            self.write()

    def on_epoch_end(self, epoch, logs=None):
        if os.path.exists(BREAK_FILE):
            print(f"----- Found {BREAK_FILE}: stopping after epoch {epoch + 1}; "
                  "run the same command again to resume")
            self.model.stop_training = True

    def write(self) -> None:
        os.makedirs(self.eval_dir, exist_ok=True)
        history = self.state.history
        epochs = range(self.state.epochs_done)
        m0, m1 = self.metrics
        losses = ["epoch, loss, val_loss"] + [
            f"{e}, {metric_value(history, 'loss', 'loss', e):.4f}, "
            f"{metric_value(history, 'val_loss', 'val_loss', e):.4f}"
            for e in epochs
        ]
        metrics = [f"epoch,{m0},{m1},"] + [
            f"{e}, {metric_value(history, m0, 'acc', e):.4f}, "
            f"{metric_value(history, m1, 'val_acc', e):.4f}"
            for e in epochs
        ]
        try:
            for name, lines in (("train_losses", losses), ("train_metrics", metrics)):
                path = os.path.join(self.eval_dir, name + ".csv")
                write_text(path, "\n".join(lines) + "\n")
                self.plotter.plot(path)
            write_text(self.history_path, history_text(history))
        except OSError as e:
            # E.g. a CSV open in a spreadsheet on Windows: everything is
            # rewritten from the saved state after the next epoch.
            warnings.warn(f"could not update the training curves ({e}); they are rewritten "
                          "after the next epoch", OutputWarning, stacklevel=2)
