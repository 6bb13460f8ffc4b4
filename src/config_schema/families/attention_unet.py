"""The `[model]` keys of TensorflowAttentionUNet, beyond the general ones."""

from config_schema.kinds import POSITIVE, REQUIRED, Key, number

KEYS: dict[str, Key] = {
    "base_filters": Key(
        POSITIVE, REQUIRED,
        doc="Filters of the first level's convolutions; each deeper level doubles them.",
    ),
    "num_layers": Key(
        POSITIVE, REQUIRED,
        doc=(
            "Levels of the Attention U-Net, the bridge included; image_width and image_height must be "
            "divisible by 2**(num_layers-1)."
        ),
        original="The original did not check the sizes, and Keras failed later with a shape error (M40).",
    ),
    "dropout_rate": Key(
        number(0, 1, hi_open=True), 0.1,
        doc=(
            "Dropout after the second convolution of every block and on the skip's projection in every "
            "attention gate, the same rate at every level; 0 adds no dropout."
        ),
    ),
}
