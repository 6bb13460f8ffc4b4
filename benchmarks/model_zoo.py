"""What each model family costs and what it learns in a short CPU budget.

Per family of the registry: parameters, forward GFLOPs per image, train and
predict images/s at --size px on this machine (ImageNet weights off), and
the test Dice on held-out patients of a real dataset after --budget CPU
seconds of training (all cores together) at --dice-size px. Each family is built from the original's
published config of it (tests/fixtures/reference_models/; else its
project's [model] section) at the benchmark's size. Prints a Markdown table.

Usage:
    python benchmarks/model_zoo.py --data ../shared/data/Pancreas-CT-NIH [--families TensorflowUNet ...]
"""

import argparse
import os
import sys
import tempfile
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from learn_real_anatomy import split  # noqa: E402

from ConfigParser import ConfigParser, ConfigWarning  # noqa: E402
from data_pipeline import PairReader, make_dataset  # noqa: E402
from ImageMaskDataset import ImageMaskDataset  # noqa: E402
from ModelRegistry import MODELS, create_model  # noqa: E402

PRETRAINED = ("TensorflowEfficientUNet", "TensorflowEfficientNetB7UNet", "TensorflowDeepLabV3Plus")
DATA_SECTIONS = """
[train]
model_dir = "./models"
eval_dir = "./eval"
image_datapath = "{data}/train/images"
mask_datapath = "{data}/train/masks"
[test]
image_datapath = "{data}/test/images"
mask_datapath = "{data}/test/masks"
[mask]
binarize = True
threshold = 127
"""


def model_text(family: str, size: int) -> str:
    """The family's reference [model] section (the original's published config; else its
    project's) at `size` px, trained with bce_dice_loss and scored by dice_coef, no ImageNet weights."""
    path = os.path.join(REPO, "tests", "fixtures", "reference_models", f"{family}.config")
    if not os.path.isfile(path):
        path = os.path.join(REPO, "projects", family, "Pancreas-T1", "train_eval_infer.config")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        section = ConfigParser(path).to_dict()["model"]
    section.update(image_width=size, image_height=size, metrics=["dice_coef"])
    if family != "TensorflowBASNet":
        section["loss"] = "bce_dice_loss"
    if family in PRETRAINED:
        section["weights"] = None
    return "[model]\n" + "".join(f"{key} = {value!r}\n" for key, value in section.items())


def gflops(model: keras.Model, size: int, channels: int) -> float:
    """Forward floating-point operations per image, as TensorFlow's profiler counts them."""
    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(tf.TensorSpec([1, size, size, channels], tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
    return profile.total_float_ops / 1e9


def throughput(model: keras.Model, size: int, channels: int, batch: int = 4, steps: int = 5) -> tuple[float, float]:
    x = np.random.default_rng(0).uniform(0, 255, (batch, size, size, channels)).astype(np.float32)
    y = (x[..., :1] > 128).astype(np.float32)
    targets = y if len(model.outputs) == 1 else [y] * len(model.outputs)
    model.train_on_batch(x, targets)  # compile the step
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, targets)
    train = batch * steps / (time.perf_counter() - started)
    model.predict_on_batch(x)
    started = time.perf_counter()
    for _ in range(steps):
        model.predict_on_batch(x)
    return train, batch * steps / (time.perf_counter() - started)


class CPUBudget(keras.callbacks.Callback):
    """Stops training after `seconds` of this process's CPU time (all threads), so that other
    work on the machine slows the run down but does not shorten its training."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.started = seconds, time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        if time.process_time() - self.started > self.seconds:
            self.model.stop_training = True


def dice_after_budget(family: str, data: str, size: int, seconds: float) -> tuple[float, int]:
    config = ConfigParser.from_string(model_text(family, size) + DATA_SECTIONS.format(data=data))
    dataset = ImageMaskDataset(config)
    reader = PairReader(dataset)
    train_pairs, test_pairs = dataset.pairs("train"), dataset.pairs("test")
    builder = create_model(config)
    train = make_dataset(train_pairs, reader, 4, shuffle=True, seed=137)
    if len(builder.model.outputs) > 1:
        train = train.map(lambda x, y: (x, tuple([y] * len(builder.model.outputs))))
    budget = CPUBudget(seconds)
    history = builder.model.fit(train.repeat(), steps_per_epoch=max(1, len(train_pairs) // 4), epochs=10_000,
                                callbacks=[budget], verbose=0)
    scores = builder.evaluation_model().evaluate(make_dataset(test_pairs, reader, 4), return_dict=True, verbose=0)
    return float(scores.get("dice_coef", float("nan"))), len(history.history["loss"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="*", default=list(MODELS))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--data", help="images/ and masks/ of a real dataset, split by patient for the Dice")
    parser.add_argument("--dice-size", type=int, default=128)
    parser.add_argument("--budget", type=float, default=240,
                        help="training CPU seconds (all cores together) per family for the Dice")
    parser.add_argument("--no-speed", action="store_true", help="skip GFLOPs and images/s (Dice only)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            parts = split(args.data, os.path.join(tmp, "data"), valid=1, test=8)
            print(f"Dice data: {len(parts['train'])} training and {len(parts['test'])} test patients", flush=True)
        for family in args.families:
            config = ConfigParser.from_string(model_text(family, args.size))
            channels = config.get("model", "image_channels")
            model = create_model(config).model
            started = time.perf_counter()
            flops, (train, predict) = ((float("nan"), (float("nan"), float("nan"))) if args.no_speed else
                                       (gflops(model, args.size, channels), throughput(model, args.size, channels)))
            dice, epochs = (dice_after_budget(family, os.path.join(tmp, "data"), args.dice_size, args.budget)
                            if args.data else (float("nan"), 0))
            rows.append((family, model.count_params(), flops, train, predict, dice, epochs))
            print(f"{family}: {rows[-1][1]:,} parameters, {flops:.1f} GFLOPs, train {train:.1f} img/s, "
                  f"predict {predict:.1f} img/s, Dice {dice:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
            keras.backend.clear_session()
    print(f"\n{os.cpu_count()} CPUs; {args.size} px for speed; Dice on held-out patients after "
          f"{args.budget:.0f} CPU seconds of training at {args.dice_size} px\n")
    print("| family | parameters | GFLOPs / image | train img/s | predict img/s | test Dice | epochs |")
    print("|---|---|---|---|---|---|---|")
    for family, params, flops, train, predict, dice, epochs in rows:
        print(f"| {family} | {params:,} | {flops:.1f} | {train:.1f} | {predict:.1f} | {dice:.3f} | {epochs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
