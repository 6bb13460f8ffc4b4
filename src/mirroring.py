"""Test-time mirroring (`[infer] mirror`): a prediction averaged with those of the mirrored inputs."""

from typing import Callable

import numpy as np

# left-right, up-down, both (nnU-Net's 2-D mirroring), over (N, H, W, C) batches
AXES = ((2,), (1,), (1, 2))


def mirrored(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """The mean of `predict(x)` and of `predict` on each mirroring of x, mirrored back (4 passes)."""
    out = np.array(predict(x), np.float32)
    for axes in AXES:
        out += np.flip(np.asarray(predict(np.flip(x, axes)), np.float32), axes)
    return out / 4
