"""Trains the model a config describes: `1.train` (see [train] in docs/config.md; docs/differences.md, T1–T13).

Usage: python TensorflowUNetTrainer.py [CONFIG] [--print-config] [--quiet] [--debug]
(CONFIG defaults to ./train_eval_infer.config)

Writes the best model into `[train] model_dir`, the curves into `eval_dir`,
`./history.json`, and per-epoch previews when `epoch_change_infer = True` (tiled ones with
`epoch_change_tiledinfer = True`).
A killed or interrupted run continues where it stopped when started again
with the same config; previous results are moved aside, never deleted.
"""

import os
import shutil
import sys
import time
import warnings
from typing import NamedTuple

import keras

import resolved_config
import run_folders
from atomic import remove_leftovers
from BestModelCheckpoint import BestModelCheckpoint, checkpoint_path
from cli import run
from ConfigParser import ConfigParser, ConfigWarning, load_config
from data_pipeline import AugmentedPairReader, PairReader, make_dataset, make_stream, reraise_data_errors
from DatasetDebugWriter import DatasetDebugWriter
from EpochChangeCallback import BREAK_FILE, EpochChangeCallback
from EpochChangeInferencer import EpochChangeInferencer
from EpochChangeTiledInferencer import EpochChangeTiledInferencer
from GeneratorDebugWriter import GeneratorDebugWriter
from ImageMaskAugmentor import ImageMaskAugmentor
from ImageMaskDataset import ImageMaskDataset
from ModelRegistry import check_model, create_model
from SeedResetCallback import SeedResetCallback
from StopOnInterrupt import StopOnInterrupt
from TrainingState import TrainingState
from volume_ids import split_by_volume

HISTORY_FILE = "./history.json"
# Config entries that do not change what is trained (see training_settings).
NOT_TRAINING_SECTIONS = ("test", "infer", "tiledinfer", "segmentation", "inspect")
NOT_TRAINING_KEYS = {
    ("model", "show_summary"), ("model", "evaluation"),
    ("train", "epochs"), ("train", "resume"), ("train", "tensorboard"), ("train", "create_backup"),
    ("train", "epoch_change_infer"), ("train", "epoch_change_infer_dir"), ("train", "num_infer_images"),
    ("train", "epoch_change_tiledinfer"), ("train", "epoch_change_tiledinfer_dir"),
    ("train", "best_model_file"), ("train", "save_model_file"), ("train", "show_history"),
    ("eval", "batch_size"), ("eval", "output_dir"),
    ("dataset", "debug"), ("dataset", "debug_max"),
    ("generator", "debug"), ("generator", "verbose"),
    ("generator", "generated_images_dir"), ("generator", "generated_masks_dir"),
}


class TrainingData(NamedTuple):
    train: object  # tf.data.Dataset
    valid: object
    steps: int | None  # steps per epoch; None: one pass
    validation_steps: int | None
    readers: tuple


