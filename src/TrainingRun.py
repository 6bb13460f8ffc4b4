"""The life of one training run in its folders: one owner from lock to last line.

It holds the run's lock (one trainer per `model_dir`), decides whether to
resume or start afresh (run_folders), moves earlier results aside, copies
and resolves the config, restores the committed state (TrainingState) and,
under `multi_worker`, broadcasts it from the chief, and says at the end how
the run ended and how to resume it. Only the chief touches files; the other
workers may run in folders of their own.
"""

import os
import shutil

import keras

import resolved_config
import run_folders
from atomic import remove_leftovers
from ConfigParser import ConfigParser
from EpochChangeCallback import BREAK_FILE
from run_lock import RunLock
from TrainingState import TrainingState

HISTORY_FILE = "./history.json"
# Config entries that do not change what is trained (see training_settings).
NOT_TRAINING_SECTIONS = ("test", "infer", "tiledinfer", "segmentation", "inspect")
NOT_TRAINING_KEYS = {
    ("model", "show_summary"), ("model", "evaluation"),
    ("train", "epochs"), ("train", "resume"), ("train", "tensorboard"), ("train", "create_backup"),
    ("train", "epoch_change_infer"), ("train", "epoch_change_infer_dir"), ("train", "num_infer_images"),
    ("train", "epoch_change_tiledinfer"), ("train", "epoch_change_tiledinfer_dir"),
    ("train", "best_model_file"), ("train", "save_model_file"), ("train", "show_history"),
    # Where and how fast it trains, not what: a run may resume on other devices.
    ("train", "strategy"), ("train", "cpu_devices"), ("train", "jit_compile"), ("train", "cache"),
    ("eval", "batch_size"), ("eval", "output_dir"),
    ("dataset", "debug"), ("dataset", "debug_max"),
    ("generator", "debug"), ("generator", "verbose"),
    ("generator", "generated_images_dir"), ("generator", "generated_masks_dir"),
}


def training_settings(config: ConfigParser) -> dict[str, str]:
    """The config's values that decide what is trained, by "[section] key".

    A run resumes only when these are unchanged; editing anything else (the
    test or inference folders, `epochs` to train longer, ...) keeps the run
    resumable.
    """
    return {
        f"[{section}] {key}": repr(value)
        for section, values in sorted(config.to_dict().items())
        if section not in NOT_TRAINING_SECTIONS
        for key, value in sorted(values.items())
        if (section, key) not in NOT_TRAINING_KEYS
    }


class TrainingRun:
    """Owns the folders and the committed state of one run.

    Use as a context manager around the run (it holds the lock on the chief).

    Args:
        config: the parsed config.
        placement: where the run trains (distribute.Placement).
        preview_dirs: the folders of the per-epoch previews.
    """

    def __init__(self, config: ConfigParser, placement, preview_dirs: list[str]):
        self.config = config
        self.placement = placement
        self.epochs = config.require(ConfigParser.TRAIN, "epochs")
        self.model_dir = config.require(ConfigParser.TRAIN, "model_dir")
        self.eval_dir = config.require(ConfigParser.TRAIN, "eval_dir")
        self.preview_dirs = list(preview_dirs)
        self.state_dir = os.path.join(self.model_dir, "resume")
        self.settings = training_settings(config)
        self._lock = RunLock(self.model_dir) if placement.is_chief else None

    def __enter__(self):
        if self._lock is not None:
            self._lock.acquire()
        return self

    def __exit__(self, *exc):
        if self._lock is not None:
            self._lock.release()
        return False

    def state(self, tracked: list, derived: list, files_model: keras.Model | None = None) -> TrainingState:
        """The run's TrainingState; it writes on the chief only."""
        return TrainingState(self.state_dir, self.settings, tracked, derived,
                             writes=self.placement.is_chief, files_model=files_model)

    def begin(self, state: TrainingState, model: keras.Model) -> int:
        """Resumes the earlier run or starts afresh; returns the epoch to start at.

        Everything the run reads must be checked before this: only now are
        earlier results moved aside.
        """
        state.set_model(model)
        if self.prepare_folders() if self.placement.is_chief else False:
            state.restore(state.files_model)
        if self.placement.workers > 1:
            self._broadcast(state, model)
        if not state.epochs_done:
            return 0
        state.document["finished"] = False  # it goes on, possibly for more epochs
        print(f"Resuming after epoch {state.epochs_done} of {self.epochs} from {state.path}")
        return state.epochs_done

    def _broadcast(self, state: TrainingState, model: keras.Model) -> None:
        """The chief's committed document, weights and optimizer state on every worker."""
        import distributed_fit

        strategy = self.placement.strategy
        chief = self.placement.is_chief
        state.document = distributed_fit.broadcast_json(strategy, state.document, chief)
        if not state.epochs_done:
            return  # a fresh run: the strategy broadcast the initial weights
        if not model.optimizer.built:
            with strategy.scope():
                model.optimizer.build(model.trainable_variables)
        variables = list(model.weights) + list(model.optimizer.variables)
        source = state.files_model  # the chief's plain copy, restored; elsewhere the model itself
        mine = [v.numpy() for v in list(source.weights) + list(source.optimizer.variables)]
        for variable, value in zip(variables, distributed_fit.broadcast_arrays(strategy, mine, chief), strict=True):
            variable.assign(value)

    def prepare_folders(self) -> bool:
        """True to resume the previous run; else moves its results aside."""
        allowed = self.config.get(ConfigParser.TRAIN, "resume") is not False
        document = run_folders.read_state(self.state_dir)
        resume, reason = run_folders.should_resume(document, self.settings, self.epochs, allowed)
        config_copy = os.path.join(self.model_dir, os.path.basename(self.config.path))
        if resume:
            for folder in (self.state_dir, self.model_dir, self.eval_dir, *self.preview_dirs, "."):
                remove_leftovers(folder)
        elif run_folders.move_aside(
            [self.model_dir, self.eval_dir, *self.preview_dirs, HISTORY_FILE],
            keep=[config_copy, os.path.join(self.model_dir, resolved_config.FILE_NAME)],
        ):
            print(f"=== Starting afresh: {reason}")
        os.makedirs(self.model_dir, exist_ok=True)
        if os.path.isfile(self.config.path) and not (
            os.path.exists(config_copy) and os.path.samefile(self.config.path, config_copy)
        ):
            shutil.copy2(self.config.path, config_copy)
            print(f"-- Copied {self.config.path} to {self.model_dir}")
        print(f"-- Wrote {resolved_config.write(self.config, self.model_dir)}")
        return resume

    def finish(self, state: TrainingState, initial_epoch: int) -> None:
        if not self.placement.is_chief:
            return
        if initial_epoch >= self.epochs and not state.document["finished"]:
            state.document["finished"] = "epochs"  # resumed with fewer epochs than done
            state.commit()
        if state.document["finished"] == "early_stopping":
            print(f"=== Stopped early after epoch {state.epochs_done}; best model in {self.model_dir}")
        elif state.document["finished"]:
            print(f"=== Finished {state.epochs_done} epochs; best model in {self.model_dir}")
        print(f"=== Saved {HISTORY_FILE}")

    def say_how_to_resume(self, state: TrainingState) -> None:
        if not self.placement.is_chief:
            return
        extra = f" (delete {BREAK_FILE} first)" if os.path.exists(BREAK_FILE) else ""
        print(f"\n=== Stopped. The state after epoch {state.epochs_done} of {self.epochs} is saved "
              f"in {state.path}; run the same command again to resume{extra}.", flush=True)

