"""The `[model]` keys of TensorflowBASNet, beyond the general ones."""

from config_schema.kinds import Key

KEYS: dict[str, Key] = {}
