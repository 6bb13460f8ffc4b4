"""Training and inference speed against the ceiling of the same model; training memory.

Two modes.

Peak memory (default): generates COUNT image/mask pairs of SIZE×SIZE pixels
(plus 20 for validation), trains a small TensorflowUNet on them through the
real trainer in a fresh process, and prints images/second of the last epoch
and the process's peak resident memory. Peak memory must not grow with COUNT:
the data streams from disk. `--cache memory` (or a file path) sets
`[train] cache`, whose memory does grow with COUNT.

Comparison (`--compare`): for each case, the shipped Pancreas-T1 config (with
the model size the case gives) trains through the real trainer on generated
512 px files, and a bare `model.fit` trains the same compiled model on the
same pairs held in memory as tensors (no files, no augmentation, no
callbacks), alternately in fresh processes (toolkit, bare, toolkit, bare, ...)
because the machines are noisy. The first epoch of each process (tracing) is
left out and medians are quoted: wall seconds, CPU seconds (the process's
`os.times`, all threads) per image and CPU utilisation (CPU-s / wall-s /
cores) of the training phase, the validation phase, and the callbacks at
epoch end. Cases: `plain<size>` (`generator = False`), `augment<size>`
(`generator = True`, the shipped `[augmentor]`; also the augmentation's own
cost per image), `infer<size>` (`3.infer`'s Inferencer over a folder against
a bare `model.predict` of the same batches) and `pipeline<size>` (the input
pipeline alone: each stage of reading a pair, and the tf.data dataset
iterated without a model, the shipped augmentation's cost per variant). A
case takes overrides, e.g. `plain512:filters=8:count=24`. Wall time on a
shared machine varies twofold between identical epochs; CPU-s per image
varies little, so compare that first. `--src DIR` measures other toolkit
sources (e.g. `git archive HEAD src | tar -x -C DIR` while the tree is mid-edit).

Usage:
    python benchmarks/train_throughput.py --size 128 --count 200
    python benchmarks/train_throughput.py --size 128 --count 2000 [--cache memory]
    python benchmarks/train_throughput.py --compare [plain256,augment256,plain512:filters=8,infer256,pipeline256]
        [--rounds 2] [--epochs 3] [--count 48] [--filters 16] [--layers 6] [--kernels 5] [--batch 2] [--src DIR]
"""

import argparse
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PANCREAS_CONFIG = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Pancreas-T1",
                               "train_eval_infer.config")
