"""Time of 2.evaluate's per-image evaluation against plain `model.predict` on the same images.

Writes --count random S×S image/mask pairs (noise with a bright disc; the disc
is the mask), 20 volumes of slices `<volume>_<slice>.png`, into a temporary
folder, builds a TensorflowUNet (random weights, base_filters 16, 6 levels) at S px and measures:

  predict     `model.predict` over the split, read through the training pipeline (make_dataset)
  evaluation  `CaseEvaluator.evaluate`: one prediction pass, per-image metrics (overlap, HD95, ASSD),
              per-volume 3-D distances, the CSVs, the summary with its bootstraps, the worst cases

and prints both, their ratio (the target: at most 1.5) and the share of
predicted foreground (random weights: distances are costlier than a trained
model's tidy masks would make them).

On this project's 2-core CPU machine, idle: predict 41.0 s,
evaluation 42.7 s, ratio 1.04 (seed 137, 97 % foreground); seed 4 (50 %, salt-and-pepper
masks, the costliest surfaces): 41.0 s, 41.9 s, 1.02.

Usage:
    python benchmarks/evaluation_speed.py [--count 1000] [--size 256] [--batch-size 4] [--seed 137]
"""

import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOLUMES = 20


def write_pairs(folder: str, count: int, size: int) -> None:
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    for kind in ("images", "masks"):
        os.makedirs(os.path.join(folder, kind), exist_ok=True)
    for n in range(count):
        mask = np.zeros((size, size), np.uint8)
        radius = int(rng.integers(size // 16, size // 6))
        centre = tuple(int(c) for c in rng.integers(radius + 2, size - radius - 2, 2))
        cv2.circle(mask, centre, radius, 255, -1)
        image = rng.normal(60, 12, (size, size)) + (mask > 0) * 110
        name = f"{100 + n % VOLUMES}_{n // VOLUMES}.png"
        cv2.imwrite(os.path.join(folder, "images", name), image.clip(0, 255).astype(np.uint8))
        cv2.imwrite(os.path.join(folder, "masks", name), mask)


def config_text(folder: str, size: int, batch_size: int) -> str:
    return (
        f'[model]\nmodel = "TensorflowUNet"\nimage_width = {size}\nimage_height = {size}\nimage_channels = 3\n'
        'num_classes = 1\nbase_filters = 16\nnum_layers = 6\ndropout_rate = 0.05\nlearning_rate = 0.001\n'
        'loss = "bce_dice_loss"\nmetrics = ["dice_coef"]\n\n'
        f"[eval]\nbatch_size = {batch_size}\n\n"
        f"[test]\nimage_datapath = {os.path.join(folder, 'images')!r}\n"
        f"mask_datapath = {os.path.join(folder, 'masks')!r}\n"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=137, help="of the random weights (they decide the masks' shape)")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(REPO, "src"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    from CaseEvaluator import CaseEvaluator
    from ConfigParser import ConfigParser
    from data_pipeline import PairReader, make_dataset
    from ImageMaskDataset import ImageMaskDataset
    from ModelRegistry import create_model

    with tempfile.TemporaryDirectory() as folder:
        write_pairs(folder, args.count, args.size)
        config = ConfigParser.from_string(config_text(folder, args.size, args.batch_size), "evaluation_speed.config")
        dataset = ImageMaskDataset(config)
        pairs = dataset.pairs("test")
        keras.utils.set_random_seed(args.seed)  # the same random weights, so the same predictions, every run
        model = create_model(config).model
        model.predict(make_dataset(pairs[: args.batch_size], PairReader(dataset), args.batch_size), verbose=0)  # warm
        start = time.perf_counter()
        maps = model.predict(make_dataset(pairs, PairReader(dataset), args.batch_size), verbose=0)
        predict_s = time.perf_counter() - start
        os.chdir(folder)  # the evaluation's files go to the temporary folder
        evaluator = CaseEvaluator(config, dataset, model, "test")
        start = time.perf_counter()
        evaluator.evaluate(pairs)
        evaluate_s = time.perf_counter() - start
        os.chdir(REPO)
    print(f"{args.count} images of {args.size} px, batch {args.batch_size}, {os.cpu_count()} CPUs; "
          f"predicted foreground {100 * float(np.mean(maps >= 0.5)):.1f}% of pixels")
    print(f"model.predict:            {predict_s:.1f} s")
    print(f"per-image evaluation:     {evaluate_s:.1f} s")
    print(f"ratio:                    {evaluate_s / predict_s:.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
