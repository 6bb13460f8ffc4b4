"""Which levers help pancreas segmentation: an ablation cross-validated by patient.

Each row is a config: the original's shipped Pancreas-T1 config, CPU-sized
(128 px, base_kernels (5,5), num_layers 6, dilation (2,2); no previews), then
levers added one at a time, then other model families with the best levers.
Every row trains with the real trainer on each fold of a patient-level split
(`generator/split_master.py --folds K`) for the same CPU time
(`benchmarks/cpu_budget.py`: stopped like Ctrl-C once the budget is spent,
best weights kept), and is scored by the real evaluator on the fold's held-out
patients (`src/CrossValidator.py`). Rows marked "eval" train nothing: they
score an earlier row's models with an inference-time lever ([infer]
largest_component, [infer] mirror). Rows that set [train] steps_per_epoch and
validation_steps (the augmenting generator's) were sized for an epoch of about
one pass over a 2-fold split's slices; with other --folds they are scaled to
the split's slices per fold.

The data are first resized to --size px with the dataset's own nearest-neighbour
resize and written as PNG (identical pixels to what the dataset would feed the
model, read faster); JPEG masks are written as the 0/255 foreground the dataset
reads from them (grey >= 128), since a PNG's every non-zero pixel is foreground.
--crop N takes each slice's centred N x N source pixels first (refused if
that cuts a mask), so that the same --size sees the organ larger. Scores are
taken at the masks' size, i.e. at --size px; --at-source also scores every
row on its folds' test slices at the source resolution (rows <name>@source:
the model sees the same pixels, the masks are not downsized), where rows
with and without a crop are scored against the same masks.
Everything lives in --work, so a killed ablation resumes where it stopped (run
the same command again). Prints a Markdown table (pooled
per-volume Dice mean ± sample SD over all patients, each scored by the fold that
held it out; HD95; training CPU time; epochs) and writes WORK/ablation.csv and,
with --figure, a plot of the per-volume Dice of each row.

Usage:
    python benchmarks/pancreas_ablation.py --data ../shared/data/Pancreas-CT-NIH --work /tmp/ablation \\
        [--rows shipped scaled ...] [--budget 480] [--folds 2] [--seed 137] [--crop 320] [--at-source] \\
        [--figure docs/images/ablation.png]
"""

import argparse
import csv
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from atomic import write_text  # noqa: E402
from ConfigParser import ConfigParser, ConfigWarning  # noqa: E402
from CrossValidator import DATA_KEYS  # noqa: E402

SHIPPED = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Pancreas-T1", "train_eval_infer.config")
SCRIPTS = {"train": "TensorflowUNetTrainer.py", "evaluate": "TensorflowUNetEvaluator.py"}

MILD_AUGMENTATION = {"hflip": False, "vflip": False, "rotation": True, "angles": [-10, -5, 5, 10],
                     "shrinks": [0.9], "shears": [0.05, -0.05], "deformation": False, "distortion": False,
                     "barrdistortion": False, "sharpening": False, "brightening": False}

