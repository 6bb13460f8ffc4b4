"""OpenCV constants a config may name, resolved through explicit tables.

The original evaluated strings such as "cv2.INTER_NEAREST" as Python code; we
look them up instead. Both "cv2.INTER_NEAREST" and "INTER_NEAREST" work.
"""

import difflib

import cv2

INTERPOLATIONS = {
    name: getattr(cv2, name)
    for name in (
        "INTER_NEAREST",
        "INTER_NEAREST_EXACT",
        "INTER_LINEAR",
        "INTER_LINEAR_EXACT",
        "INTER_CUBIC",
        "INTER_AREA",
        "INTER_LANCZOS4",
    )
}

# The four thresholding modes the original's mask reader distinguishes (see [mask] algorithm in docs/config.md).
THRESHOLDS = {
    name: getattr(cv2, name)
    for name in ("THRESH_BINARY", "THRESH_TRUNC", "THRESH_OTSU", "THRESH_TRIANGLE")
}

# Every colour conversion OpenCV offers, by its own name.
COLOR_CONVERSIONS = {
    name: getattr(cv2, name) for name in dir(cv2) if name.startswith("COLOR_")
}


def lookup(config, section: str, key: str, table: dict[str, int]):
    """The constant that `[section] key` names in `table` (None when unset).

    Raises:
        ConfigError: the name is not in the table.
    """
    value = config.get(section, key)
    if value is None:
        return None
    name = value.removeprefix("cv2.")
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=1, cutoff=0.6)
    hint = f"; did you mean 'cv2.{close[0]}'?" if close else ""
    shown = ", ".join(f"cv2.{n}" for n in list(table)[:8])
    more = ", ..." if len(table) > 8 else ""
    raise config.error(section, key, f"expected one of {shown}{more}{hint}")
