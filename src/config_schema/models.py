"""The `[model]` keys of each model family, beyond the general ones.

`FAMILIES` maps a `[model] model` name to its own keys (one module per family
in `families/`); a key two families share may have a different kind or
default in each. `UNUSED_KEYS` are found in the original's configs and read by
nothing (`image_depth` belonged to its 3-D U-Net, which is not built here).
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

# Keys found in the original's configs that nothing reads.
UNUSED_KEYS: dict[str, Key] = {
    name: Key(ANY, None, doc="Found in the original's configs; nothing reads it.")
    for name in (
        "base_dilation kernel_size ksize sharp_ksize decoder_channels grid "
        "hidden_size hybrid mlp_dim num_skip pretrain freeze_enc_cnn dice_loss "
        "model_compile self.activation image_depth"
    ).split()
}
