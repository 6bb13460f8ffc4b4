"""The `[model]` keys of TensorflowEfficientNetB7UNet, beyond the general ones."""

from config_schema.kinds import Key

KEYS: dict[str, Key] = {}
