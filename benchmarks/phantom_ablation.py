"""Which volume levers help: context stacks, empty slices and the 3-D largest component, on phantoms.

The NIH slices of benchmarks/pancreas_ablation.py are sparse (pancreas-only),
so the levers that need whole volumes are measured here, with the same
protocol, on NIfTI phantoms of generator/synthetic_phantoms.py: the real
converter (generator/ImageMaskDatasetGenerator.py) writes every slice of every
phantom, `generator/split_master.py --folds K` splits them by patient, each
row trains with the real trainer for the same CPU time per fold
(benchmarks/cpu_budget.py) and the real evaluator scores each held-out
phantom as a whole volume (all its slices, contiguous: 3-D Dice, HD95 in mm).

What a row varies is what its model trains on: `--context K` stacks
(K = 0: one slice, 1: 3 slices as PNG, 2: 5 slices as .npy, image_channels
2K+1), and which empty slices (no pancreas) its train and valid splits keep:
the converter's own seeded choice (`empty_slices_kept`, what
`--keep-empty-fraction R` writes). Test splits keep every slice in every row.
"largest" re-scores a row's models with `[infer] largest_component` (3-D,
26 neighbours, since the slices are contiguous).

Usage:
    python benchmarks/phantom_ablation.py --work /tmp/phantoms [--rows slices empty context1 context2 largest]
        [--budget 150] [--phantoms 16] [--folds 2] [--figure docs/images/phantom_ablation.png]
"""

import argparse
import csv
import os
import subprocess
import sys
from collections import defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))
sys.path.insert(0, os.path.join(REPO, "generator"))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

from ImageMaskDatasetGenerator import ImageMaskDatasetGenerator, empty_slices_kept  # noqa: E402
from pancreas_ablation import figure, report, row_results, run_config  # noqa: E402
from synthetic_phantoms import write_phantoms  # noqa: E402

SIZE = 64
SEED = 137  # the phantoms', the converter's empty-slice choice and the folds'
# name → (what it varies, context K, fraction of empty slices kept in train/valid, training row or None)
ROWS = {
    "slices": ("one slice, pancreas slices only (the converter's default)", 0, 0.0, None),
    "empty": ("+ a third of the empty slices (--keep-empty-fraction 0.33)", 0, 0.33, None),
    "context1": ("+ 3-slice context stacks (--context 1, PNG)", 1, 0.33, None),
    "context2": ("5-slice context stacks instead (--context 2, .npy)", 2, 0.33, None),
    "largest": ("+ largest 3-D connected component ([infer] largest_component)", None, None, "context1"),
}


def base_config(context: int) -> dict:
    """A CPU-sized UNet with the NIH ablation's best slice levers (BatchNormalization, z-scores)."""
    return {
        "model": {"model": "TensorflowUNet", "generator": False, "image_width": SIZE, "image_height": SIZE,
                  "image_channels": 2 * context + 1, "input_normalize": False, "normalization": True,
                  "num_classes": 1, "base_filters": 16, "num_layers": 4, "base_kernels": (3, 3),
                  "dropout_rate": 0.05, "learning_rate": 0.001, "clipvalue": 0.5, "dilation": (1, 1),
                  "loss": "bce_dice_loss", "metrics": ["dice_coef"], "show_summary": False},
        "train": {"epochs": 200, "batch_size": 4, "patience": 200, "metrics": ["dice_coef", "val_dice_coef"],
                  "model_dir": "./models", "eval_dir": "./eval", "epoch_change_infer": False,
                  "learning_rate_reducer": True, "reducer_factor": 0.5, "reducer_patience": 4,
                  "save_weights_only": True, "create_backup": False, "cache": "memory"},
        "eval": {}, "test": {},
        "image": {"normalize": "zscore"},
        "mask": {"blur": False, "binarize": False},
        "infer": {"largest_component": False},
    }


def converted(work: str, context: int, phantoms: int) -> str:
    """WORK/data/k<K>/master: every slice of every phantom, converted with --context K."""
    nifti = os.path.join(work, "nifti")
    if not os.path.isdir(os.path.join(nifti, "imagesTr")):
        write_phantoms(nifti, count=phantoms, seed=SEED, shape=(96, 96, 24))
    master = os.path.join(work, "data", f"k{context}", "master")
    if not os.path.isfile(os.path.join(master, "manifest.csv")):
        ImageMaskDatasetGenerator(size=SIZE, keep_empty_fraction=1.0, context=context, seed=SEED).generate(
            os.path.join(nifti, "imagesTr"), os.path.join(nifti, "labelsTr"), master, progress=False)
    return master


def row_root(work: str, name: str, context: int, fraction: float, folds: int, phantoms: int) -> str:
    """WORK/roots/<row>: the folds of the k<K> conversion, train and valid keeping the row's empty slices."""
    master = converted(work, context, phantoms)
    root = os.path.join(work, "roots", name)
    if os.path.isfile(os.path.join(root, "splits.json")):
        return root
    subprocess.run([sys.executable, os.path.join(REPO, "generator", "split_master.py"), master, root,
                    "--folds", str(folds), "--seed", str(SEED)], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(master, "manifest.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    empty = defaultdict(list)
    for row in rows:
        if row["empty_mask"] == "1":
            empty[row["volume"]].append(int(row["slice"]))
    kept = {v: set(empty_slices_kept(sorted(s), fraction, SEED, v)) for v, s in empty.items()}
    dropped = [row for row in rows if row["empty_mask"] == "1" and int(row["slice"]) not in kept[row["volume"]]]
    for k in range(1, folds + 1):
        for split in ("train", "valid"):  # hard links to the master's files: the master keeps them
            for row in dropped:
                for kind, field in (("images", "image"), ("masks", "mask")):
                    path = os.path.join(root, f"fold_{k}", split, kind, row[field])
                    if os.path.exists(path):
                        os.remove(path)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="folder for the phantoms, conversions, folds and runs (kept)")
    parser.add_argument("--rows", nargs="*", default=list(ROWS))
    parser.add_argument("--budget", type=float, default=150, help="training CPU seconds per fold (all cores)")
    parser.add_argument("--phantoms", type=int, default=16)
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED, help="[train] seed of every row")
    parser.add_argument("--figure", help="write a plot of the per-volume Dice of each row here")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    for name in args.rows:
        description, context, fraction, source = ROWS[name]
        if source is None:
            root = row_root(args.work, name, context, fraction, args.folds, args.phantoms)
            run_config(name, base_config(context), "train", None, args.work, root, args.folds, args.budget,
                       args.seed, description)
        else:
            _, context, fraction, _ = ROWS[source]
            sections = base_config(context)
            sections["infer"]["largest_component"] = True
            root = row_root(args.work, source, context, fraction, args.folds, args.phantoms)
            run_config(name, sections, "eval", source, args.work, root, args.folds, args.budget, args.seed,
                       description)
    results = {name: row_results(name, args.work, args.folds) for name in args.rows}
    print(f"{os.cpu_count()} CPUs; {args.phantoms} phantoms, {args.folds} folds by patient; {SIZE} px; "
          f"{args.budget:.0f} training CPU s per fold; [train] seed {args.seed}\n")
    print(report(results, {name: ROWS[name][0] for name in args.rows}, args.work, unit="mm"))
    if args.figure:
        figure(results, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