# name → (what it adds, kind, overrides {section: {key: value}}, row it builds on)
# kind "train" trains per fold; "eval" re-scores the models of the row it builds on.
ROWS = {
    "shipped": ("the original's config, CPU-sized", "train", {}, None),
    "scaled": ("+ input scaling ×1/255 ([model] input_normalize)", "train",
               {"model": {"input_normalize": True}}, "shipped"),
    "bn_lr": ("+ BatchNormalization, learning rate 1e-3", "train",
              {"model": {"normalization": True, "learning_rate": 0.001}}, "scaled"),
    "zscore": ("+ per-image z-score instead of ×1/255 ([image] normalize)", "train",
               {"model": {"input_normalize": False}, "image": {"normalize": "zscore"}}, "bn_lr"),
    # epochs 8: about what the budget allows at 128 px (shipped: 6 per fold), so that the rate decays
    "cosine": ("+ cosine schedule over 8 epochs, 1 warm-up epoch (no reducer)", "train",
               {"train": {"lr_schedule": "cosine", "warmup_epochs": 1, "epochs": 8,
                          "learning_rate_reducer": False}}, "zscore"),
    "augment": ("+ online augmentation (flips, rotations, shrinks, shears)", "train",
                {"model": {"generator": True},
                 "train": {"steps_per_epoch": 60, "validation_steps": 20},
                 "augmentor": {"deformation": False, "distortion": False, "barrdistortion": False}}, "cosine"),
    # the network of learn_real_anatomy.py's recipe, on top of z-scores (mild_aug builds on it)
    "unet5": ("+ 5 levels without dilation, batch 4", "train",
              {"model": {"num_layers": 5, "dilation": (1, 1)}, "train": {"batch_size": 4}}, "zscore"),
    # the recommended config's augmentation: small rotations, a shrink and shears, no flips (abdominal
    # anatomy is not mirror-symmetric); an epoch is still about one pass (~150 slices, ~67 to validate)
    "mild_aug": ("+ mild online augmentation: rotations ±5–10°, shrink 0.9, shears ±0.05, no flips "
                 "(the recommended config)", "train",
                 {"model": {"generator": True},
                  "train": {"steps_per_epoch": 38, "validation_steps": 17},
                  "generator": {"debug": False, "augmentation": True},
                  "augmentor": MILD_AUGMENTATION}, "unet5"),
    # against the overfitting that ends mild_aug's folds (training Dice 0.83, validation 0.6): more and
    # larger geometric variants, elastic and smooth warps (the shipped [deformation] and [distortion]),
    # still no flips; brightening stays off, as per-image z-scores undo a linear change of intensity
    "strong_aug": ("+ stronger augmentation: rotations to ±15°, shrinks 0.8 and 0.9, shears to ±0.1, "
                   "elastic and smooth warps, no flips; patience 15", "train",
                   {"train": {"patience": 15},
                    "augmentor": {"angles": [-15, -10, -5, 5, 10, 15], "shrinks": [0.8, 0.9],
                                  "shears": [0.05, -0.05, 0.1, -0.1], "deformation": True, "distortion": True}},
                   "mild_aug"),
    # what mirroring does to a model that never saw a flip (mirroring.warn_if_untrained warns of it)
    "flipless_tta": ("+ largest component per image and test-time mirroring, on models trained without flips",
                     "eval", {"infer": {"largest_component": True, "mirror": True}}, "unet5"),
    "largest": ("+ largest connected component per image ([infer] largest_component)", "eval",
                {"infer": {"largest_component": True}}, "augment"),
    "mirror": ("+ test-time mirroring ([infer] mirror)", "eval", {"infer": {"mirror": True}}, "largest"),
}
# The slices per fold that the generator rows' steps were sized for (an epoch about one pass): the mean
# training and validation sets of the 2-fold split. With more folds each fold trains on more patients.
ONE_PASS = {"steps_per_epoch": ("train", 150.5), "validation_steps": ("valid", 67.0)}
FAMILY_ROWS = ("TensorflowAttentionUNet", "TensorflowMultiResUNet", "TensorflowUNet3Plus", "TensorflowSharpUNet")


