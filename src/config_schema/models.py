"""The `[model]` keys of each model family, beyond the general ones.

`FAMILIES` maps a `[model] model` name to its own keys; a key two families
share may have a different default in each. Keys of the original's families
that this toolkit does not build yet are known, so that their configs parse,
but not type-checked.
"""

from config_schema.kinds import (
    ANY,
    BOOL,
    OPTIONAL_STRING,
    POSITIVE,
    REQUIRED,
    Derived,
    Key,
    number,
    pair,
)


def _final_activation(config) -> str:
    return "softmax" if config.get("model", "num_classes") > 1 else "sigmoid"


FAMILIES: dict[str, dict[str, Key]] = {
    "TensorflowUNet": {
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
        "final_activation": Key(
            OPTIONAL_STRING,
            Derived(_final_activation, '"sigmoid" for one class, "softmax" for num_classes > 1'),
            doc=(
                'Activation of the output layer; "sigmoid" with num_classes > 1 gives independent per-class '
                '(multi-label) outputs.'
            ),
            original="The original used sigmoid whatever num_classes said (M7).",
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
    },
}

# Keys of the original's models not built here yet.
NOT_YET_BUILT_KEYS: dict[str, Key] = {
    name: Key(
        ANY, None,
        doc=(
            "A key of one of the original's other model families, which this toolkit does not build yet: "
            "accepted and not checked."
        ),
    )
    for name in (
        "efficientnet filters max_filter base_ksize filter_num_begin depth "
        "stack_num_down stack_num_up patch_size num_heads window_size num_mlp "
        "shift_window filter_num embed_dim num_transformer mlp_activation "
        "batch_norm pool unpool backbone weights freeze_backbone "
        "freeze_batch_norm image_depth diation"
    ).split()
}

# Keys found in the original's configs that nothing reads.
UNUSED_KEYS: dict[str, Key] = {
    name: Key(ANY, None, doc="Found in the original's configs; nothing reads it.")
    for name in (
        "base_dilation kernel_size ksize sharp_ksize decoder_channels grid "
        "hidden_size hybrid mlp_dim num_skip pretrain freeze_enc_cnn dice_loss "
        "model_compile self.activation"
    ).split()
}
