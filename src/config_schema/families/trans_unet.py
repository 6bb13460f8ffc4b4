"""The `[model]` keys of TensorflowTransUNet, beyond the general ones."""

from config_schema.kinds import (
                                 ANY,
                                 BOOL,
                                 OPTIONAL_STRING,
                                 POSITIVE,
                                 STRING,
                                 Key,
                                 choice,
                                 either,
                                 integer,
                                 list_of,
                                 optional,
)

# keras.applications encoders TransUNet can use (blocks/trans_backbones.py FEATURE_LAYERS; a test keeps
# the two equal). Listed here so that parsing a config does not import Keras.
BACKBONES = (
    "VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2",
    "DenseNet121", "DenseNet169", "DenseNet201", *(f"EfficientNetB{n}" for n in range(8)),
)

KEYS: dict[str, Key] = {
    "filter_num": Key(
        list_of(POSITIVE), [64, 128, 256, 512],
        doc=(
            "Filters of each encoder level, full size first; the list's length is the depth, and image_width "
            "and image_height must be divisible by 2**(len(filter_num)-1)."
        ),
        original="The original did not check the sizes, and Keras failed later (M53).",
    ),
    "stack_num_down": Key(POSITIVE, 2, doc="Convolutions per encoder level (after its downsampling)."),
    "stack_num_up": Key(POSITIVE, 2, doc="Convolutions per decoder level after the skip concatenation."),
    "embed_dim": Key(POSITIVE, 768, doc="Embedding size of the ViT blocks, and the key size of each attention head."),
    "num_mlp": Key(POSITIVE, 3072, doc="Width of the hidden layer of each ViT block's MLP."),
    "num_heads": Key(
        POSITIVE, 12, doc="Attention heads of each ViT block (one integer, unlike TensorflowSwinUNet's list).",
    ),
    "num_transformer": Key(integer(lo=0), 12, doc="Number of stacked ViT blocks at the bottleneck."),
    "activation": Key(
        STRING, "ReLU",
        doc=(
            "Activation of the convolutions: a Keras layer name (ReLU, LeakyReLU, PReLU, ELU, GELU, Snake, "
            "Softmax) or a Keras activation name such as \"relu\" or \"mish\"."
        ),
        original=(
            "The original's base class evaluated this key as code first, so any value set here failed, and "
            "activation names such as \"relu\" were not accepted (M50)."
        ),
    ),
    "mlp_activation": Key(
        STRING, "GELU",
        doc="Activation after each Dense of the ViT MLPs, named as activation is (GELU: the tanh approximation).",
        original="The original accepted only Keras layer names here (M50).",
    ),
    "batch_norm": Key(BOOL, False, doc="Batch normalization after every convolution (which then has no bias)."),
    "pool": Key(
        either(BOOL, choice("max", "ave")), True,
        doc=(
            "Encoder downsampling: True or \"max\" max-pooling, \"ave\" average pooling, False a strided 2×2 "
            "convolution. Unless unpool is set, it also chooses the decoder's upsampling, as in the original."
        ),
        original="The original also passed pool as unpool, so \"max\" and \"ave\" crashed the decoder (M51).",
    ),
    "unpool": Key(
        optional(either(BOOL, choice("bilinear", "nearest"))), None, new=True,
        doc=(
            "Decoder upsampling: True or \"bilinear\", \"nearest\", or False a 3×3 transposed convolution. "
            "Unset (None): as the original, bilinear unless pool = False, which gives transposed convolutions."
        ),
        original="The original never read unpool and used pool's value instead (M51).",
    ),
    "backbone": Key(
        optional(choice(*BACKBONES)), None,
        doc=(
            "None: the encoder is convolution stacks; else a keras.applications network whose feature maps "
            "(one per level) are the encoder, with stacks added when filter_num is deeper."
        ),
    ),
    "weights": Key(
        OPTIONAL_STRING, "imagenet",
        doc=(
            "Weights of the backbone: \"imagenet\" (downloaded once into ~/.keras/models), None for random, or "
            "the path of a weights file."
        ),
        original=(
            "A failed download stopped the original with a long traceback; here it is one line naming this key "
            "(M52)."
        ),
    ),
    "freeze_backbone": Key(BOOL, True, doc="The backbone's layers are not trained."),
    "freeze_batch_norm": Key(
        BOOL, True,
        doc="With freeze_backbone, its batch normalization layers are frozen too; False trains them.",
    ),
    "patch_size": Key(
        ANY, None,
        doc="Set by the original's older TransUNet configs; TensorflowTransUNet ignores it (its patches are 1×1).",
    ),
}
