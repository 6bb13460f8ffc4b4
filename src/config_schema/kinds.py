"""Every config section and key the toolkit knows, with the values each accepts.

The key list is the original toolkit's (spec §2.2), including keys it reads
nowhere and its own misspellings (`alpah`, `contrast_alpah`, `contrast_best`,
`diation`), plus the keys this toolkit adds (marked NEW). `None` is accepted
for every key and means "not set": the reader of the key applies its default.

Types are checked when the file is parsed, before any file or folder is
touched; checks that involve several keys live with the code that uses them.
"""

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Kind:
    """What one key accepts: a test and the words used in error messages."""

    description: str
    test: Callable[[Any], bool]
    nullable: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        return self.test(value)


def optional(kind: Kind) -> Kind:
    """`kind`, or None."""
    return Kind(kind.description + " or None", kind.test, nullable=True)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bounds_text(lo, hi, lo_open, hi_open) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi}")
    return (" " + " and ".join(parts)) if parts else ""


def _in_bounds(v, lo, hi, lo_open, hi_open) -> bool:
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    return hi is None or (v < hi if hi_open else v <= hi)


def integer(lo=None, hi=None) -> Kind:
    return Kind(
        "an integer" + _bounds_text(lo, hi, False, False),
        lambda v: _is_int(v) and _in_bounds(v, lo, hi, False, False),
    )


def number(lo=None, hi=None, lo_open=False, hi_open=False) -> Kind:
    return Kind(
        "a number" + _bounds_text(lo, hi, lo_open, hi_open),
        lambda v: _is_number(v) and _in_bounds(v, lo, hi, lo_open, hi_open),
    )


def choice(*options) -> Kind:
    return Kind(
        "one of " + ", ".join(repr(o) for o in options), lambda v: v in options
    )


def pair(item: Kind) -> Kind:
    return Kind(
        f"a pair like (3, 3), each {item.description}",
        lambda v: isinstance(v, (tuple, list))
        and len(v) == 2
        and all(item.test(x) for x in v),
    )


def list_of(item: Kind, length=None) -> Kind:
    size = f"{length} " if length else ""
    return Kind(
        f"a list of {size}values, each {item.description}",
        lambda v: isinstance(v, (list, tuple))
        and (length is None or len(v) == length)
        and all(item.test(x) for x in v),
    )


def either(*kinds: Kind) -> Kind:
    return Kind(
        " or ".join(k.description for k in kinds),
        lambda v: any(k.test(v) for k in kinds),
    )


BOOL = Kind("True or False", lambda v: isinstance(v, bool), nullable=True)
STRING = Kind("a quoted string", lambda v: isinstance(v, str))
ANY = Kind("any literal", lambda v: True, nullable=True)
OPTIONAL_STRING = optional(STRING)
POSITIVE = integer(lo=1)
RGB = list_of(integer(0, 255), length=3)
COLOUR = either(STRING, RGB)
NUMBERS = list_of(number())

# Keys of models this toolkit does not build yet (spec §3.3-3.14). They are
# known, so configs written for those models parse, but not type-checked.
_OTHER_MODEL_KEYS = (
    "efficientnet filters max_filter base_ksize filter_num_begin depth "
    "stack_num_down stack_num_up patch_size num_heads window_size num_mlp "
    "shift_window filter_num embed_dim num_transformer mlp_activation "
    "batch_norm pool unpool backbone weights freeze_backbone "
    "freeze_batch_norm image_depth diation"
).split()
# Keys found in the original's configs that nothing reads (spec §2.2).
_UNUSED_MODEL_KEYS = (
    "base_dilation kernel_size ksize sharp_ksize decoder_channels grid "
    "hidden_size hybrid mlp_dim num_skip pretrain freeze_enc_cnn dice_loss "
    "model_compile self.activation"
).split()

_DATA_PATHS = {"image_datapath": STRING, "mask_datapath": STRING}

