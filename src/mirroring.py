"""Test-time mirroring (`[infer] mirror`): a prediction averaged with those of the mirrored inputs."""

import warnings
from typing import Callable

import numpy as np

from ConfigParser import ConfigParser, ConfigWarning

# left-right, up-down, both (nnU-Net's 2-D mirroring), over (N, H, W, C) batches
AXES = ((2,), (1,), (1, 2))


def mirrored(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """The mean of `predict(x)` and of `predict` on each mirroring of x, mirrored back (4 passes)."""
    out = np.array(predict(x), np.float32)
    for axes in AXES:
        out += np.flip(np.asarray(predict(np.flip(x, axes)), np.float32), axes)
    return out / 4


def warn_if_untrained(config: ConfigParser, section: str = ConfigParser.INFER) -> None:
    """Warns, naming the keys, when `[<section>] mirror` averages over flips the model never trained on.

    A model trained without flips sees a mirrored abdomen as an unknown picture and predicts little
    there; averaged in, its near-zero maps shrink every mask (NIH Pancreas-CT, docs/accuracy.md:
    per-volume Dice 0.61 without mirroring, 0.20 with it).
    """
    if not config.get(section, "mirror"):
        return
    get = config.get
    if not get(ConfigParser.MODEL, "generator"):
        why = "[model] generator = False (no online augmentation)"
    elif not get(ConfigParser.GENERATOR, "augmentation"):
        why = "[generator] augmentation = False"
    elif not (get(ConfigParser.AUGMENTOR, "hflip") and get(ConfigParser.AUGMENTOR, "vflip")):
        why = "[augmentor] hflip and vflip are not both True"
    else:
        return
    warnings.warn(f"{config.where(section, 'mirror')}: [{section}] mirror = True averages each prediction "
                  f"with those of the left-right and top-bottom mirrored image, but training saw no such flips "
                  f"({why}): on anatomy that is not mirror-symmetric this lowers Dice; set mirror = False, or "
                  "train with both flips", ConfigWarning, stacklevel=3)
