"""The value language of the schema: what a key accepts, and what it defaults to.

A `Kind` tests a value and names it in error messages; a `Key` is one config
key: its kind, its default, what it does, and how the original read it.
"""

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Kind:
    """What one key accepts: a test, the words used in error messages, and
    `shape`, which turns TOML arrays into the tuples an INI file would hold."""

    description: str
    test: Callable[[Any], bool]
    nullable: bool = False
    shape: Callable[[Any], Any] = lambda v: v

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        return self.test(value)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
"""The default of a key that has none: reading it unset is an error naming it."""


@dataclass(frozen=True)
class Derived:
    """A default computed from other keys when the key is read."""

    compute: Callable[[Any], Any]  # (config) -> value
    text: str  # how docs/config.md states it


@dataclass(frozen=True)
class Key:
    """One config key.

    Attributes:
        kind: the values it accepts.
        default: the value when the key is absent: a literal, `REQUIRED`, or
            a `Derived` computed from other keys.
        doc: what it does, one or two sentences for docs/config.md.
        original: how the original read it, when that differs ("" if not).
        sees: True when it changes what the model sees (size, channels,
            preprocessing): evaluation and inference warn when it differs
            from the value the model was trained with.
        new: a key this toolkit adds.
    """

    kind: Kind
    default: Any
    doc: str = ""
    original: str = ""
    sees: bool = False
    new: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def takes_none_string(self) -> bool:
        """`"none"` stands for None: TOML has no null, and None differs from the default."""
        return self.kind.nullable and not self.required and self.default is not None


def optional(kind: Kind) -> Kind:
    """`kind`, or None."""
    return Kind(kind.description + " or None", kind.test, nullable=True, shape=kind.shape)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bounds_text(lo, hi, lo_open, hi_open) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi}")
    return (" " + " and ".join(parts)) if parts else ""


def _in_bounds(v, lo, hi, lo_open, hi_open) -> bool:
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    return hi is None or (v < hi if hi_open else v <= hi)


def integer(lo=None, hi=None) -> Kind:
    return Kind(
        "an integer" + _bounds_text(lo, hi, False, False),
        lambda v: _is_int(v) and _in_bounds(v, lo, hi, False, False),
    )


def number(lo=None, hi=None, lo_open=False, hi_open=False) -> Kind:
    return Kind(
        "a number" + _bounds_text(lo, hi, lo_open, hi_open),
        lambda v: _is_number(v) and _in_bounds(v, lo, hi, lo_open, hi_open),
    )


def choice(*options) -> Kind:
    return Kind(
        "one of " + ", ".join(repr(o) for o in options), lambda v: v in options
    )


def pair(item: Kind) -> Kind:
    return Kind(
        f"a pair like (3, 3), each {item.description}",
        lambda v: isinstance(v, (tuple, list))
        and len(v) == 2
        and all(item.test(x) for x in v),
        shape=lambda v: tuple(item.shape(x) for x in v) if isinstance(v, list) else v,
    )


def list_of(item: Kind, length=None, as_tuple=False) -> Kind:
    size = f"{length} " if length else ""
    container = tuple if as_tuple else list
    return Kind(
        f"a list of {size}values, each {item.description}",
        lambda v: isinstance(v, (list, tuple))
        and (length is None or len(v) == length)
        and all(item.test(x) for x in v),
        shape=lambda v: container(item.shape(x) for x in v) if isinstance(v, list) else v,
    )


def either(*kinds: Kind) -> Kind:
    def shape(v):
        for kind in kinds:
            if kind.test(v):
                return kind.shape(v)
        return v

    return Kind(
        " or ".join(k.description for k in kinds),
        lambda v: any(k.test(v) for k in kinds),
        shape=shape,
    )


BOOL = Kind("True or False", lambda v: isinstance(v, bool), nullable=True)
STRING = Kind("a quoted string", lambda v: isinstance(v, str))
ANY = Kind("any literal", lambda v: True, nullable=True)
OPTIONAL_STRING = optional(STRING)
POSITIVE = integer(lo=1)
RGB = list_of(integer(0, 255), length=3, as_tuple=True)
COLOUR = either(STRING, RGB)
NUMBERS = list_of(number())
