"""The `[model]` keys of TensorflowSwinUNet, beyond the general ones."""

from config_schema.kinds import ANY, BOOL, POSITIVE, REQUIRED, Key, integer, list_of, number, optional, pair

KEYS: dict[str, Key] = {
    "filter_num_begin": Key(
        POSITIVE, 128,
        doc=(
            "Embedding channels of the patch tokens at the first level; each deeper level doubles them. A "
            "multiple of the patch size."
        ),
    ),
    "depth": Key(
        POSITIVE, 4,
        doc=(
            "Levels of the Swin-UNet, the bottom one included; image_width and image_height must be multiples "
            "of patch_size·2**(depth-1)."
        ),
        original="The original did not check the sizes, and TensorFlow failed later (M46).",
    ),
    "stack_num_down": Key(integer(0), 2, doc="Swin Transformer blocks at each encoder level."),
    "stack_num_up": Key(integer(0), 2, doc="Swin Transformer blocks at each decoder level, after the skip."),
    "patch_size": Key(
        pair(POSITIVE), (4, 4),
        doc=(
            "Size of the non-overlapping patches the image is cut into, two equal numbers; the last layer "
            "expands the patch grid back by this factor."
        ),
        original="Unequal sizes crashed the original, and sizes not dividing the image gave a smaller output (M46).",
    ),
    "num_heads": Key(
        list_of(POSITIVE), [4, 8, 8, 8],
        doc=(
            "Attention heads of each level, one per level (depth values), each dividing that level's channels; "
            "the decoder takes those of the level below (see mirror_decoder)."
        ),
        original="The original indexed the list without checking its length (M46).",
    ),
    "window_size": Key(
        list_of(POSITIVE), REQUIRED,
        doc=(
            "Attention window (in patches) of each level, one per level, e.g. [4, 2, 2, 2]; each must tile its "
            "level's patch grid, and a grid smaller than its window uses the whole grid as one window."
        ),
        original=(
            "A missing value crashed the original late with a TypeError (C8); a grid smaller than its window "
            "crashed it (M45)."
        ),
    ),
    "num_mlp": Key(POSITIVE, 512, doc="Hidden units of the MLP in every Swin Transformer block."),
    "shift_window": Key(
        BOOL, None,
        doc=(
            "True: every second block of a stack shifts its windows by half a window (Swin-MSA); None or "
            "False: no shift."
        ),
    ),
    "mirror_decoder": Key(
        BOOL, False, new=True,
        doc=(
            "False (the original): each decoder level uses the num_heads and window_size of the level below "
            "it, as keras_unet_collection read them; True: those of the encoder level of the same resolution, "
            "which changes the weights' shapes (M47)."
        ),
    ),
    "clipvalue": Key(
        optional(number(0, lo_open=True)), 0.5,
        doc="Every gradient element is clipped to [-clipvalue, clipvalue]; None turns clipping off.",
        original=(
            "The original's Swin-UNet read it with its own default 0.5, and None was the same as unset (M4)."
        ),
    ),
    "base_filters": Key(ANY, None, doc="Read by the original's Swin-UNet and ignored; accepted and unused."),
    "num_layers": Key(ANY, None, doc="Read by the original's Swin-UNet and ignored; accepted and unused."),
}
