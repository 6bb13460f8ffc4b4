"""Does training learn real anatomy? Dice on held-out patients of real data.

Splits an `images/`+`masks/` folder by volume (patient) id into train, valid
and test (the last patients by sorted id are held out), trains a CPU-sized
TensorflowUNet with the real trainer, evaluates on the held-out patients
with the real evaluator, and prints the test dice_coef, the config and the
time taken, then a Markdown table of the evaluator's per-volume results
(evaluation_per_volume.csv: Dice, HD95 and ASSD per held-out patient) and its
summary (evaluation_summary.json: per-volume Dice mean ± sample SD with the
seeded bootstrap 95 % CI, median, HD95 mean ± SD, per-image Dice mean) next
to the original's batch dice_coef. Distances are in mm when the summary says
so, else in pixels (no manifest.csv and no [eval] pixel_spacing). Nothing is
written outside a temporary folder.

Defaults train 40 epochs (early stopping, patience 8); use --epochs for a
shorter run. --config FILE measures a project's own config instead (its data
keys pointed at the split, everything else as written), e.g. the recommended
Pancreas-T1 config trained on NIH patients 0001-0040 and tested on 0041-0049:

    python benchmarks/learn_real_anatomy.py ../shared/data/Pancreas-CT-NIH --test-volumes 9 \
        --config projects/TensorflowSlightlyFlexibleUNet/Pancreas-T1/train_eval_infer_recommended.config

--crop N trains and tests on each slice's centred N x N pixels (copied as PNG;
refused if that cuts a mask). The training CPU seconds (all cores, the
trainer's process) are printed next to the wall time.

Usage:
    python benchmarks/learn_real_anatomy.py ../shared/data/Pancreas-CT-NIH
"""

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

from ConfigParser import ConfigParser  # noqa: E402
from CrossValidator import DATA_KEYS  # noqa: E402
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


def split(source: str, target: str, valid: int, test: int, crop: int | None = None) -> dict[str, list[str]]:
    """Copies of the pairs in train/, valid/ and test/ by volume; with `crop`, each slice's centred
    `crop` px square instead, as PNG: images losslessly, masks as the 0/255 foreground the dataset
    reads from a JPEG mask (grey >= 128; as PNG, any non-zero grey would be foreground)."""
    pairs = pair_files(os.path.join(source, "images"), os.path.join(source, "masks"))
    volumes = sorted({volume_id(image) for image, _ in pairs})
    held = {v: "test" for v in volumes[-test:]}
    held.update({v: "valid" for v in volumes[-(test + valid) : -test]})
    for pair in pairs:
        part = held.get(volume_id(pair[0]), "train")
        for path, kind in zip(pair, ("images", "masks")):
            os.makedirs(os.path.join(target, part, kind), exist_ok=True)
            if crop is None:
                shutil.copy(path, os.path.join(target, part, kind))
                continue
            import cv2
            import numpy as np
            from pancreas_ablation import centre_crop

            image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if image is None:
                raise SystemExit(f"cannot read {path}")
            cropped = centre_crop(image, crop, path, mask=kind == "masks")
            if kind == "masks":
                cropped = np.where(cropped >= 128, 255, 0).astype(np.uint8)
            stem = os.path.splitext(os.path.basename(path))[0]
            cv2.imwrite(os.path.join(target, part, kind, stem + ".png"), cropped)
    return {p: sorted(v for v in volumes if held.get(v, "train") == p) for p in ("train", "valid", "test")}


