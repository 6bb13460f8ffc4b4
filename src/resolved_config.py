"""What a run used: every key it reads, with its value and whether the file set it.

`resolve(config)` gives `{section: {key: {"value": v, "source": "file" |
"default"}}}` for the general sections and the chosen model family's keys;
the trainer writes it as `<model_dir>/resolved_config.json` and
`--print-config` prints it. Evaluation and inference compare their config
with it and warn when what the model sees (size, channels, preprocessing)
differs from what it was trained on.
"""

import json
import os
import platform
import warnings

import config_schema
from atomic import write_text
from config_schema.kinds import ANY
from ConfigParser import ConfigParser, ConfigWarning
from version import __version__

FILE_NAME = "resolved_config.json"


def resolve(config: ConfigParser) -> dict[str, dict[str, dict]]:
    """The value and source of every key a run of this config reads.

    A required key the file does not set has source "required" and value
    None (only `--print-config` can see one: a run stops before).
    """
    sections: dict[str, dict[str, dict]] = {}
    for section, keys in config_schema.resolved_keys(config.family).items():
        entries = sections[section] = {}
        for key, entry in keys.items():
            if config.has(section, key):
                entries[key] = {"value": config.get(section, key), "source": "file"}
            elif entry.kind is ANY and entry.default is None:
                continue  # accepted, read by nothing: only shown when the file sets it
            elif entry.required:
                entries[key] = {"value": None, "source": "required"}
            else:
                entries[key] = {"value": config.default(section, key, note=False), "source": "default"}
        # Known keys the file sets beyond these (another family's, unused ones) are shown too.
        for key in config.to_dict().get(section, {}):
            if key not in entries and config_schema.key_for(section, key, config.family):
                entries[key] = {"value": config.get(section, key), "source": "file"}
    return sections


def lines(config: ConfigParser) -> list[str]:
    """`[section] key = <value>  (file|default)`, one per key, as --print-config prints them."""
    return [
        f"[{section}] {key} = {entry['value']!r}  ({entry['source']})"
        for section, keys in resolve(config).items()
        for key, entry in keys.items()
    ]


def write(config: ConfigParser, model_dir: str) -> str:
    """Writes `<model_dir>/resolved_config.json`; returns its path."""
    import keras
    import tensorflow as tf

    document = {
        "toolkit": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "config": os.path.abspath(config.path),
        "sections": resolve(config),
    }
    path = os.path.join(model_dir, FILE_NAME)
    write_text(path, json.dumps(document, indent=2, default=repr) + "\n")
    return path


def warn_if_trained_otherwise(config: ConfigParser) -> list[str]:
    """Warns, naming the keys, when what the model sees differs from its training config.

    Returns the keys that differ as "[section] key" (none when the model
    folder holds no resolved config, as for a model the original trained).
    """
    path = os.path.join(config.get(ConfigParser.TRAIN, "model_dir"), FILE_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            trained = json.load(f)["sections"]
    except (OSError, ValueError, KeyError):
        return []
    now = json.loads(json.dumps(resolve(config), default=repr))
    differences = []
    for section, keys in config_schema.resolved_keys(config.family).items():
        for key, entry in keys.items():
            before = trained.get(section, {}).get(key)
            if entry.sees and before is not None and before["value"] != now[section][key]["value"]:
                differences.append(
                    (f"[{section}] {key}", f"{now[section][key]['value']!r} (trained with {before['value']!r})")
                )
    if differences:
        shown = "; ".join(f"{name} = {values}" for name, values in differences)
        warnings.warn(
            f"{config.path} differs from the config the model was trained with ({path}) in what the model "
            f"sees: {shown}. Predictions may be wrong: use the training values.",
            ConfigWarning,
            stacklevel=2,
        )
    return [name for name, _ in differences]
