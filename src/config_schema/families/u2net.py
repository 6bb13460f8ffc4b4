"""The `[model]` keys of TensorflowU2Net, beyond the general ones."""

from config_schema.kinds import ANY, POSITIVE, REQUIRED, STRING, Key

# The original's U2Net read TensorflowSwinUNet's keys (copied code) and never used them.
_SWIN_KEYS = (
    "filter_num_begin", "depth", "stack_num_down", "stack_num_up", "patch_size", "num_heads", "window_size",
    "num_mlp", "shift_window",
)

KEYS: dict[str, Key] = {
    "base_filters": Key(
        POSITIVE, REQUIRED,
        doc=(
            "Output filters of the first RSU block; each deeper level doubles them, its middle filters are a "
            "quarter, and the two RSU-4F blocks at the bottom keep the last level's."
        ),
    ),
    "num_layers": Key(
        POSITIVE, REQUIRED,
        doc=(
            "RSU levels of the encoder (the two RSU-4F levels below them not counted); image_width and "
            "image_height must be divisible by 2**(num_layers+1)."
        ),
        original="The original did not check the sizes, and Keras failed later (M54).",
    ),
    "activation": Key(
        STRING, "relu",
        doc="Accepted and ignored, as by the original: TensorflowU2Net's convolutions always use ReLU.",
    ),
    **{
        name: Key(
            ANY, None,
            doc="A TensorflowSwinUNet key that the original's U2Net read and ignored; accepted and ignored.",
        )
        for name in _SWIN_KEYS
    },
}
