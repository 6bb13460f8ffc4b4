"""Reseeds every random generator at the start of each epoch, with
`[train] seedreset_callback = True` (docs/differences.md, T13).

The original meant this but never ran it: creating it raised
AttributeError, and its `on_epoch_begin` assigned integers to `random.seed`
and `np.random.seed` instead of calling them. Here Python's `random`, NumPy
and TensorFlow are all reseeded, so every epoch starts from the same
random state (the same dropout masks, for one).
"""

import keras


class SeedResetCallback(keras.callbacks.Callback):
    """Calls `keras.utils.set_random_seed(seed)` before each epoch.

    Args:
        seed: the seed for Python's `random`, NumPy and TensorFlow; an
            integer from 0 to 2**32 - 1.

    Example:
        model.fit(x, y, epochs=3, callbacks=[SeedResetCallback(137)])
    """

    def __init__(self, seed: int):
        super().__init__()
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            raise ValueError(f"seed must be an integer from 0 to 2**32 - 1. Received: seed={seed!r}")
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        keras.utils.set_random_seed(self.seed)
