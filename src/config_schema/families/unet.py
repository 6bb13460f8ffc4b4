"""The `[model]` keys of TensorflowUNet (the SlightlyFlexible U-Net), beyond the general ones."""

from config_schema.kinds import BOOL, POSITIVE, REQUIRED, Key, number, pair

KEYS: dict[str, Key] = {
    "base_filters": Key(
        POSITIVE, REQUIRED,
        doc="Filters of the first level's convolutions; each deeper level doubles them.",
    ),
    "num_layers": Key(
        POSITIVE, REQUIRED,
        doc=(
            "Levels of the U-Net, the bridge included; image_width and image_height must be divisible by "
            "2**(num_layers-1)."
        ),
        original="The original did not check the sizes, and Keras failed later (M2).",
    ),
    "dropout_rate": Key(
        number(0, 1), REQUIRED,
        doc=(
            "Dropout after the first convolution of each level, dropout_rate × level (none at the first); "
            "dropout_rate·(num_layers − 1) must be below 1."
        ),
        original="A missing value crashed the original late with a TypeError (C8).",
    ),
    "base_kernels": Key(
        pair(POSITIVE), (3, 3),
        doc=(
            "Kernel size of the first level's convolutions, two equal odd numbers; each deeper level is 2 "
            "smaller, down to 3."
        ),
        original="The original used the second number for both and accepted even sizes (M6).",
    ),
    "dilation": Key(
        pair(POSITIVE), (1, 1),
        doc=(
            "Dilation rate of the first level's convolutions, two equal numbers; each deeper level is 1 "
            "smaller, down to 1."
        ),
        original="Unequal rates crashed the original (M1).",
    ),
    "input_normalize": Key(
        BOOL, True, sees=True,
        doc=(
            "A first layer divides the input by 255; set it False when [dataset] image_normalize already "
            "does."
        ),
    ),
    "normalization": Key(BOOL, False, doc="Batch normalization after every convolution."),
    "dropout_seed_fixing": Key(BOOL, False, doc="Dropout layers use the fixed seed 137."),
}
