"""Every family of the registry, built small: forward pass, .keras round trip, get_config, one epoch that learns.

Each family's own test module (`tests/test_model_<snake>.py`) holds `SMALL`, its
64-px [model] section, and the family's own tests (reference count, the
original's weight layout, its key checks).
"""

import importlib
import re

import keras
import numpy as np
import pytest
from conftest import config_text

from ConfigParser import ConfigParser
from ModelRegistry import MODELS, create_model
from TensorflowModel import first_output

FIXED_SIZE = {"TensorflowEfficientNetB7UNet"}  # no small variant: weights round trip only
# Their first training step takes 30-70 s on 2 CPU cores (deep graphs): `make test-all` runs them.
SLOW = {"TensorflowEfficientUNet", "TensorflowBASNet", "TensorflowDeepLabV3Plus", "TensorflowEfficientNetB7UNet",
        "TensorflowUNet3Plus"}


def snake(name: str) -> str:
    """TensorflowSwinUNet -> swin_unet, as the family's test and schema modules are named."""
    special = {"TensorflowUNet": "unet", "TensorflowU2Net": "u2net", "TensorflowUNet3Plus": "unet3plus",
               "TensorflowDeepLabV3Plus": "deeplab_v3_plus", "TensorflowEfficientNetB7UNet": "efficientnet_b7_unet",
               "TensorflowBASNet": "basnet", "TensorflowMultiResUNet": "multires_unet",
               "TensorflowXceptionLikeUNet": "xception_like_unet"}
    if name in special:
        return special[name]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removeprefix("Tensorflow")).lower().replace("u_net", "unet")


def small_section(name: str) -> dict:
    if name == "TensorflowUNet":
        from conftest import small_model_section

        return small_model_section(64)
    return dict(importlib.import_module(f"test_model_{snake(name)}").SMALL)


def build(name: str, **overrides):
    section = {**small_section(name), **overrides}
    assert section["model"] == name
    return create_model(ConfigParser.from_string(config_text({"model": section})))


def discs(count: int, size: int, channels: int):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    images, masks = [], []
    for _ in range(count):
        cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2 < (size * 0.18) ** 2).astype(np.float32)
        image = rng.normal(60, 10, (size, size)) + 120 * mask
        images.append(np.repeat(image[..., None], channels, axis=-1).clip(0, 255))
        masks.append(mask[..., None])
    return np.asarray(images, np.float32), np.asarray(masks, np.float32)


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else []) for n in MODELS])
def test_each_family_builds_small_predicts_round_trips_and_learns(name, tmp_path):
    builder = build(name)
    model = builder.model
    section = small_section(name)
    height, width = section["image_height"], section["image_width"]
    channels = section.get("image_channels", 3)
    x, y = discs(8, height, channels)
    prediction = np.asarray(first_output(model).predict(x[:2], verbose=0))
    assert prediction.shape == (2, height, width, 1)
    assert np.all((prediction >= 0) & (prediction <= 1))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(np.asarray(first_output(loaded).predict(x[:2], verbose=0)), prediction, atol=1e-5)
    rebuilt = keras.Model.from_config(model.get_config())
    assert rebuilt.count_params() == model.count_params()
    if name in FIXED_SIZE:
        return
    targets = y if len(model.outputs) == 1 else [y] * len(model.outputs)
    # Losses in training mode, on all 8 images, before and after one epoch (batch
    # statistics, as training sees them; inference-mode BatchNorm has hardly moved yet).
    before = _loss(model.train_on_batch(x, targets))
    model.fit(x, targets, epochs=1, batch_size=2, verbose=0)
    after = _loss(model.train_on_batch(x, targets))
    assert after < before, f"{name}: loss {before:.4f} -> {after:.4f} after one epoch"


def _loss(result) -> float:
    return float(result[0] if isinstance(result, (list, tuple)) else result)
