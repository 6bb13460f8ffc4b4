"""Shared helpers: small configs and generated image/mask folders."""

import os

# Quieter TensorFlow in test logs; set before any test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import textwrap  # noqa: E402

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO), "shared", "data")
PANCREAS_CONFIG = os.path.join(
    REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Pancreas-T1", "train_eval_infer.config"
)


def config_text(sections: dict[str, dict[str, object]]) -> str:
    """INI text from {section: {key: python value}} (values written with repr)."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {value!r}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def write_config(path, sections) -> str:
    path = str(path)
    with open(path, "w") as f:
        f.write(config_text(sections))
    return path


def small_model_section(size=64, **overrides) -> dict:
    section = {
        "model": "TensorflowUNet",
        "image_width": size,
        "image_height": size,
        "image_channels": 3,
        "num_classes": 1,
        "base_filters": 8,
        "num_layers": 3,
        "dropout_rate": 0.05,
        "learning_rate": 0.001,
        "loss": "bce_dice_loss",
        "metrics": ["dice_coef"],
    }
    section.update(overrides)
    return section


def make_pair(size, rng, mask_ext=".png"):
    """An RGB-as-grey image with a bright disc, and its disc mask."""
    image = rng.normal(60, 12, (size, size)).clip(0, 255)
    mask = np.zeros((size, size), np.uint8)
    radius = int(rng.integers(size // 8, size // 4))
    centre = tuple(int(c) for c in rng.integers(radius + 2, size - radius - 2, 2))
    cv2.circle(mask, centre, radius, 255, -1)
    image[mask > 0] += 110
    image = cv2.cvtColor(image.clip(0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return image, mask


def make_split(folder, volumes, slices, size=64, seed=0, first_volume=0):
    """`folder/images/<v>_<s>.jpg` and `folder/masks/<v>_<s>.png` pairs."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    os.makedirs(os.path.join(folder, "masks"), exist_ok=True)
    for v in range(first_volume, first_volume + volumes):
        for s in range(slices):
            image, mask = make_pair(size, rng)
            cv2.imwrite(os.path.join(folder, "images", f"{1000 + v}_{s}.jpg"), image)
            cv2.imwrite(os.path.join(folder, "masks", f"{1000 + v}_{s}.png"), mask)
    return folder


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    yield
    keras.utils.clear_session()


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
