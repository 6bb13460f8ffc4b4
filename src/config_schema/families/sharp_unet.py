"""The `[model]` keys of TensorflowSharpUNet, beyond the general ones."""

from config_schema.kinds import ANY, BOOL, POSITIVE, Key, list_of, pair

KEYS: dict[str, Key] = {
    "filters": Key(
        list_of(POSITIVE), [32, 64, 128, 256],
        doc=(
            "Filters of the encoder's levels, shallowest first, each followed by a 2×2 max-pool; image_width and "
            "image_height must be divisible by 2**len(filters)."
        ),
        original="The original did not check the sizes, and Keras failed later (M65).",
    ),
    "max_filter": Key(POSITIVE, 512, doc="Filters of the two bridge convolutions below the deepest level."),
    "base_ksize": Key(
        pair(POSITIVE), (3, 3),
        doc="Kernel size of every convolution (the sharpening filter of the skips is always 3×3).",
    ),
    "dilation": Key(pair(POSITIVE), (1, 1), doc="Dilation rate of every convolution."),
    "connected_decoder": Key(
        BOOL, False, new=True,
        doc=(
            "True feeds each decoder level's two convolutions into the next level, as the Sharp U-Net paper "
            "does; False keeps the original's graph, where only the last level's convolutions are connected "
            "(weight files of the original load only with False)."
        ),
        original=(
            "The original upsampled each level's concatenation instead of its convolutions, which dropped all "
            "decoder convolutions but the last level's (M66)."
        ),
    ),
    "base_filters": Key(ANY, None, doc="Read by the original and ignored by this family; no effect here either."),
    "num_layers": Key(
        ANY, None, doc="Read by the original and ignored by this family (filters sets the depth); no effect."
    ),
}
