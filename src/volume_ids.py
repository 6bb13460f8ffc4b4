"""The volume (patient scan) a slice file belongs to, from its file name.

Slices of one volume must stay in one split, or a model is tested on the
patients it was trained on. Names follow two conventions: `<volume>-<slice>`
(e.g. `PANCREAS_0001-1106.jpg`, CT) and `<volume>_<slice>` (e.g.
`10003_21.jpg`, T1 MRI). The splitter, the trainer's validation fallback
(`split_by_volume`) and DatasetStatistics all call this one function.
"""

import os

from errors import DataError


def volume_id(filename: str) -> str:
    """The text before the first `-`, else before the last `_`, else the stem.

    >>> volume_id("PANCREAS_0001-1106.jpg"), volume_id("10003_21.jpg")
    ('PANCREAS_0001', '10003')
    """
    stem = os.path.splitext(os.path.basename(filename))[0]
    if "-" in stem:
        return stem.split("-", 1)[0]
    if "_" in stem:
        return stem.rsplit("_", 1)[0]
    return stem


def split_by_volume(pairs: list[tuple[str, str]], fraction: float = 0.2):
    """Holds out the last `fraction` of the volumes (sorted ids) for validation."""
    volumes = sorted({volume_id(image) for image, _ in pairs})
    if len(volumes) < 2:
        raise DataError(
            f"[eval] has no folders, and the training data holds {len(volumes)} volume: "
            "at least 2 are needed to hold one out for validation"
        )
    held_out = set(volumes[-max(1, round(fraction * len(volumes))) :])
    train = [p for p in pairs if volume_id(p[0]) not in held_out]
    valid = [p for p in pairs if volume_id(p[0]) in held_out]
    print(
        f"=== [eval] has no folders: validating on the last {len(held_out)} of "
        f"{len(volumes)} volumes ({len(valid)} images): {', '.join(sorted(held_out))}; "
        f"training on {len(volumes) - len(held_out)} volumes ({len(train)} images)"
    )
    return train, valid
