"""`[train] lr_schedule` and `warmup_epochs`: the learning rate as a function of the epoch.

For epoch e (0-based) of E = `[train] epochs`, with base = `[model] learning_rate`
and W = `[train] warmup_epochs`:

    warmup, e < W:   base · (e + 1) / (W + 1)          (linear, reaching base at e = W)
    after, e >= W:   t = (e − W) / (E − W)             (0 at the first epoch after warmup)
        "poly":      base · (1 − t)^0.9                (nnU-Net's polynomial decay)
        "cosine":    base · 0.5 · (1 + cos(π t))       (cosine annealing, no restarts)
        None:        base                              (warmup, then the constant rate)

t never reaches 1 (the last epoch has t = (E − W − 1)/(E − W)), so no epoch trains
at rate 0. The rate is a pure function of the epoch: a resumed run sets the same
rate its uninterrupted twin would have, with no state to save. It depends on E,
so raising `epochs` to extend a finished run stretches the schedule: the
remaining epochs follow the new E's curve, not the old one's.
"""

import math

import keras

SCHEDULES = ("poly", "cosine")
POLY_EXPONENT = 0.9


def scheduled_rate(epoch: int, epochs: int, base: float, schedule: str | None, warmup: int = 0) -> float:
    """The learning rate of 0-based `epoch` of `epochs` (see the module docstring)."""
    if schedule is not None and schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: one of {', '.join(SCHEDULES)} or None")
    if not 0 <= warmup < epochs:
        raise ValueError(f"warmup {warmup} must be at least 0 and less than epochs {epochs}")
    if not 0 <= epoch < epochs:
        raise ValueError(f"epoch {epoch} is not one of the {epochs} epochs (0-based)")
    if epoch < warmup:
        return base * (epoch + 1) / (warmup + 1)
    t = (epoch - warmup) / (epochs - warmup)
    if schedule == "poly":
        return base * (1.0 - t) ** POLY_EXPONENT
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * t))
    return base


class LearningRateSchedule(keras.callbacks.Callback):
    """Sets the optimizer's rate at every epoch start; logs it as `learning_rate` at the end.

    Put it before the callbacks that read the logs (TrainingState, TensorBoard),
    which then record the rate each epoch trained with (the key Keras's
    ReduceLROnPlateau logs; history.json writes it as the original's `lr`).

    Args:
        epochs: `[train] epochs`.
        base: `[model] learning_rate`.
        schedule: "poly", "cosine", or None (warmup, then constant).
        warmup: `[train] warmup_epochs`.
    """

    def __init__(self, epochs: int, base: float, schedule: str | None, warmup: int = 0):
        super().__init__()
        scheduled_rate(0, epochs, base, schedule, warmup)  # the arguments checked now
        self.epochs = epochs
        self.base = base
        self.schedule = schedule
        self.warmup = warmup

    def rate(self, epoch: int) -> float:
        return scheduled_rate(epoch, self.epochs, self.base, self.schedule, self.warmup)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.rate(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
