"""The `[model]` keys of TensorflowBASNet, beyond the general ones."""

from config_schema.kinds import ANY, POSITIVE, Key

KEYS: dict[str, Key] = {
    "basnet_filters": Key(
        POSITIVE, 64, new=True,
        doc=(
            "Width of BASNet: filters of the input convolution, the first ResNet-34 stage and the refinement "
            "module; the deeper stages, the bridge and the decoder use up to 8 times as many. 64 builds the "
            "original's network."
        ),
        original="The original's width was fixed at 64 (M74).",
    ),
    "base_filters": Key(
        ANY, None,
        doc="Read by the original's TensorflowBASNet and ignored; accepted and not used (see basnet_filters).",
    ),
    "num_layers": Key(
        ANY, None,
        doc="Read by the original's TensorflowBASNet and ignored; accepted and not used.",
    ),
}
