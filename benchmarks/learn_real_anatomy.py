"""Does training learn real anatomy? Dice on held-out patients of real data.

Splits an `images/`+`masks/` folder by volume (patient) id into train, valid
and test (the last patients by sorted id are held out), trains a CPU-sized
TensorflowUNet with the real trainer, evaluates on the held-out patients
with the real evaluator, and prints the test dice_coef, the config and the
time taken. Nothing is written outside a temporary folder.

Usage:
    python benchmarks/learn_real_anatomy.py ../shared/data/Pancreas-CT-NIH
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

from ImageMaskDataset import pair_files  # noqa: E402
from volume_ids import volume_id  # noqa: E402

CONFIG = """\
[model]
model = "TensorflowUNet"
image_width = {size}
image_height = {size}
image_channels = 3
input_normalize = True
normalization = True
num_classes = 1
base_filters = {filters}
num_layers = {layers}
base_kernels = (5, 5)
dilation = (1, 1)
dropout_rate = 0.05
learning_rate = {learning_rate}
clipvalue = 0.5
loss = "bce_dice_loss"
metrics = ["dice_coef"]

[train]
epochs = {epochs}
batch_size = {batch}
patience = 8
metrics = ["dice_coef", "val_dice_coef"]
model_dir = "./models"
eval_dir = "./eval"
image_datapath = "{data}/train/images"
mask_datapath = "{data}/train/masks"
learning_rate_reducer = True
reducer_factor = 0.5
reducer_patience = 3
save_weights_only = True

[eval]
image_datapath = "{data}/valid/images"
mask_datapath = "{data}/valid/masks"
batch_size = 4

[test]
image_datapath = "{data}/test/images"
mask_datapath = "{data}/test/masks"

[mask]
binarize = True
threshold = 127
"""


def split(source: str, target: str, valid: int, test: int) -> dict[str, list[str]]:
    pairs = pair_files(os.path.join(source, "images"), os.path.join(source, "masks"))
    volumes = sorted({volume_id(image) for image, _ in pairs})
    held = {v: "test" for v in volumes[-test:]}
    held.update({v: "valid" for v in volumes[-(test + valid) : -test]})
    for pair in pairs:
        part = held.get(volume_id(pair[0]), "train")
        for path, kind in zip(pair, ("images", "masks")):
            os.makedirs(os.path.join(target, part, kind), exist_ok=True)
            shutil.copy(path, os.path.join(target, part, kind))
    return {p: sorted(v for v in volumes if held.get(v, "train") == p) for p in ("train", "valid", "test")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", help="folder with images/ and masks/")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--valid-volumes", type=int, default=6)
    parser.add_argument("--test-volumes", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        parts = split(args.data, os.path.join(tmp, "data"), args.valid_volumes, args.test_volumes)
        for part, volumes in parts.items():
            count = len(os.listdir(os.path.join(tmp, "data", part, "images")))
            print(f"{part}: {len(volumes)} volumes, {count} images ({volumes[0]} … {volumes[-1]})")
        config = CONFIG.format(data=os.path.join(tmp, "data"), **{k: v for k, v in vars(args).items() if k != "data"})
        with open(os.path.join(tmp, "train_eval_infer.config"), "w") as f:
            f.write(config)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        started = time.perf_counter()
        for script in ("TensorflowUNetTrainer.py", "TensorflowUNetEvaluator.py"):
            result = subprocess.run([sys.executable, os.path.join(REPO, "src", script)], cwd=tmp, env=env,
                                    capture_output=True, text=True)
            if result.returncode:
                print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
                return 1
            if script.endswith("Trainer.py"):
                trained = time.perf_counter() - started
                epochs = len(open(os.path.join(tmp, "eval", "train_losses.csv")).read().splitlines()) - 1
                print(open(os.path.join(tmp, "eval", "train_metrics.csv")).read())
        scores = dict(line.split(",") for line in open(os.path.join(tmp, "evaluation.csv")).read().split())
    print(config)
    print(f"trained {epochs} epochs in {trained / 60:.1f} min on {os.cpu_count()} CPUs; "
          f"total {(time.perf_counter() - started) / 60:.1f} min")
    print(f"held-out patients: loss {scores['loss']}, dice_coef {scores['dice_coef']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
