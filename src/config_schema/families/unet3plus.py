"""The `[model]` keys of TensorflowUNet3Plus, beyond the general ones."""

from config_schema.kinds import POSITIVE, REQUIRED, Key, number

KEYS: dict[str, Key] = {
    "base_filters": Key(
        POSITIVE, REQUIRED,
        doc=(
            "Filters of the first encoder level (each of the five levels doubles them), and the channels each "
            "scale is reduced to in the decoder."
        ),
    ),
    "num_layers": Key(
        POSITIVE, REQUIRED,
        doc=(
            "At least 5; the network is always five levels deep, and the decoder's blocks have "
            "num_layers·base_filters filters, as in the original."
        ),
        original="The original failed with an IndexError below 5; this is an error naming the key (M67).",
    ),
    "dropout_rate": Key(
        number(0, 1, hi_open=True), REQUIRED,
        doc=(
            "Dropout after every convolution: dropout_rate after the first of a block, 2·dropout_rate after "
            "the encoder's second ones, and dropout_rate on the output's logits."
        ),
        original="A missing value crashed the original late with a TypeError (C8).",
    ),
}
