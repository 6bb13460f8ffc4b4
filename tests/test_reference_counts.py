"""The original's parameter count for one published config of each family, matched exactly."""

import glob
import os
import re

import pytest
from conftest import REPO

from ConfigParser import ConfigParser
from ModelRegistry import MODELS, create_model

CONFIGS = sorted(glob.glob(os.path.join(REPO, "tests", "fixtures", "reference_models", "*.config")))


def published_count(path: str) -> int:
    with open(path) as f:
        found = re.search(r"count_params\(\) of the original's model for it: ([\d,]+)", f.read())
    return int(found.group(1).replace(",", ""))


def test_there_is_a_reference_for_eleven_families():
    assert len(CONFIGS) == 11


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.basename(p)[: -len(".config")])
def test_the_family_has_the_originals_parameter_count(path):
    config = ConfigParser(path)
    if config.family not in MODELS:
        pytest.skip(f"{config.family} is not built")
    with open(path) as f:
        text = f.read()
    # Encoders are built without ImageNet weights, as the original's counts were measured.
    if "weights" not in text and config.family in ("TensorflowEfficientUNet", "TensorflowEfficientNetB7UNet",
                                                  "TensorflowDeepLabV3Plus"):
        text = text.rstrip("\n") + "\nweights = None\n"
    model = create_model(ConfigParser.from_string(text, path)).model
    assert model.count_params() == published_count(path)