DEFAULT_CASES = "plain256,augment256,plain512:filters=8:layers=5,infer256,pipeline256,pipeline512"
CASE_KEYS = ("count", "valid", "epochs", "filters", "layers", "kernels", "batch", "infer_count")


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
{cache_line}
[eval]
image_datapath = "{data}/valid/images"
mask_datapath = "{data}/valid/masks"
"""


def write_config(folder: str, data: str, args) -> str:
    path = os.path.join(folder, "train_eval_infer.config")
    cache_line = f"cache = {json.dumps(args.cache)}\n" if getattr(args, "cache", None) else ""
    values = {k: getattr(args, k) for k in ("size", "filters", "layers", "epochs", "batch")}
    with open(path, "w") as f:
        f.write(CONFIG.format(data=data, cache_line=cache_line, **values))
    return path


# === Child processes ===


def toolkit_src() -> str:
    """The toolkit's sources the children import: `--src` (TOOLKIT_SRC), else this checkout's."""
    return os.environ.get("TOOLKIT_SRC") or os.path.join(REPO, "src")


def cpu_seconds() -> float:
    """This process's CPU time, all threads, user + system (`os.times`'s, at nanosecond resolution)."""
    return time.process_time()


class PhaseTimer:
    """Wall and CPU clock at each phase of every epoch, as two Keras callbacks.

    `first` goes first in the callback list, `last` last: the callbacks'
    epoch-end work lies between `first`'s and `last`'s `on_epoch_end`.
    Validation runs between `on_test_begin` and `on_test_end` (Keras 3 hands
    `fit`'s callbacks to its validation `evaluate`).
    """

    def __init__(self, started: float):
        import keras

        self.started = started  # when the child's main() began: imports and checks count
        self.epochs: list[dict] = []
        self.train_begin = None
        timer = self

        def mark(name):
            if timer.epochs:
                timer.epochs[-1][name] = (time.perf_counter(), cpu_seconds())

        class First(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                timer.train_begin = time.perf_counter() - timer.started

            def on_epoch_begin(self, epoch, logs=None):
                timer.epochs.append({"begin": (time.perf_counter(), cpu_seconds())})

            def on_test_begin(self, logs=None):
                mark("test_begin")

            def on_test_end(self, logs=None):
                mark("test_end")

            def on_epoch_end(self, epoch, logs=None):
                mark("end_first")

        class Last(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                mark("end_last")

        self.first, self.last = First(), Last()

    def phases(self) -> list[dict]:
        """Per epoch: wall and CPU seconds of train, valid, callbacks and the whole epoch."""
        out = []
        for e in self.epochs:
            end = e.get("end_last", e.get("end_first"))
            train_end = e.get("test_begin", e.get("end_first"))
            valid_end = e.get("test_end", train_end)
            row = {}
            for name, (a, b) in {"train": (e["begin"], train_end), "valid": (train_end, valid_end),
                                 "callbacks": (e.get("end_first", valid_end), end),
                                 "epoch": (e["begin"], end)}.items():
                row[name] = b[0] - a[0]
                row[name + "_cpu"] = b[1] - a[1]
            out.append(row)
        return out

    def seconds(self) -> list[float]:
        return [p["epoch"] for p in self.phases()]


def train_only(config_path: str, started: float) -> None:
    """Runs in the child process: trains through the toolkit and prints one JSON line of figures.

    Also used by augmentation_throughput.py (it reads `epoch_seconds` and `peak_rss_mib`).
    """
    timer = PhaseTimer(started)
    sys.path.insert(0, toolkit_src())
    os.chdir(os.path.dirname(config_path))
    from TensorflowUNetTrainer import TensorflowUNetTrainer

    trainer = TensorflowUNetTrainer(config_path)
    create_callbacks = trainer.create_callbacks
    by_callback: dict[str, list[float]] = {}
    params = []

    def timed(callback):
        """Times the callback's epoch end (TrainingState's includes its tracked callbacks' after_commit)."""
        original = callback.on_epoch_end

        def on_epoch_end(epoch, logs=None):
            started = time.perf_counter()
            original(epoch, logs)
            by_callback.setdefault(type(callback).__name__, []).append(time.perf_counter() - started)

        callback.on_epoch_end = on_epoch_end
        return callback

    def with_timer(*args, **kwargs):  # whatever create_callbacks takes: (model) or (run, model, files_model)
        import keras

        params.extend(a.count_params() for a in list(args) + list(kwargs.values()) if isinstance(a, keras.Model))
        state, callbacks = create_callbacks(*args, **kwargs)
        return state, [timer.first] + [timed(c) for c in callbacks] + [timer.last]

    trainer.create_callbacks = with_timer
    trainer.train()
    from peak_memory import peak_rss_mib

    print(json.dumps({"epoch_seconds": timer.seconds(), "phases": timer.phases(), "callbacks": by_callback,
                      "params": params[0] if params else None, "first_epoch_at": timer.train_begin,
                      "peak_rss_mib": peak_rss_mib()}))


def load_arrays(dataset, pairs):
    """The pairs decoded exactly as the toolkit's pipeline gives them: float32 images and 0/1 masks."""
    import numpy as np

    images, masks = zip(*(dataset.read_pair(i, m) for i, m in pairs))
    return np.stack(images).astype(np.float32), np.stack(masks).astype(np.float32)


def bare_only(config_path: str, started: float) -> None:
    """Runs in the child process: the same compiled model, `model.fit` on in-memory arrays."""
    timer = PhaseTimer(started)
    sys.path.insert(0, toolkit_src())
    os.chdir(os.path.dirname(config_path))
    import keras

    from ConfigParser import ConfigParser, load_config
    from ImageMaskDataset import ImageMaskDataset
    from ModelRegistry import create_model

    config = load_config(config_path)
    keras.utils.set_random_seed(config.get(ConfigParser.TRAIN, "seed"))
    dataset = ImageMaskDataset(config)
    x, y = load_arrays(dataset, dataset.pairs(ConfigParser.TRAIN))
    xv, yv = load_arrays(dataset, dataset.pairs(ConfigParser.EVAL))
    model = create_model(config).model
    model.fit(x, y, batch_size=config.get(ConfigParser.TRAIN, "batch_size"),
              epochs=config.get(ConfigParser.TRAIN, "epochs"), validation_data=(xv, yv),
              callbacks=[timer.first, timer.last], shuffle=True, verbose=0)
    from peak_memory import peak_rss_mib

    print(json.dumps({"epoch_seconds": timer.seconds(), "phases": timer.phases(),
                      "first_epoch_at": timer.train_begin, "peak_rss_mib": peak_rss_mib()}))


def infer_only(config_path: str, rounds: int) -> None:
    """Runs in the child process: 3.infer's Inferencer and a bare predict, alternately, one process."""
    sys.path.insert(0, toolkit_src())
    os.chdir(os.path.dirname(config_path))
    import contextlib
    import io

    import numpy as np

    from ConfigParser import load_config
    from ImagePreprocessor import read_file
    from Inferencer import Inferencer
    from ModelRegistry import create_model

    config = load_config(config_path)
    model = create_model(config).model  # random weights: the speed is the same
    inferencer = Inferencer(model, config)
    files = inferencer.files()
    batch = inferencer.batch_size

    def toolkit():
        with contextlib.redirect_stdout(io.StringIO()):
            inferencer.infer()

    def decode():
        return np.stack([inferencer.preprocessor.prepare(read_file(f)) for f in files])

    x = decode()

    def predict():
        model.predict(x, batch_size=batch, verbose=0)

    def on_batch():
        for start in range(0, len(x), batch):
            model.predict_on_batch(x[start:start + batch])

    runs = {"toolkit": toolkit, "predict": predict, "predict_on_batch": on_batch, "decode": decode}
    for run in runs.values():
        run()  # tracing, and the files into the page cache
    figures = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), cpu_seconds()
            run()
            figures[name].append((time.perf_counter() - wall, cpu_seconds() - cpu))
    print(json.dumps({"images": len(files), "batch": batch, "runs": figures}))


