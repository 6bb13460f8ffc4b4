"""The `[model]` keys of TensorflowEfficientUNet, beyond the general ones."""

from config_schema.kinds import Key

KEYS: dict[str, Key] = {}
