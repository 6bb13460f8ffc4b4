"""Training that survives kills and interrupts, and bad input that is rejected
before anything happens, with a last line naming the culprit."""

import ast
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO, make_project, make_split, project_sections, small_model_section, write_config

import TensorflowUNetTrainer
from atomic import remove_leftovers


def run_trainer(folder):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, os.path.join(REPO, "src", "TensorflowUNetTrainer.py")],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for(process, text):
    """Reads the process's output until a line starts with `text`; returns all lines."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(text):
            return lines
    raise AssertionError(f"never printed {text!r}:\n{''.join(lines)[-3000:]}")


def lines_of(path):
    with open(path) as f:
        return f.read().splitlines()


@pytest.fixture(scope="module")
def longer_data(tmp_path_factory):
    """Enough images that an epoch lasts long enough to be interrupted."""
    root = tmp_path_factory.mktemp("longer")
    make_split(str(root / "train"), volumes=3, slices=10, seed=11)
    make_split(str(root / "valid"), volumes=1, slices=4, seed=12, first_volume=3)
    make_split(str(root / "test"), volumes=1, slices=2, seed=13, first_volume=4)
    make_split(str(root / "mini_test"), volumes=1, slices=2, seed=14, first_volume=5)
    return root


def test_a_run_killed_during_epoch_3_resumes_and_finishes(tmp_path, longer_data):
    folder = make_project(tmp_path, longer_data, train={"epochs": 5, "batch_size": 2})
    process = run_trainer(folder)
    wait_for(process, "Epoch 3/5")
    process.send_signal(signal.SIGKILL)  # in the middle of epoch 3
    process.wait()
    losses_before = lines_of(os.path.join(folder, "eval/train_losses.csv"))
    metrics_before = lines_of(os.path.join(folder, "eval/train_metrics.csv"))
    assert len(losses_before) == 3  # header, epochs 0 and 1
    previews = os.path.join(folder, "epoch_change_infer")
    kept = {n: os.path.getmtime(os.path.join(previews, n)) for n in os.listdir(previews)}
    assert sorted({n.split("_")[1] for n in kept}) == ["1", "2"]

    process = run_trainer(folder)
    output = "".join(process.stdout)
    assert process.wait() == 0, output[-3000:]
    assert "Resuming after epoch 2 of 5 from ./models/resume/state.weights.h5" in output

    losses = lines_of(os.path.join(folder, "eval/train_losses.csv"))
    metrics = lines_of(os.path.join(folder, "eval/train_metrics.csv"))
    assert [line.split(",")[0] for line in losses[1:]] == ["0", "1", "2", "3", "4"]
    assert losses[:3] == losses_before and metrics[:3] == metrics_before
    with open(os.path.join(folder, "history.json")) as f:
        history = ast.literal_eval(json.load(f))
    assert all(len(values) == 5 for values in history.values())
    assert [f"{v:.4f}" for v in history["loss"][:2]] == [line.split(", ")[1] for line in losses_before[1:]]
    # The loss continues from where it was, not from the untrained level.
    first, killed_at = history["loss"][0], history["loss"][1]
    assert history["loss"][2] < first and abs(history["loss"][2] - killed_at) < abs(history["loss"][2] - first)
    for name, mtime in kept.items():
        assert os.path.getmtime(os.path.join(previews, name)) == mtime
    assert sorted({n.split("_")[1] for n in os.listdir(previews)}) == ["1", "2", "3", "4", "5"]


def test_ctrl_c_stops_after_saving_the_epoch_and_says_how_to_resume(tmp_path, longer_data):
    folder = make_project(tmp_path, longer_data, train={"epochs": 4, "batch_size": 2, "epoch_change_infer": False})
    process = run_trainer(folder)
    wait_for(process, "Epoch 2/4")
    process.send_signal(signal.SIGINT)
    output = "".join(process.stdout)
    assert process.wait() == 130
    assert "stopping when this epoch ends" in output
    assert output.strip().splitlines()[-1] == "Interrupted."
    assert "The state after epoch 2 of 4 is saved in ./models/resume/state.weights.h5; run the same " \
           "command again to resume." in output
    assert len(lines_of(os.path.join(folder, "eval/train_losses.csv"))) == 3
    process = run_trainer(folder)
    output = "".join(process.stdout)
    assert process.wait() == 0 and "Resuming after epoch 2 of 4" in output
    assert len(lines_of(os.path.join(folder, "eval/train_losses.csv"))) == 5


def test_leftovers_of_a_killed_run_are_removed_and_nothing_else(tmp_path):
    names = [".state.tmp123-456.weights.h5", ".train_losses.tmp1-2.csv", "state.weights.h5", ".hidden", "a.tmp1-2.csv"]
    for name in names:
        (tmp_path / name).write_text("x")
    remove_leftovers(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted([".hidden", "a.tmp1-2.csv", "state.weights.h5"])


# === Bad input ===


def digest(folder):
    result = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                result[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return result


def write_png(path, array):
    assert cv2.imwrite(str(path), array)


def corrupt(data):
    (data / "train/images/1000_1.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")


def zero_bytes(data):
    (data / "train/images/1000_1.jpg").write_bytes(b"")


def orphan_image(data):
    os.remove(data / "train/masks/1000_2.png")


def small_mask(data):
    write_png(data / "train/masks/1000_0.png", np.zeros((32, 32), np.uint8))


def sixteen_bit(data):
    image = cv2.imread(str(data / "train/images/1000_0.jpg"), cv2.IMREAD_GRAYSCALE).astype(np.uint16) * 257
    os.remove(data / "train/images/1000_0.jpg")
    write_png(data / "train/images/1000_0.png", image)
    write_png(data / "train/masks/1000_1.png", (cv2.imread(str(data / "train/masks/1000_1.png"), 0) > 0) * 65535)


def rgba(data):
    image = cv2.imread(str(data / "train/images/1000_0.jpg"))
    os.remove(data / "train/images/1000_0.jpg")
    write_png(data / "train/images/1000_0.png", cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))


def grey(data):
    image = cv2.imread(str(data / "train/images/1000_0.jpg"), cv2.IMREAD_GRAYSCALE)
    write_png(data / "train/images/1000_0.png", image)
    os.remove(data / "train/images/1000_0.jpg")


def empty_eval(data):
    for kind in ("images", "masks"):
        for name in os.listdir(data / "valid" / kind):
            os.remove(data / "valid" / kind / name)


def _train_masks(data, splits=("train",)):
    folders = [data / split / "masks" for split in splits]
    return [(f / name, cv2.imread(str(f / name), cv2.IMREAD_GRAYSCALE)) for f in folders for name in sorted(os.listdir(f))]


def masks_as(data, scale, extension):
    """Every training mask rewritten as foreground value `scale` in the given format."""
    for path, mask in _train_masks(data):
        os.remove(path)
        write_png(path.with_suffix(extension), ((mask > 0) * scale).astype(np.uint8))


def empty_masks(data):
    for path, mask in _train_masks(data):
        write_png(path, np.zeros_like(mask))


def colour_masks(data):
    """The training and validation masks as red regions on black (OpenCV writes BGR)."""
    for path, mask in _train_masks(data, ("train", "valid")):
        colour = np.zeros(mask.shape + (3,), np.uint8)
        colour[mask > 0] = (0, 0, 255)
        write_png(path, colour)


CASES = {
    # name: (break the data, config overrides, expected last-line text or None for success)
    "corrupt image": (corrupt, {}, "train/images/1000_1.jpg: not a readable image"),
    "zero-byte image": (zero_bytes, {}, "train/images/1000_1.jpg: not a readable image"),
    "image without mask": (orphan_image, {}, "1000_2.jpg has no mask of the same name in"),
    "mask of another size": (small_mask, {}, "train/masks/1000_0.png: mask is 32x32 but its image 1000_0.jpg is 64x64"),
    "16-bit PNGs": (sixteen_bit, {}, None),
    "RGBA PNG": (rgba, {}, None),
    "grey image for RGB": (grey, {}, None),
    "empty folder": (empty_eval, {}, "valid/images holds no images"),
    "path that does not exist": (
        None, {"train": {"image_datapath": "./no/such/images"}},
        "[train] image_datapath = './no/such/images': ./no/such/images does not exist"),
    "negative epochs": (None, {"train": {"epochs": -3}}, "[train] epochs = -3: expected an integer >= 1"),
    "wrong type": (None, {"train": {"batch_size": "4"}}, "[train] batch_size = '4': expected an integer >= 1"),
    "too deep for the image size": (
        None, {"model": {"num_layers": 8}}, "[model] num_layers = 8: needs image_width and image_height divisible by 128"),
    "even base_kernels": (None, {"model": {"base_kernels": (4, 4)}},
                          "[model] base_kernels = (4, 4): expected two equal odd sizes"),
    "unequal base_kernels": (None, {"model": {"base_kernels": (5, 3)}},
                             "[model] base_kernels = (5, 3): expected two equal odd sizes"),
    "missing preview folder": (None, {"infer": {"images_dir": "./nowhere"}},
                               "[infer] images_dir = './nowhere': ./nowhere does not exist"),
    "impossible augmentation": (None, {"model": {"generator": True}, "augmentor": {"shrinks": [1.5]}},
                                "[augmentor] shrinks = [1.5]: expected a list of values, each a number > 0 and <= 1"),
    # Masks that could read as empty (issue 9): learn or stop, never train on nothing.
    "0/1 PNG masks": (lambda d: masks_as(d, 1, ".png"), {}, None),
    "faint grey PNG masks": (lambda d: masks_as(d, 40, ".png"), {}, None),
    "0/1 JPEG masks": (lambda d: masks_as(d, 1, ".jpg"), {},
                       "have non-zero pixels but no foreground under the rule in force (JPEG masks: grey >= 128 is "
                       "foreground)"),
    "faint grey JPEG masks, fixed by the key the error names": (
        lambda d: masks_as(d, 40, ".jpg"), {"mask": {"binarize": True, "threshold": 20}}, None),
    "every training mask empty": (empty_masks, {}, "every one of the 12 [train] masks is empty under the rule in force"),
    "red masks, read by their colour": (
        colour_masks, {"dataset": {"datasetclass": "RGB2GrayscaleImageMaskDataset"},
                       "mask": {"mask_colors": [(255, 0, 0)]}}, None),
    "masks of another colour than mask_colors": (
        colour_masks, {"dataset": {"datasetclass": "RGB2GrayscaleImageMaskDataset"},
                       "mask": {"mask_colors": [(0, 0, 255)]}},
        "check [mask] mask_colors and [mask] color_order"),
    "RGB2Grayscale without colours": (
        None, {"dataset": {"datasetclass": "RGB2GrayscaleImageMaskDataset"}},
        "[mask] mask_colors (not set): RGB2GrayscaleImageMaskDataset needs the classes' colours here"),
    "0/255 masks for three classes": (
        None, {"model": {"num_classes": 3, "loss": "categorical_crossentropy"}},
        "mask values {0, 255} are not class numbers 0..2 of [model] num_classes = 3"),
    "too few colours for the classes": (
        None, {"model": {"num_classes": 3, "loss": "categorical_crossentropy"}, "mask": {"mask_colors": [(255, 0, 0)]}},
        "[mask] mask_colors = [(255, 0, 0)]: lists 1 colours, but [model] num_classes = 3 needs 2"),
    "mask_colorize without a folder": (
        None, {"infer": {"mask_colorize": True}}, "[infer] colorized_dir (not set): this key is required"),
    "binary loss for a softmax output": (
        None, {"model": {"num_classes": 3}}, "[model] loss = 'bce_dice_loss': a binary loss for a softmax output"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_rejected_before_training_and_nothing_changes(case, tmp_path, generated_data, monkeypatch, capsys):
    breakage, overrides, expected = CASES[case]
    data = tmp_path / "data"
    shutil.copytree(generated_data, data)
    if breakage:
        breakage(data)
    before = digest(data)
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copytree(data / "mini_test", folder / "mini_test")
    others = {k: v for k, v in overrides.items() if k not in ("model", "train")}
    sections = project_sections(data, model=small_model_section(64, **overrides.get("model", {})),
                                train={"epochs": 1, **overrides.get("train", {})}, **others)
    write_config(folder / "train_eval_infer.config", sections)
    monkeypatch.chdir(folder)
    code = TensorflowUNetTrainer.main([])
    err = capsys.readouterr().err
    assert digest(data) == before
    if expected is None:
        assert code == 0, err[-2000:]
        return
    assert code != 0
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert expected in last, last
    assert not os.path.exists("models") and not os.path.exists("eval")


def test_the_state_restores_weights_optimizer_and_every_callbacks_progress(tmp_path):
    import keras
    from conftest import config_text

    from BestModelCheckpoint import BestModelCheckpoint
    from ConfigParser import ConfigParser
    from ModelRegistry import create_model
    from resumable_callbacks import EarlyStopping, ReduceLROnPlateau
    from TrainingState import TrainingState

    config = ConfigParser.from_string(config_text({"model": small_model_section(32)}))

    def callbacks():
        return [BestModelCheckpoint(str(tmp_path / "best.weights.h5"), True),
                ReduceLROnPlateau(patience=3), EarlyStopping(patience=5)]

    model = create_model(config).model
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    model.fit(x, (x[..., :1] > 128).astype(np.float32), epochs=1, verbose=0)
    model.optimizer.learning_rate = 1e-5  # as a reducer would have left it
    saved = callbacks()
    saved[0].best, (saved[1].wait, saved[1].best, saved[1].cooldown_counter) = 0.25, (2, 0.3, 1)
    saved[2].wait, saved[2].best = 4, 0.25
    state = TrainingState(str(tmp_path / "resume"), "fingerprint", saved)
    state.set_model(model)
    state.on_epoch_end(6, {"loss": 0.5, "val_loss": 0.25, "learning_rate": 1e-5})

    fresh = create_model(config).model
    restored = callbacks()
    state = TrainingState(str(tmp_path / "resume"), "fingerprint", restored)
    assert state.restore(fresh) == 7
    for callback in restored:
        callback.set_model(fresh)
        callback.on_train_begin()  # they reset themselves first...
    state.on_train_begin()  # ...then the state puts their progress back
    assert restored[0].best == 0.25  # a worse model will not overwrite the best one
    assert (restored[1].wait, restored[1].best, restored[1].cooldown_counter) == (2, 0.3, 1)
    assert (restored[2].wait, restored[2].best) == (4, 0.25)
    assert isinstance(restored[2], keras.callbacks.EarlyStopping)
    assert float(fresh.optimizer.learning_rate) == pytest.approx(1e-5)
    assert int(fresh.optimizer.iterations) == int(model.optimizer.iterations) > 0
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert state.history == {"loss": [0.5], "val_loss": [0.25], "learning_rate": [1e-5]}
