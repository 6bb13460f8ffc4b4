"""Splits a master images/ + masks/ folder into train/valid/test by patient.

Usage:
    python generator/split_master.py MASTER_DIR OUTPUT_DIR [--seed 137] [--by-slice]
    python generator/split_master.py MASTER_DIR OUTPUT_DIR --folds K [--seed 137] [--copy]

Every volume (patient scan) goes to exactly one split, in the original's
ratios applied to volumes: int(0.8·V) train, int(0.15·V) valid, the rest
test (each split keeps at least one volume when there are three or more).
Volumes are shuffled with a seed, so the split can be reproduced, and
`OUTPUT_DIR/split.csv` records which volume went where. A manifest.csv in
MASTER_DIR is copied with a `split` column added.

When the file names carry no volume ids (`volume_ids.grouping`: one id for
every file, as in `ISIC_0000001.jpg`, or a different id for every file),
each file is its own unit, split in the same ratios with the same seeded
shuffle, and a notice says so. Names of which some end in a slice number and
others do not are an error.

`--folds K` (K ≥ 2) writes K patient-disjoint splits for cross-validation
(`src/CrossValidator.py`): the shuffled volumes are dealt into K test folds
whose sizes differ by at most one, so every volume is tested in exactly one
fold. Fold k validates on as many volumes as the plain split would
(int(0.15·V), at least 1), drawn from the other folds by a shuffle seeded
with the seed and k, and trains on the rest. Each `OUTPUT_DIR/fold_<k>/`
looks like a plain split (train/, valid/, test/, split.csv, manifest.csv);
`OUTPUT_DIR/splits.json`, written last, lists the volumes of every fold.
The files are hard links to the master's where the file system allows (K
folds then cost no more disk than one), else copies; `--copy` always copies.

`--by-slice` reproduces the original's slice-level split for comparison; it
puts slices of one patient in several splits, which inflates scores.
"""

import argparse
import csv
import json
import os
import random
import shutil
import sys

# Runnable by path: the volume-id rule lives with the toolkit, in src/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src"))

from atomic import atomic_path, write_text  # noqa: E402
from errors import DataError  # noqa: E402
from ImageMaskDataset import pair_files  # noqa: E402
from volume_ids import grouping, no_ids_reason, volume_id  # noqa: E402

SPLITS = ("train", "valid", "test")
SPLITS_FILE = "splits.json"
RATIOS = (0.8, 0.15)  # train and valid; test takes the rest, as the original (docs/differences.md, S1)


def split_counts(total: int) -> tuple[int, int, int]:
    """(train, valid, test) counts for `total` units, none empty when total ≥ 3."""
    train, valid = int(RATIOS[0] * total), int(RATIOS[1] * total)
    if total >= 3:
        valid = max(valid, 1)
        train = min(train, total - valid - 1)
    return train, valid, total - train - valid


def assign(units: list[str], seed: int) -> dict[str, str]:
    """unit → split, from a seeded shuffle of the sorted units."""
    order = sorted(set(units))
    random.Random(seed).shuffle(order)
    train, valid, _ = split_counts(len(order))
    return {u: SPLITS[0] if i < train else SPLITS[1] if i < train + valid else SPLITS[2]
            for i, u in enumerate(order)}


def split_master(master_dir: str, output_dir: str, seed: int = 137, by_slice: bool = False) -> dict[str, str]:
    """Copies the pairs into OUTPUT_DIR/{train,valid,test}/{images,masks}.

    Returns the assignment (volume → split, or image file → split with
    `by_slice` or when the names carry no volume ids).

    Raises:
        DataError: the output folder is not empty, a file has no partner, or
            the names mix two conventions.
    """
    pairs = pair_files(os.path.join(master_dir, "images"), os.path.join(master_dir, "masks"))
    if os.path.isdir(output_dir) and os.listdir(output_dir):
        raise DataError(f"{output_dir} is not empty; choose a new output folder")
    by_file = by_slice or _carries_no_ids(master_dir, pairs)
    key = os.path.basename if by_file else volume_id
    assignment = assign([key(image) for image, _ in pairs], seed)
    _place(pairs, assignment, key, output_dir, link=False)
    _write_split_csv(output_dir, pairs, assignment, key, by_file)
    _copy_manifest(master_dir, output_dir, pairs, assignment, key)
    return assignment


