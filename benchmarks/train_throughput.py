"""Training speed and memory on generated images.

Generates COUNT image/mask pairs of SIZE×SIZE pixels (plus 20 for
validation), trains a small TensorflowUNet on them through the real trainer
in a fresh process, and prints images/second of the last epoch and the
process's peak resident memory. Peak memory must not grow with COUNT: the
data streams from disk.

Usage:
    python benchmarks/train_throughput.py --size 128 --count 200
    python benchmarks/train_throughput.py --size 128 --count 2000
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def generate(folder: str, count: int, size: int, seed: int) -> None:
    """`count` grey images with a bright ellipse, and the ellipse's mask."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    for kind in ("images", "masks"):
        os.makedirs(os.path.join(folder, kind), exist_ok=True)
    for i in range(count):
        image = rng.normal(70, 15, (size, size)).clip(0, 255).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        centre = tuple(int(c) for c in rng.integers(size // 4, 3 * size // 4, 2))
        axes = tuple(int(a) for a in rng.integers(size // 10, size // 4, 2))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        image[mask > 0] = np.clip(image[mask > 0].astype(int) + 90, 0, 255)
        name = f"{1000 + i // 20}_{i % 20}"
        cv2.imwrite(os.path.join(folder, "images", name + ".jpg"), cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
        cv2.imwrite(os.path.join(folder, "masks", name + ".png"), mask)


CONFIG = """\
[model]
model = "TensorflowUNet"
image_width = {size}
image_height = {size}
image_channels = 3
num_classes = 1
base_filters = {filters}
num_layers = {layers}
base_kernels = (5, 5)
dropout_rate = 0.05
learning_rate = 0.001
loss = "bce_dice_loss"
metrics = ["dice_coef"]

[train]
epochs = {epochs}
batch_size = {batch}
model_dir = "./models"
eval_dir = "./eval"
metrics = ["dice_coef", "val_dice_coef"]
image_datapath = "{data}/train/images"
mask_datapath = "{data}/train/masks"

[eval]
image_datapath = "{data}/valid/images"
mask_datapath = "{data}/valid/masks"
"""


def write_config(folder: str, data: str, args) -> str:
    path = os.path.join(folder, "train_eval_infer.config")
    with open(path, "w") as f:
        f.write(CONFIG.format(data=data, **vars(args)))
    return path


class EpochTimer:
    """Seconds per epoch, as a Keras callback."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self.start)

        return _Timer()


def train_only(config_path: str) -> None:
    """Runs in the child process: trains and prints one JSON line of figures."""
    sys.path.insert(0, os.path.join(REPO, "src"))
    os.chdir(os.path.dirname(config_path))
    from TensorflowUNetTrainer import TensorflowUNetTrainer

    trainer = TensorflowUNetTrainer(config_path)
    timer = EpochTimer()
    create_callbacks = trainer.create_callbacks

    def with_timer(model):
        state, callbacks = create_callbacks(model)
        return state, [timer] + callbacks

    trainer.create_callbacks = with_timer
    trainer.train()
    from peak_memory import peak_rss_mib

    print(json.dumps({"epoch_seconds": timer.seconds, "peak_rss_mib": peak_rss_mib()}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--train-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_only:
        train_only(args.train_only)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        started = time.perf_counter()
        generate(os.path.join(data, "train"), args.count, args.size, seed=1)
        generate(os.path.join(data, "valid"), 20, args.size, seed=2)
        generate(os.path.join(data, "test"), 4, args.size, seed=3)
        print(f"generated {args.count} + 20 images of {args.size}px in {time.perf_counter() - started:.1f}s")
        project = os.path.join(tmp, "project")
        os.makedirs(project)
        config = write_config(project, data, args)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--train-only", config],
            capture_output=True, text=True, env=env,
        )
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)
            return 1
        figures = json.loads(result.stdout.strip().splitlines()[-1])
    last = figures["epoch_seconds"][-1]
    print(
        f"size {args.size}px, {args.count} training images, batch {args.batch}, "
        f"{args.layers} levels of {args.filters}+ filters, {os.cpu_count()} CPUs\n"
        f"epoch seconds: {', '.join(f'{s:.1f}' for s in figures['epoch_seconds'])}\n"
        f"images/s (last epoch, validation included): {args.count / last:.1f}\n"
        f"peak RSS: {figures['peak_rss_mib']:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
