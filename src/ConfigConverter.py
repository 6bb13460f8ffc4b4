"""Converts a config between INI and TOML, keeping every value.

Usage: python ConfigConverter.py IN OUT

`IN.toml` is written as INI, any other `IN` as TOML (with `tomli-w`). TOML has
no null: a None whose key has another default is written as the string
"none", any other None as a comment `# key = None`, which the TOML reader
takes back as None. Comments of the input are not carried over. An existing
OUT is never overwritten.
"""

import os
import re
import sys
import tomllib

import tomli_w

import config_schema
from atomic import write_text
from ConfigParser import ConfigParser
from errors import UserError


def to_toml(config: ConfigParser) -> str:
    """The config's values as TOML text."""
    parts = [f"# Converted from {os.path.basename(config.path)} by ConfigConverter.py\n"]
    for section, values in config.to_dict().items():
        written, nones = {}, []
        for key, value in values.items():
            entry = config_schema.key_for(section, key, config.family)
            if value is None and entry is not None and entry.takes_none_string:
                written[key] = "none"
            elif value is None:
                nones.append(key)
            else:
                written[key] = value
        try:
            text = tomli_w.dumps({section: written})
        except TypeError as e:
            bad = next(k for k, v in written.items() if not _toml_writable(v))
            raise config.error(section, bad, f"cannot be written as TOML ({e})") from None
        parts.append("\n" + _inline_arrays(text) + "".join(f"# {_toml_key(key)} = None\n" for key in nones))
    return "".join(parts)


_ARRAY = re.compile(r"\[\n((?:[ ]+[^\[\]\n]*,\n)+)[ ]*\]")


def _inline_arrays(text: str) -> str:
    """tomli-w's one-item-per-line arrays as `[9, 9]`, innermost first, when that reads the same.

    tomli-w has no option for inline arrays; the result is checked to parse
    to the very same values, else tomli-w's text is kept.
    """
    inlined = text
    while (joined := _ARRAY.sub(lambda m: "[" + ", ".join(
            item.strip().rstrip(",") for item in m.group(1).splitlines()) + "]", inlined)) != inlined:
        inlined = joined
    return inlined if tomllib.loads(inlined) == tomllib.loads(text) else text


def to_ini(config: ConfigParser) -> str:
    """The config's values as INI text (Python literals)."""
    lines = [f"; Converted from {os.path.basename(config.path)} by ConfigConverter.py"]
    for section, values in config.to_dict().items():
        lines += ["", f"[{section}]"] + [f"{key} = {value!r}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def convert(source: str, target: str) -> str:
    """Writes `target` from `source` in the other format; returns `target`.

    Raises:
        UserError: `target` exists, or has the same format as `source`.
    """
    to_toml_file = not source.lower().endswith(".toml")
    if target.lower().endswith(".toml") != to_toml_file:
        wanted = "a .toml file" if to_toml_file else "an INI file (not .toml)"
        raise UserError(f"{target}: converting {source} needs {wanted} to write")
    if os.path.exists(target):
        raise UserError(f"{target} exists; choose another name or move it away first")
    config = ConfigParser(source)
    write_text(target, to_toml(config) if to_toml_file else to_ini(config))
    return target


def _toml_writable(value) -> bool:
    try:
        tomli_w.dumps({"v": value})
        return True
    except TypeError:
        return False


def _toml_key(key: str) -> str:
    return tomli_w.dumps({key: 0}).split(" =")[0]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or any(a.startswith("-") for a in argv):
        print("usage: ConfigConverter.py IN OUT  (INI -> TOML when OUT ends in .toml, else TOML -> INI)",
              file=sys.stderr)
        return 2
    try:
        print(f"=== Saved {convert(*argv)}")
    except UserError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
