"""The volume (patient scan) a slice file belongs to, from its file name.

Slices of one volume must stay in one split, or a model is tested on the
patients it was trained on. Names follow two conventions: `<volume>-<slice>`
(e.g. `PANCREAS_0001-1106.jpg`, CT) and `<volume>_<slice>` (e.g.
`10003_21.jpg`, T1 MRI). The dataset generator, the splitter, the trainer's
validation fallback and DatasetStatistics all call this one function.
"""

import os


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
