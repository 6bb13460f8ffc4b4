"""Test-time mirroring: the mirrored predictions come back in place, and a model never trained on flips
is named in a warning (docs/accuracy.md: NIH per-volume Dice 0.61 without mirroring, 0.20 with it)."""

import warnings

import numpy as np
import pytest
from conftest import config_text, small_model_section

from ConfigParser import ConfigParser, ConfigWarning
from mirroring import mirrored, warn_if_untrained


def test_mirrored_predictions_are_flipped_back_before_averaging():
    x = np.random.default_rng(0).random((2, 6, 5, 1)).astype(np.float32)
    np.testing.assert_allclose(mirrored(lambda batch: batch * 2, x), x * 2, rtol=0, atol=1e-6)
    # a model that only finds the top-left corner: mirrored, its other three passes find it elsewhere
    corner = mirrored(lambda batch: np.pad(np.ones((len(batch), 1, 1, 1)), ((0, 0), (0, 5), (0, 4), (0, 0))), x)
    assert corner[0, 0, 0, 0] == 0.25 and corner[0, -1, -1, 0] == 0.25


def config(**sections):
    return ConfigParser.from_string(config_text({"model": small_model_section(32), **sections}), "m.config")


@pytest.mark.parametrize("sections, why", [
    ({"infer": {"mirror": True}}, r"\[model\] generator = False"),
    ({"infer": {"mirror": True}, "generator": {"augmentation": False}}, r"\[generator\] augmentation = False"),
    ({"infer": {"mirror": True}, "augmentor": {"vflip": False}}, r"hflip and vflip are not both True"),
])
def test_mirroring_a_model_trained_without_flips_is_warned_about(sections, why):
    if "generator" in sections or "augmentor" in sections:
        sections = {**sections, "model": small_model_section(32, generator=True)}
    with pytest.warns(ConfigWarning, match=r"\[infer\] mirror = True averages .*" + why):
        warn_if_untrained(config(**sections))


def test_no_warning_without_mirroring_or_when_training_flipped_both_ways():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_untrained(config(infer={"mirror": False}))
        warn_if_untrained(config(model=small_model_section(32, generator=True), infer={"mirror": True}))