def pipeline_only(config_path: str, samples: int) -> None:
    """Runs in the child process: the input pipeline's stages, single-threaded, and tf.data alone."""
    sys.path.insert(0, toolkit_src())
    os.chdir(os.path.dirname(config_path))
    import numpy as np
    import tensorflow as tf

    from ConfigParser import ConfigParser, load_config
    from data_pipeline import AugmentedPairReader, PairReader, make_dataset, make_stream
    from ImageMaskAugmentor import ImageMaskAugmentor
    from ImageMaskDataset import ImageMaskDataset
    from ImagePreprocessor import read_file

    config = load_config(config_path)
    dataset = ImageMaskDataset(config)
    pre = dataset.preprocessor
    pairs = dataset.pairs(ConfigParser.TRAIN)
    batch = config.get(ConfigParser.TRAIN, "batch_size")
    chosen = [pairs[i % len(pairs)] for i in range(samples)]
    results = {}

    def timed(name, work, n=len(chosen)):
        work()  # warm: the page cache, OpenCV's and TensorFlow's first-call costs
        wall, cpu = time.perf_counter(), cpu_seconds()
        work()
        results[name] = {"ms_per_image": 1000 * (time.perf_counter() - wall) / n,
                         "cpu_ms_per_image": 1000 * (cpu_seconds() - cpu) / n}

    decoded = [(read_file(i), read_file(m)) for i, m in chosen]
    adjusted = [pre.adjust(image) for image, _ in decoded]
    resized = [pre.resize(a) for a in adjusted]
    timed("file bytes (np.fromfile, image + mask)", lambda: [(np.fromfile(i, np.uint8), np.fromfile(m, np.uint8))
                                                              for i, m in chosen])
    timed("decode image (cv2.imdecode JPEG)", lambda: [read_file(i) for i, _ in chosen])
    timed("adjust (colour conversion)", lambda: [pre.adjust(image) for image, _ in decoded])
    timed("resize image", lambda: [pre.resize(a) for a in adjusted])
    timed("finish (astype float32 / 255)", lambda: [pre.finish(r) for r in resized])
    timed("mask (read, decode, resize, codec)", lambda: [dataset.read_mask(m) for _, m in chosen])
    timed("read_pair total", lambda: [dataset.read_pair(i, m) for i, m in chosen])
    timed("tf.cast to float32 (as _loader does)",
          lambda: [(tf.cast(r, tf.float32), tf.cast(r[..., :1], tf.float32)) for r in resized[:len(chosen)]])

    def iterate(ds):
        return lambda: [None for _ in ds]

    reader = PairReader(dataset)
    timed(f"tf.data make_dataset pass (AUTOTUNE, batch {batch}, no model)",
          iterate(make_dataset(chosen, reader, batch, shuffle=True, seed=1)))
    cached = make_dataset(chosen, reader, batch).unbatch().cache().batch(batch).prefetch(tf.data.AUTOTUNE)
    ready = [dataset.read_pair(i, m) for i, m in chosen]

    class Ready(PairReader):
        """Gives decoded pairs at once: what is left is numpy_function's and tf.data's own cost."""

        def __call__(self, image_path, mask_path):
            return ready[int(image_path.decode())]

    indexes = [(str(n), str(n)) for n in range(len(chosen))]
    timed(f"tf.data make_dataset, numpy_function returning ready pairs (batch {batch})",
          iterate(make_dataset(indexes, Ready(dataset), batch)))
    timed("same, decoded pairs cached (what [train] cache gives from epoch 2)", iterate(cached))
    if config.get(ConfigParser.MODEL, "generator"):
        augmentor = ImageMaskAugmentor(config)
        for augment in (False, True):
            r = AugmentedPairReader(dataset, chosen, augmentor, seed=1, augment=augment)
            timed(f"AugmentedPairReader sample, augmentation {augment}", lambda r=r: [r(n) for n in range(samples)])
        pairs8 = [dataset.read_pair(i, m, normalize=False) for i, m in chosen[:8]]
        variants = {}
        for variant in augmentor.variants:
            rng = np.random.default_rng(1)
            started = time.perf_counter()
            for image, mask in pairs8:
                variant.apply(image.copy(), mask.copy(), rng)
            variants[variant.prefix.rstrip("_")] = 1000 * (time.perf_counter() - started) / len(pairs8)
        results["variants"] = variants
        stream = make_stream(AugmentedPairReader(dataset, chosen, augmentor, seed=1), batch)
        # Endless: the prefetch reads ahead of what is taken, so take enough to make that negligible.
        timed(f"tf.data make_stream (augmented, AUTOTUNE, batch {batch}, no model)",
              iterate(stream.take(math.ceil(4 * samples / batch))), n=4 * samples)
    print(json.dumps({"samples": samples, "stages": results}))


