"""Trains the model a config describes: `1.train` (see [train] in docs/config.md; docs/differences.md, T1–T20).

Usage: python TensorflowUNetTrainer.py [CONFIG] [--print-config] [--quiet] [--debug]
(CONFIG defaults to ./train_eval_infer.config)

Writes the best model into `[train] model_dir`, the curves into `eval_dir`,
`./history.json`, and per-epoch previews when `epoch_change_infer = True` (tiled ones with
`epoch_change_tiledinfer = True`).
A killed or interrupted run continues where it stopped when started again
with the same config; previous results are moved aside, never deleted.
"""

import hashlib
import math
import os
import sys
import time
import warnings
from typing import NamedTuple

import keras

import distribute
from BestModelCheckpoint import BestModelCheckpoint, checkpoint_path
from cli import run
from ConfigParser import ConfigParser, ConfigWarning, load_config
from data_pipeline import (
    AugmentedPairReader,
    EpochPairReader,
    PairReader,
    Shard,
    make_dataset,
    make_epochs,
    make_stream,
    reraise_data_errors,
)
from DatasetDebugWriter import DatasetDebugWriter
from EpochChangeCallback import BREAK_FILE, EpochChangeCallback
from EpochChangeInferencer import EpochChangeInferencer
from EpochChangeTiledInferencer import EpochChangeTiledInferencer
from errors import DataError
from GeneratorDebugWriter import GeneratorDebugWriter
from ImageMaskAugmentor import ImageMaskAugmentor
from ImageMaskDataset import ImageMaskDataset
from LearningRateSchedule import LearningRateSchedule
from ModelRegistry import check_model, create_model
from pair_cache import PairCache
from resumable_callbacks import EarlyStopping, ReduceLROnPlateau
from SeedResetCallback import SeedResetCallback
from StopOnInterrupt import StopOnInterrupt
from TrainingRun import HISTORY_FILE, TrainingRun
from TrainingState import TrainingState
from volume_ids import split_by_volume


