"""The volume (patient scan) a slice file belongs to, from its file name.

Slices of one volume must stay in one split, or a model is tested on the
patients it was trained on. Names follow two conventions: `<volume>-<slice>`
(e.g. `PANCREAS_0001-1106.jpg`, CT) and `<volume>_<slice>` (e.g.
`10003_21.jpg`, T1 MRI). The splitter, the trainer's validation fallback
(`split_by_volume`) and DatasetStatistics all call this one function.

2-D datasets (e.g. `ISIC_0000001.jpg`) carry no volume ids: `grouping` finds
them, and then every file is its own unit.
"""

import os
import re

from errors import DataError

# `<id>_<digits>` or `<id>-<digits>`: a name that carries a slice number.
_SLICE_NUMBERED = re.compile(r"^.+[_-]\d+$")


def volume_id(filename: str) -> str:
    """The text before the first `-`, else before the last `_`, else the stem.

    >>> volume_id("PANCREAS_0001-1106.jpg"), volume_id("10003_21.jpg")
    ('PANCREAS_0001', '10003')
    """
    stem = _stem(filename)
    if "-" in stem:
        return stem.split("-", 1)[0]
    if "_" in stem:
        return stem.rsplit("_", 1)[0]
    return stem


def slice_index(filename: str) -> int | None:
    """The slice number after the separator `volume_id` splits at, or None when it is not a number.

    >>> slice_index("PANCREAS_0001-1106.jpg"), slice_index("10003_21.jpg"), slice_index("scan.jpg")
    (1106, 21, None)
    """
    stem = _stem(filename)
    if "-" in stem:
        rest = stem.split("-", 1)[1]
    elif "_" in stem:
        rest = stem.rsplit("_", 1)[1]
    else:
        return None
    return int(rest) if rest.isdigit() else None


def grouping(names: list[str]) -> str:
    """The unit of a split: "volume", or "file" when the names carry no volume ids.

    No volume ids: `volume_id` gives one id for every file, or a different id
    for every file.

    Raises:
        DataError: some names end in a slice number and others do not.
    """
    _check_not_mixed(names)
    ids = {volume_id(name) for name in names}
    return "file" if len(ids) <= 1 or len(ids) == len(names) else "volume"


def no_ids_reason(names: list[str]) -> str:
    """Why `grouping` found no volume ids in `names`, for a notice."""
    ids = sorted({volume_id(name) for name in names})
    if len(ids) == 1 and len(names) > 1:
        return f"all {len(names)} give the one id {ids[0]!r}"
    return f"each of the {len(names)} gives its own id"


def split_by_volume(pairs: list[tuple[str, str]], fraction: float = 0.2):
    """Holds out the last `fraction` of the volumes (sorted ids) for validation.

    When the names carry no volume ids (`grouping`), the last `fraction` of
    the sorted files validate instead.
    """
    if grouping([image for image, _ in pairs]) == "file":
        return _split_by_file(pairs, fraction)
    volumes = sorted({volume_id(image) for image, _ in pairs})
    held_out = set(volumes[-max(1, round(fraction * len(volumes))) :])
    train = [p for p in pairs if volume_id(p[0]) not in held_out]
    valid = [p for p in pairs if volume_id(p[0]) in held_out]
    print(
        f"=== [eval] has no folders: validating on the last {len(held_out)} of "
        f"{len(volumes)} volumes ({len(valid)} images): {', '.join(sorted(held_out))}; "
        f"training on {len(volumes) - len(held_out)} volumes ({len(train)} images)"
    )
    return train, valid


def _split_by_file(pairs, fraction):
    """The last `fraction` of the files, sorted by name, validate."""
    if len(pairs) < 2:
        raise DataError(
            f"[eval] has no folders, and the training data holds {len(pairs)} "
            f"image{'s' * (len(pairs) != 1)}: "
            "at least 2 are needed to hold one out for validation"
        )
    ordered = sorted(pairs, key=lambda p: os.path.basename(p[0]))
    count = max(1, round(fraction * len(ordered)))
    train, valid = ordered[:-count], ordered[-count:]
    print(
        f"=== [eval] has no folders and the file names carry no volume ids "
        f"({no_ids_reason([image for image, _ in pairs])}): validating on the last {count} of "
        f"{len(ordered)} files, split by file; training on {len(train)} files"
    )
    return train, valid


def _check_not_mixed(names: list[str]) -> None:
    numbered = [n for n in names if _SLICE_NUMBERED.match(_stem(n))]
    plain = [n for n in names if not _SLICE_NUMBERED.match(_stem(n))]
    if not (numbered and plain):
        return
    folder = os.path.dirname(names[0])
    where = f" in {folder}" if folder else ""
    raise DataError(
        f"the file names{where} mix two conventions: {len(numbered)} end in a slice number "
        f"(<volume>_<slice> or <volume>-<slice>), e.g. {_examples(numbered)}, and {len(plain)} do not, "
        f"e.g. {_examples(plain)}. Rename the files so that every name ends in _<number> "
        "(10003_21.jpg, ISIC_0000001.jpg) or none does (scan.jpg)"
    )


def _examples(names: list[str]) -> str:
    return ", ".join(os.path.basename(n) for n in sorted(names)[:3])


def _stem(filename: str) -> str:
    return os.path.splitext(os.path.basename(filename))[0]