def fold_assignments(units: list[str], folds: int, seed: int) -> list[dict[str, str]]:
    """unit → split for each of `folds` cross-validation folds (see the module docstring).

    Raises:
        DataError: too few units for every fold to have a test, a training
            and a validation unit.
    """
    order = sorted(set(units))
    random.Random(seed).shuffle(order)
    tests = [order[k::folds] for k in range(folds)]  # dealt round: sizes differ by at most one
    if len(order) < folds or len(order) - len(tests[0]) < 2:
        need = max(folds, 4 if folds == 2 else 3)
        raise DataError(f"{len(order)} volumes cannot make {folds} folds: each fold needs a test volume and "
                        f"at least one training and one validation volume besides (at least {need} volumes)")
    valid_count = split_counts(len(order))[1] or 1
    result = []
    for k, test in enumerate(tests, start=1):
        rest = sorted(set(order) - set(test))
        random.Random(f"{seed}/fold_{k}").shuffle(rest)
        valid = set(rest[: min(valid_count, len(rest) - 1)])
        result.append({u: "test" if u in test else "valid" if u in valid else "train" for u in order})
    return result


def split_folds(master_dir: str, output_dir: str, folds: int, seed: int = 137,
                link: bool = True) -> list[dict[str, str]]:
    """Writes OUTPUT_DIR/fold_<k>/ for k = 1…folds and OUTPUT_DIR/splits.json.

    Returns the assignment of each fold (volume → split, or file → split as
    `split_master`). `link`: hard-link the files where possible, else copy.

    Raises:
        DataError: as `split_master`, or too few volumes for `folds` folds.
    """
    if folds < 2:
        raise DataError(f"--folds {folds}: cross-validation needs at least 2 folds")
    pairs = pair_files(os.path.join(master_dir, "images"), os.path.join(master_dir, "masks"))
    if os.path.isdir(output_dir) and os.listdir(output_dir):
        raise DataError(f"{output_dir} is not empty; choose a new output folder")
    by_file = _carries_no_ids(master_dir, pairs)
    key = os.path.basename if by_file else volume_id
    assignments = fold_assignments([key(image) for image, _ in pairs], folds, seed)
    document = {"seed": seed, "folds": folds, "unit": "file" if by_file else "volume"}
    linked = 0
    for k, assignment in enumerate(assignments, start=1):
        fold_dir = os.path.join(output_dir, f"fold_{k}")
        linked += _place(pairs, assignment, key, fold_dir, link)
        _write_split_csv(fold_dir, pairs, assignment, key, by_file)
        _copy_manifest(master_dir, fold_dir, pairs, assignment, key)
        document[f"fold_{k}"] = {split: sorted(u for u, s in assignment.items() if s == split) for split in SPLITS}
    copied = 2 * len(pairs) * folds - linked
    print(f"=== {linked} files hard-linked to and {copied} copied from {master_dir}")
    # Last: a splits.json means every fold is complete (src/CrossValidator.py requires it).
    write_text(os.path.join(output_dir, SPLITS_FILE), json.dumps(document, indent=1) + "\n")
    return assignments


def _place(pairs, assignment, key, output_dir, link: bool) -> int:
    """Puts each pair into output_dir/<split>/{images,masks}; returns how many files were hard-linked."""
    linked = 0
    for image, mask in pairs:
        split = assignment[key(image)]
        for source, kind in ((image, "images"), (mask, "masks")):
            folder = os.path.join(output_dir, split, kind)
            os.makedirs(folder, exist_ok=True)
            with atomic_path(os.path.join(folder, os.path.basename(source))) as tmp:
                if link and _hard_link(source, tmp):
                    linked += 1
                else:
                    shutil.copy2(source, tmp)
    return linked


def _hard_link(source: str, target: str) -> bool:
    try:
        os.link(source, target)
        return True
    except OSError:  # another file system, or one without hard links (FAT, some network shares)
        return False


