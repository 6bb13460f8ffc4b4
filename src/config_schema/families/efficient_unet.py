"""The `[model]` keys of TensorflowEfficientUNet, beyond the general ones.

`weights_key` and `IGNORED_UNET_KEYS` serve the other families on a
keras.applications encoder too (EfficientNetB7UNet, DeepLabV3Plus).
"""

from config_schema.kinds import ANY, OPTIONAL_STRING, Key, choice


def weights_key(encoder: str) -> Key:
    """`[model] weights` of a family whose encoder is `encoder`."""
    return Key(
        OPTIONAL_STRING, "imagenet",
        doc=(
            f"Weights of the {encoder} encoder: \"imagenet\" (the file Keras keeps in ~/.keras/models/, "
            "downloaded there on first use; offline, copy it there), None to train from scratch, or the path "
            "of a weights file for the encoder (a Keras-2 .h5 loads by layer order)."
        ),
        original="The original always downloaded the ImageNet weights when it built the model, failing offline (M59).",
    )


IGNORED_UNET_KEYS: dict[str, Key] = {
    key: Key(
        ANY, None,
        doc=f"Read and ignored, as by the original: the encoder fixes the {what}.",
    )
    for key, what in (("base_filters", "widths"), ("num_layers", "depth"))
}

KEYS: dict[str, Key] = {
    "efficientnet": Key(
        choice(*(f"B{i}" for i in range(8))), "B0",
        doc="The encoder, keras.applications.EfficientNetB0 (\"B0\") to EfficientNetB7 (\"B7\").",
        original="The original's \"B6\" stopped with a NameError (M58).",
    ),
    "weights": weights_key("EfficientNet"),
    **IGNORED_UNET_KEYS,
}