class TensorflowUNetTrainer:
    """Trains per `[train]`; each `create_*` method builds one part.

    Args:
        config: a parsed `ConfigParser` or the path of a config file.
    """

    def __init__(self, config):
        self.config: ConfigParser = load_config(config)
        get = self.config.get
        T = ConfigParser.TRAIN
        self.epochs = self.config.require(T, "epochs")
        self.batch_size = self.config.require(T, "batch_size")
        self.model_dir = self.config.require(T, "model_dir")
        self.eval_dir = self.config.require(T, "eval_dir")
        self.seed = get(T, "seed")
        self.patience = get(T, "patience")
        self.epoch_change_infer = bool(get(T, "epoch_change_infer"))
        self.preview_dir = get(T, "epoch_change_infer_dir")
        self.epoch_change_tiledinfer = bool(get(T, "epoch_change_tiledinfer"))
        self.preview_dirs = [self.preview_dir] + (
            [get(T, "epoch_change_tiledinfer_dir")] if self.epoch_change_tiledinfer else [])
        self.generator_mode = bool(get(ConfigParser.MODEL, "generator"))
        self.state_dir = os.path.join(self.model_dir, "resume")
        self.settings = self.training_settings()

    # === Run ===

    def train(self) -> None:
        print("==== train")
        keras.utils.set_random_seed(self.seed)
        dataset, train_pairs, valid_pairs, augmentor = self.check_inputs()
        if self.config.get(ConfigParser.DATASET, "debug"):
            DatasetDebugWriter(self.config, dataset).write(train_pairs)
        model = create_model(self.config).model
        state, callbacks = self.create_callbacks(model)
        # Everything this run reads is checked; only now are earlier results moved aside.
        initial_epoch = self.restore(state, model, callbacks) if self.prepare_run_folders() else 0
        data = self.create_datasets(dataset, train_pairs, valid_pairs, augmentor, initial_epoch)
        stop = StopOnInterrupt()
        try:
            with reraise_data_errors(*data.readers), stop:
                model.fit(
                    data.train,
                    validation_data=data.valid,
                    epochs=self.epochs,
                    initial_epoch=initial_epoch,
                    steps_per_epoch=data.steps,
                    validation_steps=data.validation_steps,
                    callbacks=callbacks + [stop],
                    shuffle=False,  # the datasets order themselves
                    verbose=1 if sys.stdout.isatty() else 2,
                )
        except KeyboardInterrupt:
            self.say_how_to_resume(state)
            raise
        self.finish(state, initial_epoch)
        if not state.document["finished"] and (stop.requested or os.path.exists(BREAK_FILE)):
            self.say_how_to_resume(state)
            if stop.requested:
                raise KeyboardInterrupt

    def check_inputs(self):
        """Checks every file and setting this run will read, before it starts."""
        check_model(self.config)
        if self.config.get(ConfigParser.INFER, "mask_colorize"):
            self.config.require(ConfigParser.INFER, "colorized_dir")  # 3.infer will need it: say so now
        dataset = ImageMaskDataset(self.config)
        train_pairs, valid_pairs = self.create_splits(dataset)
        started = time.perf_counter()
        dataset.check_split(train_pairs, ConfigParser.TRAIN, need_foreground=True)
        dataset.check_split(valid_pairs, ConfigParser.EVAL)
        print(f"=== Checked {len(train_pairs)} training and {len(valid_pairs)} validation image/mask "
              f"pairs in {time.perf_counter() - started:.1f} s")
        augmentor = None
        if self.generator_mode:
            augmentor = ImageMaskAugmentor(self.config)
            augmentor.check()
        self.warn_about_later_steps(dataset)
        return dataset, train_pairs, valid_pairs, augmentor

    def warn_about_later_steps(self, dataset: ImageMaskDataset) -> None:
        """One warning per folder that only 2.evaluate or 3.infer will read."""
        section = self.config.get(ConfigParser.MODEL, "evaluation")
        if not dataset.exists(section):
            warnings.warn(f"{self.config.path}: [{section}] image_datapath/mask_datapath do not name "
                          "existing folders; 2.evaluate will need them", ConfigWarning, stacklevel=2)
        images_dir = self.config.get(ConfigParser.INFER, "images_dir")
        if not self.epoch_change_infer and not (images_dir and os.path.isdir(images_dir)):
            warnings.warn(f"{self.config.where(ConfigParser.INFER, 'images_dir')}: [infer] images_dir "
                          f"{images_dir} does not exist; 3.infer will need it", ConfigWarning, stacklevel=2)

    def say_how_to_resume(self, state: TrainingState) -> None:
        extra = f" (delete {BREAK_FILE} first)" if os.path.exists(BREAK_FILE) else ""
        print(f"\n=== Stopped. The state after epoch {state.epochs_done} of {self.epochs} is saved "
              f"in {state.path}; run the same command again to resume{extra}.", flush=True)

    def restore(self, state: TrainingState, model: keras.Model, callbacks: list) -> int:
        initial_epoch = state.restore(model)
        state.document["finished"] = False  # it goes on, possibly for more epochs
        print(f"Resuming after epoch {initial_epoch} of {self.epochs} from {state.path}")
        for callback in callbacks:
            if isinstance(callback, EpochChangeInferencer):
                callback.catch_up(initial_epoch)
        return initial_epoch

    def finish(self, state: TrainingState, initial_epoch: int) -> None:
        if initial_epoch >= self.epochs and not state.document["finished"]:
            state.document["finished"] = "epochs"  # resumed with fewer epochs than done
            state.commit()
        if state.document["finished"] == "early_stopping":
            print(f"=== Stopped early after epoch {state.epochs_done}; best model in {self.model_dir}")
        elif state.document["finished"]:
            print(f"=== Finished {state.epochs_done} epochs; best model in {self.model_dir}")
        print(f"=== Saved {HISTORY_FILE}")

    # === Parts ===

    def training_settings(self) -> dict[str, str]:
        """The config's values that decide what is trained, by "[section] key".

        A run resumes only when these are unchanged; editing anything else
        (the test or inference folders, `epochs` to train longer, ...) keeps
        the run resumable.
        """
        return {
            f"[{section}] {key}": repr(value)
            for section, values in sorted(self.config.to_dict().items())
            if section not in NOT_TRAINING_SECTIONS
            for key, value in sorted(values.items())
            if (section, key) not in NOT_TRAINING_KEYS
        }

    def prepare_run_folders(self) -> bool:
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

    def create_splits(self, dataset: ImageMaskDataset):
        """Training pairs, and validation pairs from `[eval]` or held-out volumes."""
        train_pairs = dataset.pairs(ConfigParser.TRAIN)
        if dataset.exists(ConfigParser.EVAL):
            return train_pairs, dataset.pairs(ConfigParser.EVAL)
        for key in ("image_datapath", "mask_datapath"):
            folder = self.config.get(ConfigParser.EVAL, key)
            if folder is not None and not os.path.isdir(folder):
                warnings.warn(f"{self.config.where(ConfigParser.EVAL, key)}: [eval] {key} {folder} does not "
                              "exist, so validation holds out training volumes", ConfigWarning, stacklevel=2)
        return split_by_volume(train_pairs)

    def create_datasets(self, dataset, train_pairs, valid_pairs, augmentor, initial_epoch) -> TrainingData:
        """Training and validation streams, and the steps of an epoch.

        Without `[model] generator`, an epoch is one shuffled pass over the
        training pairs. With it, an epoch is `steps_per_epoch` batches of the
        endless augmented stream, and validation `validation_steps` batches
        of `[eval]`, unaugmented, repeated as needed.
        """
        valid_reader = PairReader(dataset)
        valid = make_dataset(valid_pairs, valid_reader, self.batch_size)
        if not self.generator_mode:
            reader = PairReader(dataset)
            train = make_dataset(train_pairs, reader, self.batch_size, shuffle=True, seed=self.seed)
            return TrainingData(train, valid, None, None, (reader, valid_reader))
        get = self.config.get
        steps = get(ConfigParser.TRAIN, "steps_per_epoch")
        first_sample = initial_epoch * steps * self.batch_size
        debug = None
        if get(ConfigParser.GENERATOR, "debug"):
            debug = GeneratorDebugWriter(self.config, self.batch_size, dataset.preprocessor.outputs_rgb, first_sample)
        reader = AugmentedPairReader(
            dataset, train_pairs, augmentor, self.seed,
            augment=bool(get(ConfigParser.GENERATOR, "augmentation")), debug_writer=debug,
        )
        return TrainingData(
            make_stream(reader, self.batch_size, first_sample),
            valid.repeat(),
            steps,
            get(ConfigParser.TRAIN, "validation_steps"),
            (reader, valid_reader),
        )

    def create_callbacks(self, model: keras.Model) -> tuple[TrainingState, list]:
        """The run's state and the callbacks, in the order their epoch ends run.

        The tracked callbacks update first, then TrainingState commits, then
        the curves and previews are written from what was committed.
        """
        T = ConfigParser.TRAIN
        get = self.config.get
        save_weights_only = bool(get(T, "save_weights_only"))
        tracked = [BestModelCheckpoint(checkpoint_path(self.model_dir, save_weights_only), save_weights_only)]
        if get(T, "learning_rate_reducer"):
            reducer_patience = get(T, "reducer_patience")
            tracked.append(
                keras.callbacks.ReduceLROnPlateau(
                    monitor="val_loss",
                    factor=get(T, "reducer_factor"),
                    patience=reducer_patience,
                    min_lr=0.0,
                )
            )
        if self.patience > 0:
            tracked.append(keras.callbacks.EarlyStopping(patience=self.patience, verbose=1))
        state = TrainingState(self.state_dir, self.settings, tracked)
        callbacks = tracked + [state]
        if get(T, "tensorboard"):
            callbacks.insert(0, keras.callbacks.TensorBoard(log_dir=os.path.join(self.eval_dir, "tensorboard")))
        if get(T, "seedreset_callback"):
            # First, so that nothing of an epoch draws a random number before the reseed.
            callbacks.insert(0, SeedResetCallback(self.seed))
        metrics = get(T, "metrics")
        callbacks.append(EpochChangeCallback(self.eval_dir, metrics, state, HISTORY_FILE))
        if self.epoch_change_infer:
            callbacks.append(EpochChangeInferencer(model, self.config))
        if self.epoch_change_tiledinfer:
            callbacks.append(EpochChangeTiledInferencer(model, self.config))
        return state, callbacks


def main(argv: list[str]) -> int:
    return run(lambda config: TensorflowUNetTrainer(config).train(), argv, "TensorflowUNetTrainer.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
