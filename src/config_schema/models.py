"""The `[model]` keys of each model family, beyond the general ones.

`FAMILIES` maps a `[model] model` name to its own keys; a key two families
share may have a different default in each. Keys of the original's families
that this toolkit does not build yet are known, so that their configs parse,
but not type-checked.
"""

from config_schema.families import (
    attention_unet,
    basnet,
    deeplab_v3_plus,
    efficient_unet,
    efficientnet_b7_unet,
    multires_unet,
    sharp_unet,
    swin_unet,
    trans_unet,
    u2net,
    unet,
    unet3plus,
    xception_like_unet,
)
from config_schema.kinds import ANY, Key

FAMILIES: dict[str, dict[str, Key]] = {
    "TensorflowUNet": unet.KEYS,
    "TensorflowAttentionUNet": attention_unet.KEYS,
    "TensorflowDeepLabV3Plus": deeplab_v3_plus.KEYS,
    "TensorflowEfficientUNet": efficient_unet.KEYS,
    "TensorflowEfficientNetB7UNet": efficientnet_b7_unet.KEYS,
    "TensorflowMultiResUNet": multires_unet.KEYS,
    "TensorflowSharpUNet": sharp_unet.KEYS,
    "TensorflowSwinUNet": swin_unet.KEYS,
    "TensorflowTransUNet": trans_unet.KEYS,
    "TensorflowU2Net": u2net.KEYS,
    "TensorflowUNet3Plus": unet3plus.KEYS,
    "TensorflowXceptionLikeUNet": xception_like_unet.KEYS,
    "TensorflowBASNet": basnet.KEYS,
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