def project_config(path: str, data: str) -> tuple[str, str]:
    """(text, eval_dir) of a project's config with its data keys pointed at the split in `data`.

    [infer] images_dir (the per-epoch previews' images) becomes the held-out test images.
    """
    sections = ConfigParser(path).to_dict()
    for (section, key), (part, folder) in DATA_KEYS.items():
        sections[section][key] = os.path.join(data, part, folder)
    if "images_dir" in sections.get("infer", {}):  # its mini_test is the project's, not this data's
        sections["infer"]["images_dir"] = os.path.join(data, "test", "images")
    from pancreas_ablation import render  # its row configs are written the same way

    return render(sections), sections["train"].get("eval_dir", "./eval")


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
    parser.add_argument("--config", help="a project's train_eval_infer.config to measure instead of the recipe "
                        "(--size, --layers, --filters, --epochs, --batch and --learning-rate then do nothing)")
    parser.add_argument("--crop", type=int, help="train and test on the centred CROP x CROP pixels of every "
                        "slice (stops if that cuts any mask's foreground)")
    parser.add_argument("--keep", help="copy the run's folder (models, logs, scores) here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        parts = split(args.data, os.path.join(tmp, "data"), args.valid_volumes, args.test_volumes, args.crop)
        for part, volumes in parts.items():
            count = len(os.listdir(os.path.join(tmp, "data", part, "images")))
            print(f"{part}: {len(volumes)} volumes, {count} images ({volumes[0]} … {volumes[-1]})")
        if args.config:
            config, eval_dir = project_config(args.config, os.path.join(tmp, "data"))
        else:
            eval_dir = "./eval"
            recipe = {k: v for k, v in vars(args).items() if k not in ("data", "config", "keep", "crop")}
            config = CONFIG.format(data=os.path.join(tmp, "data"), **recipe)
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
                usage = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = usage.ru_utime + usage.ru_stime
                with open(os.path.join(tmp, eval_dir, "train_losses.csv")) as f:
                    epochs = len(f.read().splitlines()) - 1
                with open(os.path.join(tmp, eval_dir, "train_metrics.csv")) as f:
                    print(f.read())
        scores = dict(line.split(",") for line in open(os.path.join(tmp, "evaluation.csv")).read().split())
        with open(os.path.join(tmp, "evaluation_per_volume.csv"), newline="") as f:
            per_volume = list(csv.DictReader(f))
        with open(os.path.join(tmp, "evaluation_per_image.csv"), newline="") as f:
            per_image = list(csv.DictReader(f))
        with open(os.path.join(tmp, "evaluation_summary.json")) as f:
            summary = json.load(f)
        if args.keep:
            shutil.copytree(tmp, args.keep, ignore=shutil.ignore_patterns("data"), dirs_exist_ok=True)
    print(config)
    print(f"trained {epochs} epochs in {trained / 60:.1f} min ({cpu:.0f} CPU s) on {os.cpu_count()} CPUs; "
          f"total {(time.perf_counter() - started) / 60:.1f} min")
    print(f"held-out patients: loss {scores['loss']}, dice_coef {scores['dice_coef']}")
    print()
    print(table(per_volume, per_image, summary, scores))
    return 0


def _number(value, digits: int = 3) -> str:
    """A CSV cell or summary value as a fixed-point number; '—' when empty or None (undefined)."""
    if value is None or value == "":
        return "—"
    return f"{float(value):.{digits}f}"


def _mean_sd(stats: dict, digits: int = 3) -> str:
    sd = f" ± {_number(stats['std'], digits)}" if stats.get("std") is not None else ""
    undefined = f" ({stats['n_undefined']} undefined)" if stats.get("n_undefined") else ""
    return f"{_number(stats['mean'], digits)}{sd} (n = {stats['n']}){undefined}"


def _slice_means(per_image: list[dict], unit: str) -> dict[str, tuple]:
    """volume → (mean HD95, mean ASSD) of its slices' 2-D distances (undefined ones skipped), in `unit`."""
    by_volume: dict[str, list[dict]] = {}
    for row in per_image:
        by_volume.setdefault(row["volume"], []).append(row)
    means = {}
    for volume, rows in by_volume.items():
        values = [[float(r[f"{k}_{unit}"]) for r in rows if r.get(f"{k}_{unit}")] for k in ("hd95", "assd")]
        means[volume] = tuple(sum(v) / len(v) if v else None for v in values)
    return means


def table(per_volume: list[dict], per_image: list[dict], summary: dict, scores: dict) -> str:
    """Markdown: one row per held-out patient, then the summary rows (a binary model's summary).

    A volume whose slices do not stack (a note such as "sparse") has no 3-D distances in
    evaluation_per_volume.csv; like the summary, its row shows the mean of its slices' 2-D ones, marked *.
    """
    unit = summary.get("volume_distance_unit", "px")
    why = "" if unit == "mm" else " (no manifest.csv or [eval] pixel_spacing: pixels)"
    slice_means = _slice_means(per_image, unit)
    lines = [f"| volume | slices | Dice | HD95 ({unit}) | ASSD ({unit}) | note |",
             "|---|---:|---:|---:|---:|---|"]
    marked = False
    for row in per_volume:
        hd95, assd = _number(row["hd95"], 1), _number(row["assd"], 1)
        if row.get("note") and not row["hd95"] and not row["assd"] and row["volume"] in slice_means:
            hd95, assd = (f"{_number(v, 1)}*" for v in slice_means[row["volume"]])
            marked = True
        lines.append(f"| {row['volume']} | {row['slices']} | {_number(row['dice'])} | {hd95} | {assd} "
                     f"| {row.get('note') or ''} |")
    if marked:
        lines.append("")
        lines.append("\\* slices not contiguous: mean of the slices' 2-D distances (as in the summary), not 3-D.")
    volumes, images = summary["volumes"], summary["images"]
    dice = volumes["dice"]
    ci = dice.get("ci95")
    ci_text = f"[{_number(ci[0])}, {_number(ci[1])}]" if ci else "—"
    lines += ["", "| summary | value |", "|---|---|",
              f"| per-volume Dice mean ± SD (sample) | {_mean_sd(dice)} |",
              f"| per-volume Dice 95 % CI (bootstrap, seed {summary.get('seed')}) | {ci_text} |",
              f"| per-volume Dice median | {_number(dice['median'])} |",
              f"| per-volume HD95 mean ± SD ({unit}){why} | {_mean_sd(volumes['hd95'], 1)} |",
              f"| per-volume ASSD mean ± SD ({unit}) | {_mean_sd(volumes['assd'], 1)} |",
              f"| per-image Dice mean | {_mean_sd(images['dice'])} |",
              f"| original batch dice_coef (evaluation.csv) | {_number(scores['dice_coef'])} |"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