def base_config(size: int) -> dict:
    """The shipped config as sections of values, CPU-sized, without previews."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        sections = ConfigParser(SHIPPED).to_dict()
    sections["model"].update(image_width=size, image_height=size, base_kernels=(5, 5), num_layers=6,
                             dilation=(2, 2))
    sections["train"].update(epoch_change_infer=False)
    sections.pop("tiledinfer", None)
    return sections


def row_config(name: str, size: int, best: str | None) -> tuple[dict, str]:
    """(sections, kind) of a row: its own overrides on top of every row it builds on."""
    if name in FAMILY_ROWS:
        from model_zoo import model_text

        sections, _ = row_config(best, size, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigWarning)
            family = ConfigParser.from_string(model_text(name, size)).to_dict()["model"]
        family.update(learning_rate=sections["model"]["learning_rate"], generator=sections["model"]["generator"])
        sections["model"] = family
        return sections, "train"
    chain = []
    while name:
        chain.append(name)
        name = ROWS[name][3]
    sections = base_config(size)
    for link in reversed(chain):
        for section, values in ROWS[link][2].items():
            sections.setdefault(section, {}).update(values)
    return sections, ROWS[chain[0]][1]


def render(sections: dict) -> str:
    return "".join(f"[{s}]\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items()) + "\n"
                   for s, values in sections.items())


def centre_crop(image: np.ndarray, crop: int | None, path: str, mask: bool = False) -> np.ndarray:
    """The centred `crop` x `crop` pixels of `image` (all of it when `crop` is None); of a `mask`,
    only if they hold all its foreground (grey >= 128)."""
    if crop is None:
        return image
    height, width = image.shape[:2]
    if crop > min(height, width):
        raise SystemExit(f"--crop {crop} is larger than {path} ({width}x{height})")
    top, left = (height - crop) // 2, (width - crop) // 2
    cropped = image[top:top + crop, left:left + crop]
    if mask and np.count_nonzero(image >= 128) != np.count_nonzero(cropped >= 128):
        # Foreground outside the crop would vanish from the ground truth and flatter the scores.
        raise SystemExit(f"--crop {crop} cuts foreground of {path}: use a larger crop")
    return cropped


def prepare(data: str, work: str, size: int, folds: int, seed: int, crop: int | None = None) -> str:
    """WORK/folds: the data (its centred `crop` px square, if given) resized to `size` px (PNG),
    split by patient into `folds` folds."""
    root = os.path.join(work, "folds")
    recipe = {"size": size, "crop": crop, "folds": folds}
    stamp = os.path.join(work, "prepared.json")
    if os.path.isfile(stamp) and (prepared := json.loads(_read(stamp))) != recipe:
        raise SystemExit(f"{work} holds data prepared as {prepared}, not {recipe}: use another --work folder")
    if os.path.isfile(os.path.join(root, "splits.json")):
        return root
    master = os.path.join(work, "master")
    for kind in ("images", "masks"):
        os.makedirs(os.path.join(master, kind), exist_ok=True)
        for path in sorted(glob.glob(os.path.join(data, kind, "*"))):
            image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if image is None:
                raise SystemExit(f"cannot read {path}")
            cropped = centre_crop(image, crop, path, mask=kind == "masks")
            # INTER_NEAREST: the dataset's resize of images ([dataset] resize_interpolation) and masks
            small = cv2.resize(cropped, (size, size), interpolation=cv2.INTER_NEAREST)
            if kind == "masks" and os.path.splitext(path)[1].lower() in (".jpg", ".jpeg"):
                # The foreground the dataset reads from a JPEG mask (grey >= 128 with binarize = False),
                # written 0/255: as PNG its compression fringe (1..127, a third more pixels on NIH)
                # would count as foreground.
                small = np.where(small >= 128, 255, 0).astype(np.uint8)
            stem = os.path.splitext(os.path.basename(path))[0]
            cv2.imwrite(os.path.join(master, kind, stem + ".png"), small)
    subprocess.run([sys.executable, os.path.join(REPO, "generator", "split_master.py"), master, root,
                    "--folds", str(folds), "--seed", str(seed)], check=True)
    write_text(stamp, json.dumps(recipe))
    return root


def run_row(name: str, work: str, root: str, folds: int, budget: float, size: int, seed: int,
            best: str | None) -> None:
    sections, kind = row_config(name, size, best)
    source = None
    if kind == "eval":  # the models of the training row it builds on
        source = ROWS[name][3]
        while ROWS[source][1] == "eval":
            source = ROWS[source][3]
    run_config(name, sections, kind, source, work, root, folds, budget, seed, row_description(name))


def one_pass(train: dict, root: str, folds: int) -> dict:
    """A copy of the [train] section `train`, its steps scaled by the split's mean slices per fold over
    ONE_PASS's, so that an epoch stays about one pass whatever --folds is (unchanged on 2 folds)."""
    scaled = dict(train)
    for key, (split, slices) in ONE_PASS.items():
        if key in train:
            mean = statistics.fmean(len(os.listdir(os.path.join(root, f"fold_{k}", split, "images")))
                                    for k in range(1, folds + 1))
            scaled[key] = max(1, round(train[key] * mean / slices))
    return scaled


