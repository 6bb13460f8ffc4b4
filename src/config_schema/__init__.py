"""Every config section and key the toolkit knows: type, default, meaning.

- `kinds`: the value language (what a key accepts) and `Key`.
- `sections`: the general sections, and the `[model]` keys every family reads.
- `models`: each model family's own `[model]` keys.

`key_for(section, key, family)` is the one place a reader's default comes
from; docs/config.md is generated from these tables (`src/config_reference.py`).
"""

from config_schema.kinds import REQUIRED, Derived, Key, Kind
from config_schema.models import FAMILIES, UNUSED_KEYS
from config_schema.sections import IGNORED, MODEL, UNBUILT
from config_schema.sections import SECTIONS as GENERAL

__all__ = [
    "REQUIRED", "Derived", "Key", "Kind", "FAMILIES", "GENERAL", "IGNORED", "MODEL",
    "UNBUILT", "SECTIONS", "DEFAULT_FAMILY", "key_for", "other_families", "resolved_keys",
]

DEFAULT_FAMILY: str = MODEL["model"].default

# Every key a file may hold, by section: [model] holds the general keys,
# every family's keys, and the keys nothing reads.
SECTIONS: dict[str, dict[str, Key]] = {
    **GENERAL,
    "model": {
        **UNUSED_KEYS,
        **{key: entry for family in FAMILIES.values() for key, entry in family.items()},
        **MODEL,
    },
}


def key_for(section: str, key: str, family: str | None = None) -> Key | None:
    """The schema entry of `[section] key` for a config of model `family`; None if unknown."""
    if section == "model" and family in FAMILIES and key in FAMILIES[family]:
        return FAMILIES[family][key]
    return SECTIONS.get(section, {}).get(key)


def other_families(key: str, family: str | None) -> list[str]:
    """The families other than `family` whose own `[model]` keys hold `key` (none for a general key)."""
    if key in MODEL or key in FAMILIES.get(family, {}):
        return []
    return [name for name, keys in FAMILIES.items() if key in keys and name != family]


def resolved_keys(family: str | None) -> dict[str, dict[str, Key]]:
    """The keys a run of `family` reads: the general sections and that family's keys."""
    return {**GENERAL, "model": {**MODEL, **FAMILIES.get(family, {})}}
