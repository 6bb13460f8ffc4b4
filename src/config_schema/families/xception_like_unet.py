"""The `[model]` keys of TensorflowXceptionLikeUNet, beyond the general ones."""

from config_schema.kinds import POSITIVE, REQUIRED, Key, pair

KEYS: dict[str, Key] = {
    "base_filters": Key(
        POSITIVE, REQUIRED,
        doc="Filters of the entry convolution; each deeper level doubles them.",
    ),
    "num_layers": Key(
        POSITIVE, REQUIRED,
        doc=(
            "Levels: the entry convolution, num_layers − 1 down blocks and num_layers up blocks; image_width "
            "and image_height must be divisible by 2**num_layers."
        ),
        original="The original did not check the sizes, and Keras failed later (M72).",
    ),
    "diation": Key(
        pair(POSITIVE), (1, 1),
        doc=(
            "Dilation rate of the encoder's separable convolutions (spelled as the original spelled it); "
            "[model] dilation is not read by this model."
        ),
        original=(
            "The original also gave it to the two stride-2 convolutions, so any rate above 1 crashed it "
            "(M71)."
        ),
    ),
}
