"""The `[model]` keys of TensorflowXceptionLikeUNet, beyond the general ones."""

from config_schema.kinds import Key

KEYS: dict[str, Key] = {}
