"""Ctrl-C during training: finish the epoch, save it, stop; press again to stop at once.

The first SIGINT only asks for a stop. At the end of the current epoch, once
TrainingState has committed it (put this callback after TrainingState), the
callback stops training, so the run resumes after that epoch. A second
SIGINT raises KeyboardInterrupt at once; the last committed epoch is kept.
"""

import signal
import threading

import keras


class StopOnInterrupt(keras.callbacks.Callback):
    """Turns Ctrl-C into a stop at the next epoch end.

    Use it as a context manager around `fit`, which installs the handler
    (main thread only) and restores the previous one afterwards.
    """

    def __init__(self):
        super().__init__()
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\n=== Ctrl-C: stopping when this epoch ends and is saved (Ctrl-C again to stop now)",
              flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.requested:
            self.model.stop_training = True