SECTIONS: dict[str, dict[str, Kind]] = {
    "model": {
        "model": STRING,
        "image_width": POSITIVE,
        "image_height": POSITIVE,
        "image_channels": choice(1, 3),
        "num_classes": POSITIVE,
        "base_filters": POSITIVE,
        "num_layers": POSITIVE,
        "activation": STRING,
        "optimizer": choice("Adam", "AdamW"),
        "learning_rate": number(0, lo_open=True),
        "clipvalue": optional(number(0, lo_open=True)),
        "loss": STRING,
        "metrics": list_of(STRING),
        "show_summary": BOOL,
        "generator": BOOL,
        "evaluation": choice("train", "eval", "test"),
        "input_normalize": BOOL,
        "normalization": BOOL,
        "dropout_seed_fixing": BOOL,
        "dropout_rate": number(0, 1),
        "base_kernels": pair(POSITIVE),
        "dilation": pair(POSITIVE),
        "final_activation": OPTIONAL_STRING,
        **{key: ANY for key in _OTHER_MODEL_KEYS + _UNUSED_MODEL_KEYS},
    },
    "train": {
        "epochs": POSITIVE,
        "batch_size": POSITIVE,
        "model_dir": STRING,
        "eval_dir": STRING,
        **_DATA_PATHS,
        "patience": integer(),
        "metrics": list_of(STRING, length=2),
        "save_weights_only": BOOL,
        "learning_rate_reducer": BOOL,
        "reducer_patience": integer(lo=0),
        "reducer_factor": number(0, 1, lo_open=True, hi_open=True),
        "seedreset_callback": BOOL,
        "epoch_change_infer": BOOL,
        "epoch_change_infer_dir": STRING,
        "epoch_change_tiledinfer": BOOL,
        "epoch_change_tiledinfer_dir": STRING,
        "num_infer_images": integer(),
        "create_backup": BOOL,
        "dataset_splitter": BOOL,
        "steps_per_epoch": POSITIVE,
        "validation_steps": POSITIVE,
        "show_history": BOOL,
        "best_model_file": OPTIONAL_STRING,
        "save_model_file": ANY,
        "seed": integer(0, 2**32 - 1),  # NEW: seeds Python, NumPy and TensorFlow
        "resume": BOOL,  # NEW: False forces a fresh run (old one kept)
        "tensorboard": BOOL,  # NEW: TensorBoard logs under eval_dir
    },
    "eval": {**_DATA_PATHS, "batch_size": POSITIVE, "output_dir": ANY},
    "test": {**_DATA_PATHS, "output_dir": ANY},
    "dataset": {
        "datasetclass": STRING,
        "resize_interpolation": STRING,
        "image_normalize": BOOL,
        "color_order": STRING,
        "debug": BOOL,
        "debug_max": POSITIVE,  # NEW: how many pairs `debug` writes (default 50)
        "mask_format": STRING,
        "rgb_mask": BOOL,
        "input_normalize": BOOL,
        "image_format": STRING,
        "sharpening": BOOL,
    },
    "image": {
        "color_converter": OPTIONAL_STRING,
        "gamma": number(0),
        "sharpening": number(0),
        "contrast_adjuster": BOOL,
        "contrast_alpah": number(),
        "contrast_best": number(),
        "reverse": BOOL,
    },
    "mask": {
        "binarize": BOOL,
        "threshold": number(0, 255),
        "algorithm": OPTIONAL_STRING,
        "blur": BOOL,
        "blur_size": pair(POSITIVE),
        "grayscaling": optional(either(BOOL, list_of(number(0), length=3))),
        "mask_colors": optional(list_of(RGB)),
        "color_order": choice("rgb", "bgr"),
        "mask_channels": POSITIVE,
        "normalized_threshold": number(0, 1),
        "classes": ANY,
        "sharpening": BOOL,
    },
    "infer": {
        "images_dir": STRING,
        "output_dir": STRING,
        "merged_dir": OPTIONAL_STRING,
        "blur": BOOL,
        "ksize": pair(POSITIVE),
        "mask_colorize": BOOL,
        "colorized_dir": OPTIONAL_STRING,
        "colorized_output_format": choice("rgb", "bgr"),
        "algorithm": OPTIONAL_STRING,
        "threshold": number(0, 255),
        "binarize": BOOL,  # NEW: apply threshold/algorithm to predictions
    },
    "tiledinfer": {
        "images_dir": STRING,
        "output_dir": STRING,
        "merged_dir": OPTIONAL_STRING,
        "split_size": POSITIVE,
        "overlapping": integer(lo=0),
        "bitwise_blending": BOOL,
        "binarize": BOOL,
        "threshold": number(0, 255),
        "algorithm": OPTIONAL_STRING,
        "background": integer(0, 255),
        "debug": ANY,
    },
    "segmentation": {
        "colorize": BOOL,
        "black": COLOUR,
        "white": COLOUR,
        "blursize": ANY,
    },
    "generator": {
        "debug": BOOL,
        "augmentation": BOOL,
        "generated_images_dir": STRING,
        "generated_masks_dir": STRING,
        "verbose": BOOL,
    },
    "augmentor": {
        "hflip": BOOL,
        "vflip": BOOL,
        "rotation": BOOL,
        "angles": NUMBERS,
        "shrinks": list_of(number(0, 1, lo_open=True)),
        "shears": NUMBERS,
        "deformation": BOOL,
        "distortion": BOOL,
        "barrdistortion": BOOL,
        "pincdistortion": BOOL,
        "sharpening": BOOL,
        "brightening": BOOL,
        # Pre-2024/04 names; the original ignores them here (spec §2.2).
        "transformer": ANY,
        "alpah": ANY,
        "sigmoid": ANY,
    },
    "deformation": {
        "alpah": number(),
        "sigmoids": list_of(number(0, lo_open=True)),
        "sigmoid": number(0, lo_open=True),
    },
    "distortion": {
        "gaussian_filter_rsigma": number(0, lo_open=True),
        "gaussian_filter_sigma": number(0),
        "distortions": list_of(number(0, 1)),
    },
    "barrdistortion": {
        "radius": number(0, lo_open=True),
        "amount": number(),
        "centers": list_of(pair(number())),
    },
    "pincdistortion": {
        "radius": number(0, lo_open=True),
        "amount": number(),
        "centers": list_of(pair(number())),
    },
    "sharpening": {"k": number(0)},
    "brightening": {"alpha": number(), "beta": number()},
    "inspect": {"model_graph": STRING, "summary": STRING},
}

# Keys the original ignores where they stand; a note tells the user where
# they belong instead of silently doing nothing.
IGNORED: dict[tuple[str, str], str] = {
    ("augmentor", "transformer"): "renamed: use [augmentor] deformation",
    ("augmentor", "alpah"): "it belongs in [deformation]",
    ("augmentor", "sigmoid"): "it belongs in [deformation]",
}


# Features of the original that this toolkit does not provide yet: setting
# the key to enable one is an error, not silence. Each entry is
# (section, key) -> (test on the value, what is missing).
UNBUILT: dict[tuple[str, str], tuple[Callable[[Any], bool], str]] = {
    ("train", "epoch_change_tiledinfer"): (
        bool,
        "tiled inference is not available yet",
    ),
}
