"""A resumable training state, committed atomically at every epoch end.

One file, `<model_dir>/resume/state.weights.h5`, holds everything a restart
needs: the model's weights and the optimizer's variables (Keras
`save_weights`), and a JSON document with the number of completed epochs,
every epoch's logs, the state of the callbacks that count epochs
(EarlyStopping and ReduceLROnPlateau `wait`/`best`/`cooldown`, the best
checkpoint's `best`), the training settings of the config, and whether the
run has finished. It is written under a temporary name and renamed over the
previous one, so a kill at any moment leaves either the previous epoch's
state or this one's.

Two small protocols connect the callbacks to it:
- `get_state() -> dict` / `set_state(dict)` (and a `state_key`): the progress a
  callback carries from epoch to epoch (EarlyStopping's `wait`, the best
  checkpoint's `best`, ...), saved in the document and restored on resume;
- `after_commit(state)`: files derived from the committed state (the best
  model, the curves, the previews) are brought up to date after every commit,
  and again after a restore, in case a kill came in between.

Keras's BackupAndRestore keeps weights, optimizer and epoch but neither the
callbacks' state nor the logs, and writes in place; hence this callback."""

import json
import os

import h5py
import keras

from atomic import atomic_path

STATE_FILE = "state.weights.h5"
_DOCUMENT = "toolkit_state"



def plain(value):
    """JSON-friendly copies of numbers Keras may hold as NumPy scalars."""
    return value if value is None or isinstance(value, (bool, int, str)) else float(value)


def state_key(callback) -> str:
    return getattr(callback, "state_key", type(callback).__name__)


def copy_training_state(source: keras.Model, target: keras.Model) -> None:
    """Copies weights and optimizer variables (a distributed model into the chief's plain copy)."""
    target.set_weights(source.get_weights())
    if not target.optimizer.built:
        target.optimizer.build(target.trainable_variables)
    for mine, theirs in zip(target.optimizer.variables, source.optimizer.variables, strict=True):
        mine.assign(theirs.numpy())


class TrainingState(keras.callbacks.Callback):
    """Keeps and commits the logs and progress of one training run.

    Put it after every callback it tracks, so that its `on_train_begin`
    restores their state after they reset it, and its `on_epoch_end` saves
    their state after they updated it.

    Args:
        folder: where the state file lives (created if needed).
        settings: the config's training settings, to tell a run from another.
        tracked: callbacks with `get_state`/`set_state`, saved and restored.
        derived: callbacks with `after_commit(state)`, run after each commit.
        writes: False on the workers that are not the chief: they keep the
            document (for the tracked callbacks) but write nothing.
        files_model: the model whose weights are saved, when not the trained
            one (under multi_worker, the chief's plain copy; see
            copy_training_state).
    """

    def __init__(self, folder: str, settings: dict, tracked: list, derived: list = (), writes: bool = True,
                 files_model: keras.Model | None = None):
        super().__init__()
        self.path = os.path.join(folder, STATE_FILE)
        self.settings = settings
        self.tracked = [c for c in tracked if hasattr(c, "get_state")]
        self.derived = [c for c in derived if hasattr(c, "after_commit")]
        self.writes = writes
        self._files_model = files_model
        # finished: False, "epochs" (all done) or "early_stopping".
        self.document = {"epochs_done": 0, "history": {}, "callbacks": {}, "finished": False}

    @property
    def epochs_done(self) -> int:
        return self.document["epochs_done"]

    @property
    def history(self) -> dict[str, list[float]]:
        return self.document["history"]

    @property
    def files_model(self) -> keras.Model:
        return self.model if self._files_model is None else self._files_model

    @staticmethod
    def read(folder: str) -> dict | None:
        """The saved document of a run, or None when there is none."""
        path = os.path.join(folder, STATE_FILE)
        if not os.path.isfile(path):
            return None
        with h5py.File(path, "r") as f:
            return json.loads(f[_DOCUMENT][()].decode())

    def restore(self, model: keras.Model) -> int:
        """Loads weights, optimizer and logs; returns the epoch to start at."""
        self.document = self.read(os.path.dirname(self.path))
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(self.path)
        return self.epochs_done

    def on_train_begin(self, logs=None):
        for callback in self.tracked:
            callback.set_state(self.document["callbacks"].get(state_key(callback), {}))
        self._after_commit()

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.document["epochs_done"] = epoch + 1
        self.document["callbacks"] = {
            state_key(c): {name: plain(value) for name, value in c.get_state().items()} for c in self.tracked
        }
        # Only the callbacks before this one (EarlyStopping) may have asked to
        # stop; the "finished" mark is committed with the epoch itself.
        if epoch + 1 >= (self.params or {}).get("epochs", float("inf")):
            self.document["finished"] = "epochs"
        elif self.model.stop_training:
            self.document["finished"] = "early_stopping"
        self.commit()
        self._after_commit()

    def _after_commit(self) -> None:
        if not self.writes:
            return
        for callback in self.derived:
            callback.after_commit(self)

    def commit(self) -> None:
        """Writes weights, optimizer and document in one atomic step (the chief only)."""
        if not self.writes:
            return
        if self._files_model is not None:
            copy_training_state(self.model, self._files_model)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.document["settings"] = self.settings
        with atomic_path(self.path, fsync=True) as tmp:
            self.files_model.save_weights(tmp)
            with h5py.File(tmp, "a") as f:
                f.create_dataset(_DOCUMENT, data=json.dumps(self.document).encode())
