"""The `[model]` keys of TensorflowUNet3Plus, beyond the general ones."""

from config_schema.kinds import Key

KEYS: dict[str, Key] = {}
