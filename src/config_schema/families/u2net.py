"""The `[model]` keys of TensorflowU2Net, beyond the general ones."""

from config_schema.kinds import Key

KEYS: dict[str, Key] = {}
