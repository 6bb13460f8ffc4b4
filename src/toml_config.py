"""Reads a TOML config into the same (section, key, value, line) entries as an INI one.

TOML is parsed with the standard library's `tomllib`; the schema then checks
the values exactly as it checks an INI file's. TOML has no null, so two
conventions carry `None` (see docs/config.md, "TOML configs"): the string
`"none"` for keys whose default is not None, and, for any other key, a
comment line `# key = None` inside its table, which this reader takes as an
explicit None so that INI -> TOML -> INI keeps every value.
"""

import re
import tomllib
from typing import Any, NamedTuple

from errors import ConfigError

_TABLE = re.compile(r"^\s*\[\s*(?P<name>\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)\s*\]\s*(#.*)?$")
_KEY = r"(?P<key>\"[^\"]+\"|'[^']+'|[A-Za-z0-9_\-]+)"
_ASSIGNMENT = re.compile(rf"^\s*{_KEY}\s*=\s*(?P<value>.*?)\s*$")
NONE_COMMENT = re.compile(rf"^\s*#\s*{_KEY}\s*=\s*None\s*$")


class TomlEntry(NamedTuple):
    section: str
    key: str
    value: Any
    raw: str  # the value as written, for error messages
    line: int  # 0 when unknown


def read_entries(text: str, path: str) -> list[TomlEntry]:
    """The entries of a TOML config, in file order where lines are known.

    Raises:
        ConfigError: not valid TOML (with the line tomllib names), or a
            value outside any [table].
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        found = re.search(r"line (\d+)", str(e))
        where = f"{path}:{found.group(1)}" if found else path
        raise ConfigError(f"{where}: not valid TOML: {e}") from None
    lines, nones = _locate(text)
    entries = []
    for section, table in document.items():
        if not isinstance(table, dict):
            line = lines.get(("", section), (0, ""))[0]
            raise ConfigError(f"{path}:{line}: key '{section}' is outside any [section]")
        for key, value in table.items():
            line, raw = lines.get((section, key), (0, ""))
            entries.append(TomlEntry(section, key.lower(), value, raw or repr(value), line))
    for (section, key), line in nones.items():
        if section in document and key not in document[section]:
            entries.append(TomlEntry(section, key.lower(), None, "None", line))
    return sorted(entries, key=lambda e: e.line)


def _locate(text: str):
    """Lines of `key = value` and `# key = None` per (table, key), for messages only.

    This scan does not parse TOML (tomllib does): it only finds where the
    simple one-table, one-key-per-line layout of a config puts each key.
    """
    lines: dict[tuple[str, str], tuple[int, str]] = {}
    nones: dict[tuple[str, str], int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _TABLE.match(line):
            section = _unquote(match["name"])
        elif match := NONE_COMMENT.match(line):
            nones.setdefault((section, _unquote(match["key"])), number)
        elif match := _ASSIGNMENT.match(line):
            value = match["value"]
            complete = not value.endswith(("[", "{", ",")) and value not in ('"""', "'''")
            lines.setdefault((section, _unquote(match["key"])), (number, value if complete else ""))
    return lines, nones


def _unquote(name: str) -> str:
    return name[1:-1] if name[:1] in "\"'" else name
