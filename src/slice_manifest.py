"""The converter's manifest.csv: where it is, and the pixel spacing of each slice file it lists.

generator/ImageMaskDatasetGenerator.py writes `<output>/manifest.csv`, one
row per slice (file names, volume, slice index, voxel spacing in mm in L-P-I
order, and its settings); generator/split_master.py copies it into the folder
that holds train/, valid/ and test/. A slice file's pixels are the volume's
in-plane voxels padded to a square of `square_side` pixels, resized to `size`
and rotated by `rotation`, so one pixel spans spacing × square_side / size mm,
and a quarter turn swaps the row and column spacings.
"""

import csv
import os

from errors import DataError

MANIFEST = "manifest.csv"


def find_manifest(image_dir: str) -> str | None:
    """manifest.csv in the folder above `image_dir` (the converter's output), else in the one above
    that (split_master's), or None."""
    parent = os.path.dirname(os.path.abspath(os.path.normpath(image_dir)))
    for folder in (parent, os.path.dirname(parent)):
        candidate = os.path.join(folder, MANIFEST)
        if os.path.isfile(candidate):
            return candidate
    return None


def read_rows(manifest: str) -> list[dict]:
    """The rows of a manifest.csv, or a DataError naming the file."""
    try:
        with open(manifest, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{manifest}: cannot be read as a CSV file ({e})") from None


def slice_spacings(manifest: str) -> dict[str, tuple[float, float, float, int]]:
    """(row mm, column mm, slice mm, the converter's size) per image file name, at that size.

    Rows without `square_side` (an older converter's) or spacing are left out:
    their resize factor is unknown.

    Raises:
        DataError: a listed value is not a number.
    """
    spacings = {}
    for row in read_rows(manifest):
        try:
            side = row.get("square_side")
            if not side or not row.get("spacing_x_mm") or not row.get("size"):
                continue
            factor = float(side) / (float(row["size"]) or float(side))  # size 0: not resized
            x, y, z = (float(row[f"spacing_{a}_mm"]) for a in "xyz")
            turns = (int(row.get("rotation") or 0) // 90) % 4
        except (KeyError, ValueError) as e:
            raise DataError(f"{manifest}: row of {row.get('image')!r} holds a value that is not a number ({e})"
                            ) from None
        # Slice rows run along L-P-I axis 0 (x), columns along axis 1 (y), until a quarter turn swaps them.
        rows_mm, cols_mm = (y, x) if turns % 2 else (x, y)
        spacings[row.get("image", "")] = (rows_mm * factor, cols_mm * factor, z, int(row["size"]) or int(side))
    return spacings
