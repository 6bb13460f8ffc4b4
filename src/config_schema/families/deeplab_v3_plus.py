"""The `[model]` keys of TensorflowDeepLabV3Plus, beyond the general ones."""

from config_schema.families.efficient_unet import IGNORED_UNET_KEYS, weights_key
from config_schema.kinds import Key

KEYS: dict[str, Key] = {
    "weights": weights_key("ResNet50"),
    **IGNORED_UNET_KEYS,
}