def _carries_no_ids(master_dir, pairs) -> bool:
    """True, with a notice, when every file is its own unit (`grouping`)."""
    images = [image for image, _ in pairs]
    if grouping(images) == "volume":
        return False
    # No patients to keep apart, so no leakage warning: only what was done.
    print(f"=== The file names in {os.path.join(master_dir, 'images')} carry no volume ids "
          f"({no_ids_reason(images)}): splitting by file, each file its own unit")
    return True


def _write_split_csv(output_dir, pairs, assignment, key, by_file) -> None:
    slices: dict[str, int] = {}
    for image, _ in pairs:
        slices[key(image)] = slices.get(key(image), 0) + 1
    with atomic_path(os.path.join(output_dir, "split.csv")) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["slice" if by_file else "volume", "split", "slices"])
        for unit in sorted(assignment):
            writer.writerow([unit, assignment[unit], slices[unit]])


def _copy_manifest(master_dir, output_dir, pairs, assignment, key) -> None:
    source = os.path.join(master_dir, "manifest.csv")
    if not os.path.isfile(source):
        return
    split_of = {os.path.basename(image): assignment[key(image)] for image, _ in pairs}
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    with atomic_path(os.path.join(output_dir, "manifest.csv")) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) + ["split"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "split": split_of.get(row.get("image", ""), "")})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Split a master dataset into train/valid/test by volume id.")
    parser.add_argument("master_dir", help="folder with images/ and masks/")
    parser.add_argument("output_dir", help="new or empty folder for train/, valid/, test/")
    parser.add_argument("--seed", type=int, default=137, help="shuffle seed (default 137)")
    parser.add_argument("--by-slice", action="store_true",
                        help="split slices, not volumes, as the original did (leaks patients across splits)")
    parser.add_argument("--folds", type=int, metavar="K",
                        help="write K cross-validation folds OUTPUT_DIR/fold_<k>/ and splits.json (K >= 2)")
    parser.add_argument("--copy", action="store_true", help="with --folds: copy the files, never hard-link them")
    args = parser.parse_args(argv)
    if args.folds is not None and args.folds < 2:
        parser.error(f"--folds {args.folds}: cross-validation needs at least 2 folds")
    if args.by_slice and args.folds is not None:
        parser.error("--by-slice and --folds: cross-validation folds are by patient")
    if args.copy and args.folds is None:
        parser.error("--copy applies to --folds only (a plain split always copies)")
    if args.by_slice:
        print("WARNING: --by-slice leaks patients across splits: slices of one patient land in several "
              "splits, and validation and test scores are inflated by patients the model was trained on.",
              file=sys.stderr)
    try:
        if args.folds is None:
            assignment = split_master(args.master_dir, args.output_dir, args.seed, args.by_slice)
        else:
            folds = split_folds(args.master_dir, args.output_dir, args.folds, args.seed, link=not args.copy)
    except (DataError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    if args.folds is None:
        _print_counts(args.output_dir, assignment, args.by_slice)
        print(f"=== Wrote {os.path.join(args.output_dir, 'split.csv')}")
        return 0
    for k, assignment in enumerate(folds, start=1):
        print(f"--- fold_{k}")
        _print_counts(os.path.join(args.output_dir, f"fold_{k}"), assignment, args.by_slice)
    print(f"=== Wrote {os.path.join(args.output_dir, SPLITS_FILE)} and fold_<k>/split.csv for k = 1…{args.folds}")
    return 0


def _print_counts(output_dir: str, assignment: dict[str, str], by_slice: bool) -> None:
    counts = {split: _count_images(output_dir, split) for split in SPLITS}
    # One unit per image: split by file. Volume units never are, as some volume has two files.
    by_file = len(assignment) == sum(counts.values())
    unit = "slices" if by_slice else "files" if by_file else "volumes"
    for split in SPLITS:
        members = sum(1 for s in assignment.values() if s == split)
        print(f"num_{split:<5} {counts[split]:5d} images from {members} {unit}")


def _count_images(output_dir: str, split: str) -> int:
    folder = os.path.join(output_dir, split, "images")
    return len(os.listdir(folder)) if os.path.isdir(folder) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