def run_config(name: str, sections: dict, kind: str, source: str | None, work: str, root: str, folds: int,
               budget: float, seed: int, description: str) -> None:
    """Row `name` through CrossValidator in WORK/rows/<name>: "train" trains each fold of `root` for
    `budget` CPU s, then evaluates; "eval" evaluates the models of row `source`."""
    sections["train"]["seed"] = seed
    if kind == "train" and sections["model"].get("generator"):  # steps count only with the generator
        sections["train"] = one_pass(sections["train"], root, folds)
    project = os.path.join(work, "rows", name)
    os.makedirs(project, exist_ok=True)
    for (section, key), (split, folder) in DATA_KEYS.items():  # CrossValidator points them at each fold
        sections[section][key] = os.path.join(root, "fold_1", split, folder)
    sections["model"]["evaluation"] = "test"
    config = os.path.join(project, "train_eval_infer.config")
    text = render(sections)
    if not os.path.exists(config) or _read(config) != text:  # unchanged: CrossValidator's state stays valid
        write_text(config, text)
    python = sys.executable
    src = os.path.join(REPO, "src")
    steps = [("evaluate", [python, os.path.join(src, SCRIPTS["evaluate"]), "{config}"])]
    if kind == "train":
        steps.insert(0, ("train", [python, os.path.join(REPO, "benchmarks", "cpu_budget.py"), str(budget), "--",
                                   python, os.path.join(src, SCRIPTS["train"]), "{config}"]))
    else:  # score the models of row `source`
        for k in range(1, folds + 1):
            fold = os.path.join(project, f"fold_{k}")
            os.makedirs(fold, exist_ok=True)
            link = os.path.join(fold, "models")
            if not os.path.lexists(link):
                os.symlink(os.path.join(work, "rows", source, f"fold_{k}", "models"), link)
            shutil.copy(os.path.join(work, "rows", source, f"fold_{k}", "cpu_budget.json"), fold)
    print(f"==== row {name}: {description}", flush=True)
    started = time.perf_counter()
    code = subprocess.run([python, "-c", "import sys, CrossValidator as c; sys.exit(c.main(sys.argv[1:], "
                           f"steps={steps!r}))", config, str(folds), root], cwd=src,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=src)).returncode
    if code:
        raise SystemExit(f"row {name} failed (exit code {code}); run the same command again to resume")
    print(f"==== row {name}: {(time.perf_counter() - started) / 60:.1f} min", flush=True)


def source_test_split(data: str, work: str, crop: int | None, k: int) -> str:
    """WORK/source/fold_<k>: fold k's test slices as the source files hold them (their centred `crop`
    px square, if given), PNG, masks as the 0/255 foreground the dataset reads (grey >= 128)."""
    root = os.path.join(work, "source", f"fold_{k}")
    stamp = os.path.join(root, "complete")
    if os.path.isfile(stamp):
        return root
    for name in sorted(os.listdir(os.path.join(work, "folds", f"fold_{k}", "test", "images"))):
        stem = os.path.splitext(name)[0]
        for kind in ("images", "masks"):
            found = [p for p in glob.glob(os.path.join(data, kind, stem + ".*"))
                     if os.path.splitext(p)[0] == os.path.join(data, kind, stem)]
            if len(found) != 1:
                raise SystemExit(f"{os.path.join(data, kind)} holds {len(found)} files named {stem}.*, not one")
            source = centre_crop(cv2.imread(found[0], cv2.IMREAD_UNCHANGED), crop, found[0])
            if kind == "masks":
                source = np.where(source >= 128, 255, 0).astype(np.uint8)
            os.makedirs(os.path.join(root, kind), exist_ok=True)
            cv2.imwrite(os.path.join(root, kind, stem + ".png"), source)
    write_text(stamp, "")
    return root