class TrainingData(NamedTuple):
    train: object  # tf.data.Dataset, or a distributed one under multi_worker
    valid: object
    steps: int  # batches of an epoch
    validation_steps: int | None  # None: one pass over the validation pairs
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

    # === Run ===

    def train(self) -> None:
        print("==== train")
        placement = distribute.create_placement(self.config)  # before any other TensorFlow call
        placement.check_batch(self.config, self.batch_size)
        print(placement.describe(self.batch_size), flush=True)
        with distribute.precision(self.config):
            self.run(placement)

    def run(self, placement: distribute.Placement) -> None:
        with TrainingRun(self.config, placement, self.preview_dirs) as training_run:  # the lock first
            keras.utils.set_random_seed(self.seed)
            dataset, train_pairs, valid_pairs, augmentor = self.check_inputs()
            cache = self.create_cache(placement, dataset, train_pairs)  # refused now if it would not fit
            if placement.is_chief and self.config.get(ConfigParser.DATASET, "debug"):
                DatasetDebugWriter(self.config, dataset).write(train_pairs)
            model = create_model(self.config, placement.strategy).model
            # Under multi_worker the chief writes files and previews from a plain copy of the
            # model, so that no collective waits on them (built second: the seed draws the
            # trained model's initial weights as in a single process).
            files_model = create_model(self.config).model if placement.custom_loop and placement.is_chief else None
            state, callbacks = self.create_callbacks(training_run, model, files_model)
            initial_epoch = training_run.begin(state, model)
            data = self.create_datasets(dataset, train_pairs, valid_pairs, augmentor, initial_epoch, placement, cache)
            stop = StopOnInterrupt()
            try:
                with reraise_data_errors(*data.readers), stop:
                    self.fit(placement, model, data, initial_epoch, callbacks + [stop])
            except KeyboardInterrupt:
                training_run.say_how_to_resume(state)
                raise
            training_run.finish(state, initial_epoch)
            if not state.document["finished"] and (stop.requested or os.path.exists(BREAK_FILE)):
                training_run.say_how_to_resume(state)
                if stop.requested:
                    raise KeyboardInterrupt
        if placement.workers > 1:
            import distributed_fit

            distributed_fit.barrier(placement.strategy)  # no worker leaves before the chief has written

    def fit(self, placement, model: keras.Model, data: "TrainingData", initial_epoch: int, callbacks: list):
        verbose = 1 if sys.stdout.isatty() else 2
        if placement.custom_loop:
            import distributed_fit

            return distributed_fit.fit(model, placement.strategy, data.train, data.valid, self.epochs,
                                       initial_epoch, data.steps, data.validation_steps, callbacks, verbose)
        return model.fit(
            data.train,
            validation_data=data.valid,
            epochs=self.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=data.steps,
            validation_steps=data.validation_steps,
            callbacks=callbacks,
            shuffle=False,  # the datasets order themselves
            verbose=verbose,
        )

    def check_inputs(self):
        """Checks every file and setting this run will read, before it starts."""
        check_model(self.config)
        self.create_schedule()
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

    # === Parts ===

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

    def whole_batches(self, placement, pairs: list, what: str) -> int:
        """How many of `pairs` an epoch reads: all, or under multi_worker whole global batches only,
        so that every worker runs the same steps (the rest is said once)."""
        if placement.workers == 1 or self.generator_mode and what == "training":
            return len(pairs)
        length = len(pairs) // self.batch_size * self.batch_size
        if not length:
            raise DataError(f"{len(pairs)} {what} pairs are fewer than one global batch ([train] batch_size = "
                            f"{self.batch_size}) of [train] strategy = \"multi_worker\"")
        if length < len(pairs) and placement.is_chief:
            print(f"=== multi_worker: each epoch reads {length} of the {len(pairs)} {what} pairs (whole global "
                  f"batches, so every worker runs the same steps)")
        return length

    def create_datasets(self, dataset, train_pairs, valid_pairs, augmentor, initial_epoch,
                        placement: distribute.Placement | None = None, cache=None) -> TrainingData:
        """Training and validation streams, and the steps of an epoch.

        Without `[model] generator`, an epoch is one pass over the training
        pairs in that epoch's seeded order. With it, an epoch is
        `steps_per_epoch` batches of the endless augmented stream, and
        validation `validation_steps` batches of `[eval]`, unaugmented,
        repeated as needed. Under multi_worker each worker reads its shard
        (data_pipeline.Shard) at the per-replica batch. `cache`: see create_cache.
        """
        placement = placement or distribute.single_process()
        get = self.config.get
        batch = self.batch_size
        valid_length = self.whole_batches(placement, valid_pairs, "validation")
        train_length = self.whole_batches(placement, train_pairs, "training")
        valid_reader = PairReader(dataset)
        if self.generator_mode:
            steps = get(ConfigParser.TRAIN, "steps_per_epoch")
            validation_steps = get(ConfigParser.TRAIN, "validation_steps")
            first_sample = initial_epoch * steps * batch
            debug = None
            if get(ConfigParser.GENERATOR, "debug") and placement.is_chief:
                debug = GeneratorDebugWriter(self.config, batch, dataset.preprocessor.outputs_rgb, first_sample)
            reader = AugmentedPairReader(
                dataset, train_pairs, augmentor, self.seed,
                augment=bool(get(ConfigParser.GENERATOR, "augmentation")), debug_writer=debug, cache=cache,
            )
        else:
            steps = math.ceil(train_length / batch)
            validation_steps = None if placement.workers == 1 else valid_length // batch
            reader = EpochPairReader(dataset, train_pairs, self.seed, cache)

        def pipelines(shard: Shard, batch_size: int):
            if self.generator_mode:
                train = make_stream(reader, batch_size, first_sample, shard)
            else:
                train = make_epochs(reader, batch_size, initial_epoch, self.epochs, shard, train_length)
            valid = make_dataset(valid_pairs[:valid_length], valid_reader, batch_size, shard=shard)
            return train, valid.repeat() if self.generator_mode else valid

        if placement.custom_loop:
            def per_worker(which):
                def dataset_fn(context):
                    shard = Shard(context.input_pipeline_id, context.num_input_pipelines)
                    return pipelines(shard, context.get_per_replica_batch_size(batch))[which]
                return placement.strategy.distribute_datasets_from_function(dataset_fn)

            train, valid = per_worker(0), per_worker(1)
        else:
            train, valid = pipelines(Shard(), batch)
        return TrainingData(train, valid, steps, validation_steps, (reader, valid_reader))

    def create_cache(self, placement, dataset: ImageMaskDataset, train_pairs: list):
        """`[train] cache` over the training pairs (uint8, un-augmented), or None.

        A cache file is keyed by the pair list, each file's size and modification
        time, and every setting that changes how a pair is decoded, so a file made
        for other data is refused, never read as this data. Workers other than the
        chief keep their own file beside it.
        """
        setting = self.config.get(ConfigParser.TRAIN, "cache")
        if setting is False or setting is None:
            return None
        if isinstance(setting, str) and setting.strip().lower() != "memory" and not placement.is_chief:
            setting = f"{setting}.worker{placement.worker}"
        preprocessor = dataset.preprocessor
        decoding = {section: values for section, values in self.config.to_dict().items()
                    if section in ("dataset", "image", "mask")}
        files = [(path, os.stat(path).st_size, os.stat(path).st_mtime_ns) for pair in train_pairs for path in pair]
        key = hashlib.sha256(repr((files, decoding, preprocessor.height, preprocessor.width,
                                   preprocessor.channels)).encode()).hexdigest()
        shape = (preprocessor.height, preprocessor.width)
        return PairCache.create(setting, len(train_pairs), (*shape, preprocessor.channels), "uint8", (*shape, 1),
                                key, self.config.where(ConfigParser.TRAIN, "cache"))

    def create_schedule(self) -> LearningRateSchedule | None:
        """`[train] lr_schedule` and `warmup_epochs` as a callback, or None for the constant rate.

        Refused with `learning_rate_reducer = True`: the schedule sets the rate
        every epoch, so a reduction on plateau would last one epoch at most.
        """
        T = ConfigParser.TRAIN
        get = self.config.get
        schedule, warmup = get(T, "lr_schedule"), get(T, "warmup_epochs")
        if schedule is None and not warmup:
            return None
        key = "lr_schedule" if schedule is not None else "warmup_epochs"
        if get(T, "learning_rate_reducer"):
            raise self.config.error(T, key, "a scheduled learning rate cannot also be reduced on plateau by "
                                            "[train] learning_rate_reducer = True: unset one of them")
        if warmup >= self.epochs:
            raise self.config.error(T, "warmup_epochs", f"must be less than [train] epochs = {self.epochs}")
        return LearningRateSchedule(self.epochs, get(ConfigParser.MODEL, "learning_rate"), schedule, warmup)

    def create_callbacks(self, training_run: TrainingRun, model: keras.Model,
                         files_model: keras.Model | None = None) -> tuple[TrainingState, list]:
        """The run's state and the callbacks, in the order their epoch ends run.

        The learning-rate schedule (if any) first, then the tracked callbacks
        update, then TrainingState commits and brings the files derived from it
        up to date (the best model, the curves, the previews). Only the chief
        has writers.
        """
        T = ConfigParser.TRAIN
        get = self.config.get
        chief = training_run.placement.is_chief
        save_weights_only = bool(get(T, "save_weights_only"))
        checkpoint = BestModelCheckpoint(checkpoint_path(self.model_dir, save_weights_only), save_weights_only)
        tracked = [checkpoint]
        if get(T, "learning_rate_reducer"):
            tracked.append(ReduceLROnPlateau(
                monitor="val_loss", factor=get(T, "reducer_factor"), patience=get(T, "reducer_patience"), min_lr=0.0,
            ))
        if self.patience > 0:
            tracked.append(EarlyStopping(patience=self.patience, verbose=1 if chief else 0))
        derived = [checkpoint]
        callbacks = list(tracked)
        if chief:
            curves = EpochChangeCallback(self.eval_dir, get(T, "metrics"), HISTORY_FILE)
            preview_model = files_model or model
            derived.append(curves)
            if self.epoch_change_infer:
                derived.append(EpochChangeInferencer(preview_model, self.config))
            if self.epoch_change_tiledinfer:
                derived.append(EpochChangeTiledInferencer(preview_model, self.config))
        state = training_run.state(tracked, derived, files_model)
        callbacks.append(state)
        if chief:
            callbacks.append(curves)  # after the commit: it checks ./break_training
            if get(T, "tensorboard"):
                callbacks.insert(0, keras.callbacks.TensorBoard(log_dir=os.path.join(self.eval_dir, "tensorboard")))
        schedule = self.create_schedule()
        if schedule is not None:
            # Before every callback that reads the logs, so that they see the epoch's learning_rate.
            callbacks.insert(0, schedule)
        if get(T, "seedreset_callback"):
            # First, so that nothing of an epoch draws a random number before the reseed.
            callbacks.insert(0, SeedResetCallback(self.seed))
        return state, callbacks


def main(argv: list[str]) -> int:
    return run(lambda config: TensorflowUNetTrainer(config).train(), argv, "TensorflowUNetTrainer.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