# === Comparison ===


def pancreas_config(data: str, case: dict) -> str:
    """The shipped Pancreas-T1 config, with the case's model size, data and lengths."""
    with open(PANCREAS_CONFIG) as f:
        text = f.read()
    k = case["kernels"]
    replacements = [
        ("generator     = False", f"generator     = {case['kind'] == 'augment'}"),
        ("image_width    = 512", f"image_width    = {case['size']}"),
        ("image_height   = 512", f"image_height   = {case['size']}"),
        ("base_filters   = 16", f"base_filters   = {case['filters']}"),
        ("num_layers     = 8", f"num_layers     = {case['layers']}"),
        ("base_kernels   = (9,9)", f"base_kernels   = ({k},{k})"),
        ("epochs        = 100", f"epochs        = {case['epochs']}"),
        ("batch_size    = 2", f"batch_size    = {case['batch']}"),
        ("steps_per_epoch  = 200", f"steps_per_epoch  = {case['count'] // case['batch']}"),
        ("validation_steps = 80", f"validation_steps = {math.ceil(case['valid'] / case['batch'])}"),
        ("../../../dataset/Pancreas-T1/", data + "/"),
        ('images_dir    = "./mini_test/images"', f'images_dir    = "{data}/test/images"'),
        ('images_dir  = "./mini_test/images"', f'images_dir  = "{data}/test/images"'),
    ]
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def parse_cases(text: str, args) -> list[dict]:
    cases = []
    for item in text.split(","):
        name, *overrides = item.strip().split(":")
        match = re.fullmatch(r"(plain|augment|infer|pipeline)(\d+)", name)
        if not match:
            raise SystemExit(f"unknown case {name!r}: use plain<size>, augment<size>, infer<size>, pipeline<size>")
        case = {"kind": match[1], "size": int(match[2]), "name": item.strip()}
        case.update({key: getattr(args, key) for key in CASE_KEYS})
        for override in overrides:
            key, _, value = override.partition("=")
            if key not in CASE_KEYS:
                raise SystemExit(f"{item}: unknown override {key!r} (one of {', '.join(CASE_KEYS)})")
            case[key] = int(value)
        cases.append(case)
    return cases


