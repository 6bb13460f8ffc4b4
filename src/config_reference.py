"""Writes docs/config.md, the reference of every config key, from the schema.

Usage: python src/config_reference.py [OUT]   (default: docs/config.md beside src/)

A test regenerates the page and fails when the committed file differs, so
the reference cannot drift from the code.
"""

import os
import sys

import config_schema
from atomic import write_text
from config_schema import REQUIRED, Derived, Key
from config_schema.models import UNUSED_KEYS

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "config.md")

INTRO = """\
# Config reference

Every section and key of `train_eval_infer.config`: what it accepts, its
default, what it does, and where the original Tensorflow-Image-Segmentation-API
read it differently (the row ids point into [differences.md](differences.md)).
Generated from `src/config_schema/` by `python src/config_reference.py`; do not
edit by hand (a test fails when this page is out of date).

## Writing values

- **INI** (`.config`, `.ini`, anything but `.toml`): each value is a Python
  literal: numbers, quoted strings, `True`/`False`/`None`, tuples `(3, 3)`,
  lists `[...]`. Nothing is evaluated as code. `;` and `#` start comments, also
  after a value.
- **TOML** (`.toml`): the same sections and keys as TOML tables and types;
  arrays stand for tuples and lists. TOML has no null: for a key that accepts
  None and whose default is not None, write the string `"none"` (accepted in
  INI too); for any other key leave it out, or keep the comment line
  `# key = None` that `src/ConfigConverter.py IN OUT` writes (it converts INI
  to TOML and back without losing a value).
- A key the file does not set takes the default below; an explicit `None` is
  `None`. Entry scripts print one `-- default [section] key = value` line per
  defaulted key they read (`--quiet` hides them), and `--print-config` prints
  every key a run reads with its value and source, then exits.
- Training writes `<model_dir>/resolved_config.json`: every key, its value,
  and whether it came from the file or the default. Keys marked *seen* change
  what the model sees: evaluation and inference warn when they differ from it.
"""


def _default(entry: Key) -> str:
    if entry.default is REQUIRED:
        return "**required**"
    if isinstance(entry.default, Derived):
        return entry.default.text
    return f"`{entry.default!r}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(key: str, entry: Key) -> str:
    doc = f"{entry.doc} *seen*" if entry.sees else entry.doc
    original = "New in this toolkit." if entry.new else entry.original
    return (f"| `{key}` | {_cell(entry.kind.description)} | {_cell(_default(entry))} | "
            f"{_cell(doc)} | {_cell(original)} |")


def _table(keys: dict[str, Key]) -> list[str]:
    return ["| Key | Accepts | Default | What it does | The original |", "|---|---|---|---|---|"] + [
        _row(key, entry) for key, entry in keys.items()
    ]


def render() -> str:
    """The whole page."""
    lines = [INTRO]
    for section, keys in config_schema.GENERAL.items():
        lines += [f"## [{section}]", ""]
        if section == "model":
            lines += ["Keys every model family reads. A key of another family than `[model] model` names warns, "
                      "naming its family, and is ignored.", ""]
        lines += _table(keys) + [""]
        if section == "model":
            for family, own in config_schema.FAMILIES.items():
                lines += [f"### [model] keys of {family}", ""]
                lines += (_table(own) if own else ["No keys beyond the general ones."]) + [""]
            lines += [
                "### [model] keys nothing reads",
                "",
                "Found in the original's configs, accepted and read by nothing: "
                + ", ".join(f"`{k}`" for k in UNUSED_KEYS) + ".",
                "",
            ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: config_reference.py [OUT]", file=sys.stderr)
        return 2
    out = argv[0] if argv else DEFAULT_OUT
    write_text(out, render())
    print(f"=== Saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
