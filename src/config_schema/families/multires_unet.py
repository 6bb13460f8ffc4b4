"""The `[model]` keys of TensorflowMultiResUNet, beyond the general ones."""

from config_schema.kinds import POSITIVE, REQUIRED, Key

KEYS: dict[str, Key] = {
    "base_filters": Key(
        POSITIVE, REQUIRED,
        doc=(
            "Nominal width of the first level's MultiRes block (its three convolutions have about 1.67× as "
            "many channels in all); each deeper level doubles it."
        ),
    ),
    "num_layers": Key(
        POSITIVE, REQUIRED,
        doc=(
            "Levels of the MultiResUNet, the bridge included (level i's ResPath has num_layers − i units); "
            "image_width and image_height must be divisible by 2**(num_layers-1)."
        ),
        original="The original did not check the sizes, and Keras failed later with a shape error (M40).",
    ),
}