def link_subset(pool: str, folder: str, counts: dict) -> str:
    """`folder` with the first counts[split] pairs of each split of `pool`, hard-linked."""
    for split, n in counts.items():
        for kind in ("images", "masks"):
            source = os.path.join(pool, split, kind)
            target = os.path.join(folder, split, kind)
            os.makedirs(target, exist_ok=True)
            for name in sorted(os.listdir(source))[:n]:
                os.link(os.path.join(source, name), os.path.join(target, name))
    return folder


def child(kind: str, path: str, *extra) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, os.path.abspath(__file__), f"--{kind}-only", path, *extra],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started
    figures["stdout"] = result.stdout
    return figures


def median_phases(runs: list[dict], count: int) -> dict:
    """Medians over every epoch after each process's first (its tracing)."""
    epochs = [p for run in runs for p in (run["phases"][1:] or run["phases"])]
    m = {key: statistics.median(p[key] for p in epochs) for key in epochs[0]}
    m["epochs"] = len(epochs)
    m["train_ips"] = count / m["train"]
    m["epoch_ips"] = count / m["epoch"]
    m["cpu_per_image"] = m["train_cpu"] / count
    m["util"] = m["train_cpu"] / m["train"] / (os.cpu_count() or 1)
    m["first_epoch_at"] = statistics.median(run["first_epoch_at"] for run in runs)
    m["rss"] = max(run["peak_rss_mib"] for run in runs)
    return m


