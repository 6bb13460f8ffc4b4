"""Does the augmented stream keep pace with training? Images/s with and without.

Trains the shipped Pancreas-T1 config, except `num_layers = 6`,
`base_kernels = (5, 5)`, 256 px and batch 2, in generator mode on real T1
slices, once with the shipped augmentation sections (`[generator]
augmentation = True`) and once on the plain stream (`False`), each in a
fresh process, and prints images/s of each (the median epoch after the
first, which includes tracing) and their ratio.

Usage:
    python benchmarks/augmentation_throughput.py [../shared/data/Pancreas-T1-mini] [--steps 40] [--epochs 4]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Pancreas-T1", "train_eval_infer.config")
sys.path.insert(0, os.path.join(REPO, "src"))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

from learn_real_anatomy import split  # noqa: E402


def config_text(data: str, augmentation: bool, steps: int, epochs: int) -> str:
    with open(CONFIG) as f:
        text = f.read()
    replacements = [
        ("generator     = False", "generator     = True"),
        ("image_width    = 512", "image_width    = 256"),
        ("image_height   = 512", "image_height   = 256"),
        ("num_layers     = 8", "num_layers     = 6"),
        ("base_kernels   = (9,9)", "base_kernels   = (5,5)"),
        ("epochs        = 100", f"epochs        = {epochs}"),
        ("steps_per_epoch  = 200", f"steps_per_epoch  = {steps}"),
        ("validation_steps = 80", "validation_steps = 4"),
        ("epoch_change_infer     = True", "epoch_change_infer     = False"),
        ("augmentation = True", f"augmentation = {augmentation}"),
        ("../../../dataset/Pancreas-T1/", data + "/"),
    ]
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


def measure(data: str, augmentation: bool, steps: int, epochs: int) -> dict:
    with tempfile.TemporaryDirectory() as project:
        path = os.path.join(project, "train_eval_infer.config")
        with open(path, "w") as f:
            f.write(config_text(data, augmentation, steps, epochs))
        child = os.path.join(REPO, "benchmarks", "train_throughput.py")
        result = subprocess.run([sys.executable, child, "--train-only", path], capture_output=True, text=True,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        if result.returncode:
            raise RuntimeError(result.stdout[-2000:] + result.stderr[-2000:])
        return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=os.path.join(os.path.dirname(REPO), "shared", "data",
                                                                 "Pancreas-T1-mini"))
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch (batch 2)")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        split(args.data, tmp, valid=2, test=2)
        shutil.rmtree(os.path.join(tmp, "test"))
        rates = {}
        for augmentation in (False, True):
            figures = measure(tmp, augmentation, args.steps, args.epochs)
            seconds = figures["epoch_seconds"]
            rates[augmentation] = 2 * args.steps / statistics.median(seconds[1:] or seconds)
            print(f"augmentation={augmentation}: epoch seconds {', '.join(f'{s:.1f}' for s in seconds)}; "
                  f"{rates[augmentation]:.2f} images/s (median epoch after the first, validation included); "
                  f"peak RSS {figures['peak_rss_mib']:.0f} MiB")
    print(f"augmented / plain throughput: {rates[True] / rates[False]:.0%} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
