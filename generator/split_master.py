"""Splits a master images/ + masks/ folder into train/valid/test by patient.

Usage:
    python generator/split_master.py MASTER_DIR OUTPUT_DIR [--seed 137] [--by-slice]

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

`--by-slice` reproduces the original's slice-level split for comparison; it
puts slices of one patient in several splits, which inflates scores.
"""

import argparse
import csv
import os
import random
import shutil
import sys

# Runnable by path: the volume-id rule lives with the toolkit, in src/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src"))

from atomic import atomic_path  # noqa: E402
from errors import DataError  # noqa: E402
from ImageMaskDataset import pair_files  # noqa: E402
from volume_ids import grouping, no_ids_reason, volume_id  # noqa: E402

SPLITS = ("train", "valid", "test")
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
    for image, mask in pairs:
        split = assignment[key(image)]
        for source, kind in ((image, "images"), (mask, "masks")):
            folder = os.path.join(output_dir, split, kind)
            os.makedirs(folder, exist_ok=True)
            with atomic_path(os.path.join(folder, os.path.basename(source))) as tmp:
                shutil.copy2(source, tmp)
    _write_split_csv(output_dir, pairs, assignment, key, by_file)
    _copy_manifest(master_dir, output_dir, pairs, assignment, key)
    return assignment


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
    args = parser.parse_args(argv)
    if args.by_slice:
        print("WARNING: --by-slice leaks patients across splits: slices of one patient land in several "
              "splits, and validation and test scores are inflated by patients the model was trained on.",
              file=sys.stderr)
    try:
        assignment = split_master(args.master_dir, args.output_dir, args.seed, args.by_slice)
    except (DataError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    counts = {split: _count_images(args.output_dir, split) for split in SPLITS}
    # One unit per image: split by file. Volume units never are, as some volume has two files.
    by_file = len(assignment) == sum(counts.values())
    unit = "slices" if args.by_slice else "files" if by_file else "volumes"
    for split in SPLITS:
        members = sum(1 for s in assignment.values() if s == split)
        print(f"num_{split:<5} {counts[split]:5d} images from {members} {unit}")
    print(f"=== Wrote {os.path.join(args.output_dir, 'split.csv')}")
    return 0


def _count_images(output_dir: str, split: str) -> int:
    folder = os.path.join(output_dir, split, "images")
    return len(os.listdir(folder)) if os.path.isdir(folder) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
