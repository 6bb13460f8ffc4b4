"""Reads a `train_eval_infer.config` once, strictly, without executing it.

INI values are Python literals (numbers, quoted strings, tuples, lists,
dicts, True/False/None) turned into objects with `ast.literal_eval`; nothing
in the file is ever run. A path ending in `.toml` is read as TOML instead
(`toml_config.py`). The whole file is parsed and every value type-checked in
the constructor, so a typo fails in the first second of a run, not at its end.

A key the file does not set takes its default from the schema
(`src/config_schema/`, listed in docs/config.md); readers never pass one.

Example:
    config = ConfigParser("./train_eval_infer.config")
    width = config.get(ConfigParser.MODEL, "image_width")
"""

import ast
import copy
import difflib
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import config_schema
import toml_config
from errors import ConfigError, ConfigFileError, ToolkitWarning


class ConfigWarning(ToolkitWarning):
    """Something in the config is ignored or suspicious, but not fatal."""


@dataclass
class _Entry:
    section: str
    key: str
    raw: str
    line: int
    line_end: int = 0  # last line of a value continued on indented lines
    value: Any = None  # set for TOML entries, which are typed already
    typed: bool = False


class ConfigParser:
    """A parsed config: `get(section, key)` as in the original.

    Args:
        config_path: path of the INI file, or of a TOML file (`.toml`).

    Attributes:
        on_default: called as `on_default(section, key, value)` the first
            time a key the file does not set is read (the entry scripts print
            it); None: silent.

    Raises:
        ConfigFileError: the file is missing or unreadable.
        ConfigError: a value is not a literal, has the wrong type, or enables
            a feature this toolkit does not have yet. The message names the
            file, line, section and key of every such value.
    """

    # Section names, as the original's constants.
    MODEL = "model"
    TRAIN = "train"
    EVAL = "eval"
    TEST = "test"
    INFER = "infer"
    TILEDINFER = "tiledinfer"
    DATASET = "dataset"
    IMAGE = "image"
    MASK = "mask"
    SEGMENTATION = "segmentation"
    GENERATOR = "generator"
    AUGMENTOR = "augmentor"
    DEFORMATION = "deformation"
    DISTORTION = "distortion"
    BARRDISTORTION = "barrdistortion"
    PINCDISTORTION = "pincdistortion"
    SHARPENING = "sharpening"
    BRIGHTENING = "brightening"
    INSPECT = "inspect"
    INSPECCT = INSPECT  # the original's spelling of the same constant
    TRANSORMER = "transformer"  # defined, and unused, by the original

    on_default: Callable[[str, str, Any], None] | None = None

    def __init__(self, config_path: str | os.PathLike):
        self.path = os.fspath(config_path)
        self._parse(_read_text(self.path))

    @classmethod
    def from_string(cls, text: str, path: str = "<string>") -> "ConfigParser":
        """Parses config text that does not live in a file (TOML when `path` ends in .toml)."""
        config = cls.__new__(cls)
        config.path = path
        config._parse(text)
        return config

    @property
    def is_toml(self) -> bool:
        return self.path.lower().endswith(".toml")

    @property
    def family(self) -> str:
        """The model family `[model] model` names (whose `[model]` keys apply)."""
        name = self._values.get(self.MODEL, {}).get("model")
        return name if isinstance(name, str) else config_schema.DEFAULT_FAMILY

    def get(self, section: str, key: str, dvalue: Any = None) -> Any:
        """The value of `[section] key`; when the file does not set it, the
        schema's default (`dvalue` only for keys the schema does not know).

        Raises:
            ConfigError: the key is required and not set.
        """
        values = self._values.get(section, {})
        if key in values:
            return values[key]
        entry = config_schema.key_for(section, key, self.family)
        if entry is None:
            return dvalue
        return self.default(section, key)

    def default(self, section: str, key: str, note: bool = True) -> Any:
        """The schema's default of a known key, as `get` returns it when the key is unset.

        `note`: the first read of each defaulted key is passed to `on_default`.
        """
        entry = config_schema.key_for(section, key, self.family)
        if entry.required:
            raise self.error(section, key, "this key is required")
        if isinstance(entry.default, config_schema.Derived):
            value = entry.default.compute(self)
        else:
            value = copy.deepcopy(entry.default)  # lists: a reader may not change the schema
        if note and (section, key) not in self._defaulted:
            self._defaulted.add((section, key))
            if self.on_default is not None:
                self.on_default(section, key, value)
        return value

    def source(self, section: str, key: str) -> str:
        """"file" when the file sets the key, else "default"."""
        return "file" if self.has(section, key) else "default"

    def require(self, section: str, key: str) -> Any:
        """The value of `[section] key`, or a ConfigError when it is not set."""
        value = self.get(section, key)
        if value is None:
            raise self.error(section, key, "this key is required")
        return value

    def has(self, section: str, key: str | None = None) -> bool:
        if key is None:
            return section in self._values
        return key in self._values.get(section, {})

    def where(self, section: str, key: str) -> str:
        """`file:line` of a key, for error messages."""
        line = self._lines.get((section, key))
        return f"{self.path}:{line}" if line else self.path

    def error(self, section: str, key: str, problem: str) -> ConfigError:
        """A ConfigError naming the key, its value and where it is."""
        if self.has(section, key):
            value = f" = {self.get(section, key)!r}"
        else:
            value = " (not set)"
        return ConfigError(
            f"{self.where(section, key)}: [{section}] {key}{value}: {problem}"
        )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {s: dict(v) for s, v in self._values.items()}

    # === Parsing ===

    def _parse(self, text: str) -> None:
        if self.is_toml:
            entries = [_Entry(e.section, e.key, e.raw, e.line, e.line, e.value, True)
                       for e in toml_config.read_entries(text, self.path)]
        else:
            entries = _split_ini(text, self.path)
        self._values: dict[str, dict[str, Any]] = {}
        self._lines: dict[tuple[str, str], int] = {}
        self._defaulted: set[tuple[str, str]] = set()  # keys already passed to on_default
        problems = []
        literals = []
        for entry in entries:
            self._note_duplicate(entry)
            value, problem = (entry.value, None) if entry.typed else self._literal(entry)
            if problem:
                problems.append(problem)
            else:
                literals.append((entry, value))
                self._lines[(entry.section, entry.key)] = entry.line
        # The model family decides which [model] keys apply, so it is found first.
        family = next((v for e, v in reversed(literals) if (e.section, e.key) == ("model", "model")), None)
        family = family if isinstance(family, str) else config_schema.DEFAULT_FAMILY
        for entry, value in literals:
            value, problem = self._check(entry, value, family)
            if problem:
                problems.append(problem)
            else:
                self._values.setdefault(entry.section, {})[entry.key] = value
        if problems:
            raise ConfigError("\n".join(problems))
        self._warn_unknown()

    def _note_duplicate(self, entry: _Entry) -> None:
        first = self._lines.get((entry.section, entry.key))
        if first is not None:
            _warn(
                f"{self.path}:{entry.line}: [{entry.section}] {entry.key} is "
                f"set again (first on line {first}); the last value is used"
            )

    def _where(self, entry: _Entry) -> str:
        line = f":{entry.line}" if entry.line else ""
        return f"{self.path}{line}: [{entry.section}] {entry.key}"

    def _literal(self, entry: _Entry) -> tuple[Any, str | None]:
        """The literal value of one INI entry, or the problem with it."""
        where = self._where(entry)
        if entry.raw == "":
            return None, f"{where} has no value (remove the line to use the default)"
        try:
            return ast.literal_eval(entry.raw), None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            hint = ""
            if entry.raw.replace("_", "").replace(".", "").isalnum():
                hint = f' (strings need quotes: {entry.key} = "{entry.raw}")'
            return None, f"{where} = {entry.raw}: not a Python literal{hint}"

    def _check(self, entry: _Entry, value: Any, family: str) -> tuple[Any, str | None]:
        """The value of one entry as the schema types it, or the problem with it."""
        where = f"{self._where(entry)} = {entry.raw}"
        known = config_schema.key_for(entry.section, entry.key, family)
        if known is None or (entry.section == self.MODEL and config_schema.other_families(entry.key, family)):
            return value, None  # unknown, or another family's key: a warning says it is ignored
        if value == "none" and known.takes_none_string:
            return None, None
        if entry.typed:
            value = known.kind.shape(value)  # TOML arrays: tuples where the key takes them
        if not known.kind.accepts(value):
            return None, f"{where}: expected {known.kind.description}"
        unbuilt = config_schema.UNBUILT.get((entry.section, entry.key))
        if unbuilt is not None and unbuilt[0](value):
            return None, f"{where}: {unbuilt[1]}"
        return value, None

    def _warn_unknown(self) -> None:
        known = config_schema.SECTIONS
        for section, values in self._values.items():
            if section not in known:
                line = min(self._lines[(section, k)] for k in values)
                _warn(
                    f"{self.path}:{line}: [{section}] is not a known section and "
                    f"its keys are ignored{_did_you_mean(section, known)}"
                )
                continue
            for key in values:
                where = f"{self.where(section, key)}: [{section}] {key}"
                note = config_schema.IGNORED.get((section, key))
                owners = config_schema.other_families(key, self.family) if section == self.MODEL else []
                if note:
                    _warn(f"{where} is ignored here: {note}")
                elif owners:
                    _warn(f"{where} is a key of {' and '.join(owners[:3])}{', ...' if len(owners) > 3 else ''}, "
                          f"not of {self.family}, and is ignored")
                elif key not in known[section]:
                    _warn(
                        f"{where} is not a known key and is ignored"
                        f"{_did_you_mean_key(section, key)}"
                    )