def training_table(case: dict, toolkit: list[dict], bare: list[dict]) -> str:
    n = case["count"]
    t, b = median_phases(toolkit, n), median_phases(bare, n)
    rows = ["| | train img/s | epoch img/s | train CPU-s/img | train CPU util | validation s | epoch-end "
            "callbacks s | start to epoch 1 s | peak RSS MiB | epochs |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in (("toolkit (1.train)", t), ("bare model.fit, in memory", b)):
        rows.append(f"| {name} | {m['train_ips']:.2f} | {m['epoch_ips']:.2f} | {m['cpu_per_image']:.3f} | "
                    f"{m['util']:.0%} | {m['valid']:.2f} | {m['callbacks']:.2f} | {m['first_epoch_at']:.1f} | "
                    f"{m['rss']:.0f} | {m['epochs']} |")
    rows.append(f"| toolkit / bare | {t['train_ips'] / b['train_ips']:.0%} | {t['epoch_ips'] / b['epoch_ips']:.0%} "
                f"| {t['cpu_per_image'] / b['cpu_per_image']:.2f}× | | | | | | |")
    detail = []
    for name, runs in (("toolkit", toolkit), ("bare", bare)):
        for run in runs:
            detail.append(f"{name}: train s " + ", ".join(f"{p['train']:.1f}" for p in run["phases"]) +
                          "; epoch s " + ", ".join(f"{p['epoch']:.1f}" for p in run["phases"]))
    callbacks = {}
    for run in toolkit:
        for name, seconds in run.get("callbacks", {}).items():
            callbacks.setdefault(name, []).extend(seconds[1:] or seconds)
    spent = ", ".join(f"{name} {statistics.median(s):.2f}" for name, s in
                      sorted(callbacks.items(), key=lambda item: -statistics.median(item[1])))
    params = toolkit[0].get("params")
    return "\n".join(rows) + (f"\n\nModel: {params:,} parameters ({params * 4 / 2**20:.0f} MiB of float32 weights)."
                              if params else "") + \
        f"\nEpoch-end callbacks of 1.train, median s per epoch (first epoch left out): {spent}" + \
        "\n\nPer process (first epoch included; left out of the medians):\n" + "\n".join(f"- {d}" for d in detail)


def inference_table(figures: dict) -> str:
    n = figures["images"]
    rows = ["| | img/s | CPU-s/img | CPU util | runs (s) |", "|---|---|---|---|---|"]
    labels = {"toolkit": "3.infer Inferencer.infer (read, preprocess, predict_on_batch, write)",
              "predict": f"bare model.predict(x, batch_size={figures['batch']})",
              "predict_on_batch": f"bare predict_on_batch, batches of {figures['batch']}",
              "decode": "read_file + preprocessor.prepare alone"}
    medians = {}
    for name, runs in figures["runs"].items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        medians[name] = wall
        rows.append(f"| {labels[name]} | {n / wall:.2f} | {cpu / n:.3f} | {cpu / wall / (os.cpu_count() or 1):.0%} "
                    f"| {', '.join(f'{w:.2f}' for w, _ in runs)} |")
    rows.append(f"| toolkit / bare predict | {medians['predict'] / medians['toolkit']:.0%} | | | |")
    rows.append(f"| toolkit / bare predict_on_batch | {medians['predict_on_batch'] / medians['toolkit']:.0%} "
                "| | | |")
    rest = medians["toolkit"] - medians["predict_on_batch"] - medians["decode"]
    return "\n".join(rows) + (f"\n\nOf 3.infer's {1000 * medians['toolkit'] / n:.1f} ms/img: predict "
                              f"{1000 * medians['predict_on_batch'] / n:.1f}, read and preprocess "
                              f"{1000 * medians['decode'] / n:.1f}, the rest (writing masks, resizing them back, "
                              f"progress) {1000 * rest / n:.1f}.")


def pipeline_table(figures: dict) -> str:
    rows = ["| stage | wall ms/img | CPU ms/img |", "|---|---|---|"]
    variants = figures["stages"].pop("variants", None)
    for name, m in figures["stages"].items():
        rows.append(f"| {name} | {m['ms_per_image']:.2f} | {m['cpu_ms_per_image']:.2f} |")
    if variants:
        mean = statistics.mean([0.0] + list(variants.values()))  # a draw: the original or one variant, uniformly
        costly = sorted(variants.items(), key=lambda item: -item[1])
        rows.append(f"\nPer variant, wall ms/img ({len(variants)} variants; a uniform draw costs {mean:.2f} on "
                    "average): " + ", ".join(f"{name} {ms:.1f}" for name, ms in costly))
    return "\n".join(rows)


def describe(case: dict) -> str:
    parts = [f"{case['size']} px model, base_filters {case['filters']}, num_layers {case['layers']}, "
             f"base_kernels ({case['kernels']},{case['kernels']}), batch {case['batch']}"]
    if case["kind"] in ("plain", "augment"):
        parts.append(f"{case['count']} training + {case['valid']} validation pairs of 512 px files, "
                     f"{case['epochs']} epochs per process")
    elif case["kind"] == "infer":
        parts.append(f"{case['infer_count']} images of 512 px")
    else:
        parts.append(f"{case['count']} pairs of 512 px files")
    return "; ".join(parts)


def compare(args) -> int:
    cases = parse_cases(args.compare, args)
    print(f"Command: {' '.join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:])}")
    print(f"Toolkit sources: {toolkit_src()}")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; rounds {args.rounds}\n")
    with tempfile.TemporaryDirectory() as tmp:
        pool = os.path.join(tmp, "pool")
        started = time.perf_counter()
        most = {"train": max((c["count"] for c in cases if c["kind"] != "infer"), default=0),
                "valid": max(c["valid"] for c in cases),
                "test": max(max(c["infer_count"] for c in cases), 6)}  # 6: the previews' num_infer_images
        for seed, (split, n) in enumerate(most.items()):
            generate(os.path.join(pool, split), n, args.source_size, seed=seed + 1)
        print(f"generated {most} pairs of {args.source_size} px in {time.perf_counter() - started:.1f} s\n")
        for number, case in enumerate(cases):
            data = link_subset(pool, os.path.join(tmp, f"data{number}"),
                               {"train": case["count"], "valid": case["valid"], "test": case["infer_count"]})
            project = os.path.join(tmp, f"project{number}")
            os.makedirs(project)
            config = os.path.join(project, "train_eval_infer.config")
            with open(config, "w") as f:
                f.write(pancreas_config(data, case))
            print(f"## {case['name']}: {describe(case)}\n")
            started = time.perf_counter()
            if case["kind"] in ("plain", "augment"):
                toolkit, bare = [], []
                for _ in range(args.rounds):
                    for side, runs in (("train", toolkit), ("bare", bare)):
                        for folder in ("models", "eval", "epoch_change_infer"):  # every process starts afresh
                            subprocess.run(["rm", "-rf", os.path.join(project, folder),
                                            os.path.join(project, "history.json")])
                        runs.append(child(side, config))
                if toolkit:  # --rounds 0: the augmentation's cost only
                    print(training_table(case, toolkit, bare))
                if case["kind"] == "augment":
                    print("\nThe augmentation's own cost (single thread, no model):\n")
                    print(pipeline_table(child("pipeline", config, str(case["count"]))))
            elif case["kind"] == "infer":
                print(inference_table(child("infer", config, str(args.rounds * 2))))
            else:
                print(pipeline_table(child("pipeline", config, str(case["count"]))))
            print(f"\n({time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.2f})\n",
                  flush=True)
    return 0


def peak_memory_mode(args) -> int:
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
        try:
            figures = child("train", config)
        except RuntimeError as e:
            print(e, file=sys.stderr)
            if args.cache:
                print(f"\n[train] cache = {args.cache!r} failed (above): the trainer may not support it yet.",
                      file=sys.stderr)
            return 1
    cache_note = ""
    if args.cache:
        lines = [line for line in figures["stdout"].splitlines() if line.startswith("=== cache:")]
        cache_note = (f"\n{lines[0]}" if lines else
                      f"\nNOTE: [train] cache = {args.cache!r} was set, but the trainer printed no "
                      "'=== cache:' line: it does not read the key yet, so this run had no cache.")
    seconds = figures["epoch_seconds"]
    print(
        f"size {args.size}px, {args.count} training images, batch {args.batch}, "
        f"{args.layers} levels of {args.filters}+ filters, {os.cpu_count()} CPUs\n"
        f"epoch seconds: {', '.join(f'{s:.1f}' for s in seconds)}\n"
        f"images/s (last epoch, validation included): {args.count / seconds[-1]:.1f}\n"
        f"peak RSS: {figures['peak_rss_mib']:.0f} MiB{cache_note}"
    )
    return 0


def main() -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128, help="peak-memory mode: image and model size")
    parser.add_argument("--count", type=int, default=None,
                        help="training pairs (peak-memory mode: 200; --compare: 48)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (peak-memory mode: 4; --compare: 2)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per process (peak-memory mode: 2; --compare: 3, the first left out)")
    parser.add_argument("--layers", type=int, default=None, help="num_layers (peak-memory mode: 4; --compare: 6)")
    parser.add_argument("--filters", type=int, default=16, help="base_filters")
    parser.add_argument("--cache", help='peak-memory mode: [train] cache ("memory" or a file path)')
    parser.add_argument("--compare", nargs="?", const=DEFAULT_CASES, metavar="CASES",
                        help=f"comparison mode; default cases {DEFAULT_CASES}")
    parser.add_argument("--rounds", type=int, default=2,
                        help="--compare: training processes per side and case (0: none), inference repeats / 2")
    parser.add_argument("--kernels", type=int, default=5, help="--compare: base_kernels (shipped: 9)")
    parser.add_argument("--valid", type=int, default=8, help="--compare: validation pairs")
    parser.add_argument("--infer-count", type=int, default=32, help="--compare: images 3.infer predicts")
    parser.add_argument("--src", help="the toolkit sources to measure (default: this checkout's src/); "
                        "e.g. a `git archive HEAD src | tar -x -C DIR` export while the tree is mid-edit")
    parser.add_argument("--source-size", type=int, default=512, help="--compare: size of the generated files")
    for kind in ("train", "bare", "infer", "pipeline"):
        parser.add_argument(f"--{kind}-only", help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="?", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_only:
        train_only(args.train_only, started)
        return 0
    if args.bare_only:
        bare_only(args.bare_only, started)
        return 0
    if args.infer_only:
        infer_only(args.infer_only, args.extra)
        return 0
    if args.pipeline_only:
        pipeline_only(args.pipeline_only, args.extra)
        return 0
    if args.src:
        os.environ["TOOLKIT_SRC"] = os.path.abspath(args.src)  # for the children
    compare_mode = args.compare is not None
    for key, (memory, comparison) in {"count": (200, 48), "batch": (4, 2), "epochs": (2, 3),
                                      "layers": (4, 6)}.items():
        if getattr(args, key) is None:
            setattr(args, key, comparison if compare_mode else memory)
    return compare(args) if compare_mode else peak_memory_mode(args)


if __name__ == "__main__":
    sys.exit(main())
