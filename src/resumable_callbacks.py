"""Keras's EarlyStopping and ReduceLROnPlateau with the state protocol of TrainingState.

Their progress (epochs without improvement, the best value, the cooldown)
lives in attributes that `on_train_begin` resets; these subclasses name
those attributes, so a resumed run stops and reduces the learning rate
exactly when the uninterrupted one would have.
"""

import keras


class _Resumable:
    STATE: tuple[str, ...] = ()

    def get_state(self) -> dict:
        return {name: getattr(self, name, None) for name in self.STATE}

    def set_state(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)


class EarlyStopping(_Resumable, keras.callbacks.EarlyStopping):
    state_key = "EarlyStopping"
    STATE = ("wait", "best", "stopped_epoch", "best_epoch")


class ReduceLROnPlateau(_Resumable, keras.callbacks.ReduceLROnPlateau):
    state_key = "ReduceLROnPlateau"
    STATE = ("wait", "best", "cooldown_counter")