def score_at_source(name: str, work: str, data: str, crop: int | None, folds: int) -> str:
    """Row `name`'s models scored by the evaluator on its folds' test slices at the source resolution
    (the model sees the same pixels; the masks are not downsized), in WORK/rows/<name>@source.

    Rows on differently cropped data are compared there, against the same masks."""
    scored = f"{name}@source"
    for k in range(1, folds + 1):
        fold = os.path.join(work, "rows", name, f"fold_{k}")
        target = os.path.join(work, "rows", scored, f"fold_{k}")
        if os.path.isfile(os.path.join(target, "evaluation_per_volume.csv")):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigWarning)
            sections = ConfigParser(os.path.join(fold, "train_eval_infer.config")).to_dict()
        test = source_test_split(data, work, crop, k)
        sections["test"].update(image_datapath=os.path.join(test, "images"),
                                mask_datapath=os.path.join(test, "masks"))
        os.makedirs(target, exist_ok=True)
        write_text(os.path.join(target, "train_eval_infer.config"), render(sections))
        if not os.path.lexists(os.path.join(target, "models")):
            os.symlink(os.path.realpath(os.path.join(fold, "models")), os.path.join(target, "models"))
        shutil.copy(os.path.join(fold, "cpu_budget.json"), target)
        subprocess.run([sys.executable, os.path.join(REPO, "src", SCRIPTS["evaluate"])], cwd=target, check=True,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    return scored


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def row_description(name: str) -> str:
    if name.endswith("@source"):
        return row_description(name.removesuffix("@source")) + ", scored at the source resolution"
    return f"{name} with the best levers" if name in FAMILY_ROWS else ROWS[name][0]


def row_results(name: str, work: str, folds: int) -> dict:
    """Per-volume Dice and HD95 of every patient, training CPU seconds and epochs per fold."""
    from learn_real_anatomy import _slice_means

    project = os.path.join(work, "rows", name)
    dice, hd95, cpu, epochs = {}, [], [], []
    for k in range(1, folds + 1):
        fold = os.path.join(project, f"fold_{k}")
        with open(os.path.join(fold, "evaluation_per_volume.csv"), newline="") as f:
            volumes = list(csv.DictReader(f))
        with open(os.path.join(fold, "evaluation_per_image.csv"), newline="") as f:
            slices = _slice_means(list(csv.DictReader(f)), "px")
        for row in volumes:
            if row["dice"]:
                dice[row["volume"]] = float(row["dice"])
            distance = row["hd95"] or (slices.get(row["volume"], (None,))[0])
            if distance not in (None, ""):
                hd95.append(float(distance))
        with open(os.path.join(fold, "cpu_budget.json")) as f:
            cpu.append(json.load(f)["cpu_s"])
        losses = os.path.join(os.path.realpath(os.path.join(fold, "models")), "..", "eval", "train_losses.csv")
        epochs.append(len(open(losses).read().splitlines()) - 1 if os.path.isfile(losses) else 0)
    return {"dice": dice, "hd95": hd95, "cpu": cpu, "epochs": epochs}


def _mean_sd(values) -> str:
    values = list(values)
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else "—"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="images/ and masks/ of the master dataset")
    parser.add_argument("--work", required=True, help="folder for the resized data, folds and runs (kept)")
    parser.add_argument("--rows", nargs="*", default=list(ROWS) + ["TensorflowAttentionUNet"])
    parser.add_argument("--best", default="mild_aug", help="the row whose levers the family rows use")
    parser.add_argument("--budget", type=float, default=480, help="training CPU seconds per fold (all cores)")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--crop", type=int, help="train and score on the centred CROP x CROP source pixels of "
                        "every slice (stops if that cuts any mask's foreground)")
    parser.add_argument("--seed", type=int, default=137, help="[train] seed of every row (the split's is 137)")
    parser.add_argument("--at-source", action="store_true", help="also score every row on its test slices "
                        "at the source resolution (the masks not downsized): rows <name>@source")
    parser.add_argument("--figure", help="write a plot of the per-volume Dice of each row here")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    root = prepare(args.data, args.work, args.size, args.folds, 137, args.crop)
    for name in args.rows:
        run_row(name, args.work, root, args.folds, args.budget, args.size, args.seed, args.best)
    if args.at_source:
        args.rows += [score_at_source(name, args.work, args.data, args.crop, args.folds) for name in args.rows]
    results = {name: row_results(name, args.work, args.folds) for name in args.rows}
    crop = f" (the centred {args.crop} px of each slice)" if args.crop else ""
    print(f"{os.cpu_count()} CPUs; {args.folds} folds by patient; {args.size} px{crop}; "
          f"{args.budget:.0f} training CPU s per fold; [train] seed {args.seed}\n")
    print(report(results, {name: row_description(name) for name in args.rows}, args.work))
    if args.figure:
        figure(results, args.figure)
    return 0


def report(results: dict, descriptions: dict, work: str, unit: str = "px") -> str:
    """The Markdown table of `row_results` by row (HD95 in `unit`); writes every patient's Dice to
    WORK/ablation.csv."""
    lines = [f"| row | adds | per-volume Dice (mean ± SD) | patients | HD95 {unit} (mean ± SD) "
             "| training CPU s per fold | epochs per fold |", "|---|---|---|---|---|---|---|"]
    with open(os.path.join(work, "ablation.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "volume", "dice"])
        for name, r in results.items():
            for volume, value in sorted(r["dice"].items()):
                writer.writerow([name, volume, f"{value:.6f}"])
            lines.append(f"| {name} | {descriptions[name]} | {_mean_sd(r['dice'].values())} | {len(r['dice'])} "
                         f"| {_mean_sd(r['hd95'])} | {' / '.join(f'{c:.0f}' for c in r['cpu'])} "
                         f"| {' / '.join(map(str, r['epochs']))} |")
    return "\n".join(lines)


def figure(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(1.1 * len(names) + 2, 4))
    ax.boxplot([list(results[n]["dice"].values()) for n in names], showmeans=True)
    for i, name in enumerate(names, start=1):
        values = list(results[name]["dice"].values())
        ax.scatter([i + 0.12] * len(values), values, s=8, alpha=0.5)
    ax.set_xticks(range(1, len(names) + 1), [n.replace("Tensorflow", "") for n in names], rotation=30, ha="right")
    ax.set_ylabel("per-volume Dice (held-out patients)")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
