"""Shared helpers: small configs and generated image/mask folders."""

import os

# Quieter TensorFlow in test logs; set before any test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import textwrap  # noqa: E402

import cv2  # noqa: E402
import h5py  # noqa: E402
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


def project_sections(data_dir, size=64, model=None, **overrides) -> dict:
    """A small experiment over `data_dir/{train,valid,test}` and `./mini_test`."""
    data_dir = str(data_dir)
    sections = {
        "model": model or small_model_section(size),
        "train": {
            "epochs": 2,
            "batch_size": 4,
            "patience": 10,
            "metrics": ["dice_coef", "val_dice_coef"],
            "model_dir": "./models",
            "eval_dir": "./eval",
            "image_datapath": f"{data_dir}/train/images",
            "mask_datapath": f"{data_dir}/train/masks",
            "epoch_change_infer": True,
            "epoch_change_infer_dir": "./epoch_change_infer",
            "num_infer_images": 2,
            "learning_rate_reducer": True,
            "reducer_patience": 4,
            "save_weights_only": True,
        },
        "eval": {"image_datapath": f"{data_dir}/valid/images", "mask_datapath": f"{data_dir}/valid/masks"},
        "test": {"image_datapath": f"{data_dir}/test/images", "mask_datapath": f"{data_dir}/test/masks"},
        "infer": {"images_dir": "./mini_test/images", "output_dir": "./mini_test_output"},
        "segmentation": {"colorize": True, "black": "black", "white": "green"},
        "mask": {"binarize": False},
    }
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return sections


@pytest.fixture(scope="session")
def generated_data(tmp_path_factory):
    """Disc images split by volume: train 3×4, valid 1×4, test 1×4, mini_test 3."""
    root = tmp_path_factory.mktemp("generated")
    make_split(str(root / "train"), volumes=3, slices=4, seed=1, first_volume=0)
    make_split(str(root / "valid"), volumes=1, slices=4, seed=2, first_volume=3)
    make_split(str(root / "test"), volumes=1, slices=4, seed=3, first_volume=4)
    make_split(str(root / "mini_test"), volumes=1, slices=3, seed=4, first_volume=5)
    return root


def make_project(tmp_path, data_dir, **overrides) -> str:
    """A project folder with a config and a copy of the mini_test images."""
    import shutil

    project = tmp_path / "project"
    project.mkdir(parents=True, exist_ok=True)
    if not (project / "mini_test").exists():
        shutil.copytree(os.path.join(str(data_dir), "mini_test"), project / "mini_test")
    write_config(project / "train_eval_infer.config", project_sections(data_dir, **overrides))
    return str(project)


def write_keras2_weights(path, model, full_model=False):
    """A weights file laid out as Keras 2.10 writes it, with other layer names."""
    with h5py.File(path, "w") as f:
        group = f.create_group("model_weights") if full_model else f
        if full_model:
            f.attrs["model_config"] = b"{}"
        names = []
        for i, layer in enumerate(model.layers):
            name = f"old_{type(layer).__name__.lower()}_{i}"
            names.append(name.encode())
            layer_group = group.create_group(name)
            weight_names = []
            # Keras 2 wrote trainable weights first, then non-trainable ones (what the loader reads).
            for j, weight in enumerate(layer.trainable_weights + layer.non_trainable_weights):
                weight_name = f"{name}/w{j}:0"
                layer_group.create_dataset(weight_name, data=np.asarray(weight))
                weight_names.append(weight_name.encode())
            layer_group.attrs["weight_names"] = weight_names
        group.attrs["layer_names"] = names
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.10.0"