def _did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _did_you_mean_key(section: str, key: str) -> str:
    """Suggests the closest key of the same section, else of another one."""
    here = _did_you_mean(key, config_schema.SECTIONS[section])
    if here:
        return here
    for other, keys in config_schema.SECTIONS.items():
        if key in keys:
            return f"; did you mean to put it in [{other}]?"
    return ""


def _warn(message: str) -> None:
    warnings.warn(message, ConfigWarning, stacklevel=3)


def _read_text(path: str) -> str:
    if not os.path.isfile(path):
        raise ConfigFileError(f"config file {path} does not exist")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigFileError(f"config file {path} cannot be read: {e.strerror}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Configs written on Windows may carry comments in a legacy code page;
        # latin-1 decodes any byte, so the (ASCII) keys and values survive.
        return data.decode("latin-1")


# The INI layer is written by hand, not with `configparser`, because we need
# what that module cannot give: the line of every key for error messages, a
# warning (not a crash or silence) for duplicate keys, and inline comments
# stripped only outside quoted strings. Otherwise it follows configparser's
# defaults: `=` or `:` separate key and value, keys are lower-cased, `;` and
# `#` start comment lines, indented lines continue the previous value, and
# there is no `%` interpolation (a `%` is plain text).


def _split_ini(text: str, path: str) -> list[_Entry]:
    entries: list[_Entry] = []
    section = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in ";#":
            continue
        if line[0].isspace() and entries and entries[-1].line_end == number - 1:
            entries[-1].raw += "\n" + _strip_comment(stripped)
            entries[-1].line_end = number
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        key, sep, raw = _split_key(stripped)
        if not sep or not key:
            raise ConfigError(
                f"{path}:{number}: cannot read this line: {stripped!r} "
                "(expected 'key = value', '[section]' or a '; comment')"
            )
        if section is None:
            raise ConfigError(f"{path}:{number}: key '{key}' is outside any [section]")
        entries.append(
            _Entry(section, key.lower(), _strip_comment(raw), number, number)
        )
    return entries


def _split_key(line: str) -> tuple[str, str, str]:
    cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return line, "", ""
    return line[:cut].strip(), line[cut], line[cut + 1 :].strip()


def _strip_comment(raw: str) -> str:
    """Drops a `; comment` or `# comment` that follows whitespace, outside quotes."""
    quote = None
    escaped = False
    for i, char in enumerate(raw):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in ";#" and (i == 0 or raw[i - 1].isspace()):
            return raw[:i].rstrip()
    return raw.strip()


def load_config(config: "ConfigParser | str | os.PathLike") -> ConfigParser:
    """A parsed config from a path, or the already-parsed config itself."""
    return config if isinstance(config, ConfigParser) else ConfigParser(config)
