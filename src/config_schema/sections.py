"""Every general config section and key, with its values and default.

The key list is the original toolkit's, including keys it reads nowhere and
its own misspellings (`alpah`, `contrast_alpah`, `contrast_best`), plus the
keys this toolkit adds (`new=True`). The keys of each model family are in
`models.py`. docs/config.md is generated from these tables.

Types are checked when the file is parsed, before any file or folder is
touched; checks that involve several keys live with the code that uses them.
"""

from typing import Any, Callable

from config_schema.kinds import (
    ANY,
    BOOL,
    COLOUR,
    NUMBERS,
    OPTIONAL_STRING,
    POSITIVE,
    REQUIRED,
    RGB,
    STRING,
    Derived,
    Key,
    choice,
    either,
    integer,
    list_of,
    number,
    optional,
    pair,
)


def _reducer_patience(config) -> int:
    # The original's: half the EarlyStopping patience, truncated, or 5 when that is 0.
    return int(config.get("train", "patience") / 2) or 5


def _data_paths(default, what: str, original: str = "", note: str = "") -> dict[str, Key]:
    paired = "Masks were paired with images by position in two sorted lists (D3)."
    return {
        "image_datapath": Key(STRING, default, f"Folder of the {what} images.{note}", original),
        "mask_datapath": Key(
            STRING, default, f"Folder of the {what} masks, one per image, paired by file stem.{note}",
            " ".join(filter(None, (original, paired))),
        ),
    }


def _final_activation(config) -> str:
    return "softmax" if config.get("model", "num_classes") > 1 else "sigmoid"


# [model] keys every model family reads; each family's own keys are in families/.
MODEL: dict[str, Key] = {
    "model": Key(
        STRING, "TensorflowUNet",
        doc=(
            "The network to build. Only TensorflowUNet (the original's SlightlyFlexible U-Net) is built so "
            "far; the original's other model names are an error saying so."
        ),
        original="The original evaluated the name as Python code (C7).",
    ),
    "image_width": Key(
        POSITIVE, REQUIRED, sees=True,
        doc="Width in pixels of the network input; every image and mask is resized to it.",
        original="Only square sizes worked in the original (D13).",
    ),
    "image_height": Key(
        POSITIVE, REQUIRED, sees=True,
        doc="Height in pixels of the network input; every image and mask is resized to it.",
        original="Only square sizes worked in the original (D13).",
    ),
    "image_channels": Key(
        integer(lo=1, hi=512), 3, sees=True,
        doc=(
            "1 reads images as grey, shape (H, W, 1); 3 feeds three colour channels (grey files as three equal "
            "channels). Any count also reads `.npy` channel stacks of that many channels, as they are (the "
            "converter's `--context K` writes 2K + 1); image files give only 1 or 3."
        ),
        original="The original had no default, and 1 always failed (D9).",
    ),
    "num_classes": Key(
        POSITIVE, 1,
        doc=(
            "1 segments one foreground (one sigmoid output); N > 1 counts the background too and trains an "
            "N-class map, class 0 being background."
        ),
        original="The original had no default, and only 1 worked (D16).",
    ),
    "activation": Key(
        STRING, "relu",
        doc="Activation of the U-Net's convolutions, a Keras name such as \"relu\", \"elu\" or \"mish\".",
        original="The original evaluated the name as Python code (C7).",
    ),
    "optimizer": Key(
        choice("Adam", "AdamW"), "Adam",
        doc="Adam, or AdamW (Adam with Keras's default weight decay); both use learning_rate and clipvalue.",
    ),
    "learning_rate": Key(
        number(0, lo_open=True), REQUIRED,
        doc="Initial learning rate of the optimizer.",
        original="A missing value crashed the original late with a TypeError (C8).",
    ),
    "clipvalue": Key(
        optional(number(0, lo_open=True)), 0.2,
        doc="Every gradient element is clipped to [-clipvalue, clipvalue]; None turns clipping off.",
        original="In the original None was the same as unset, so clipping could not be turned off (M4).",
    ),
    "loss": Key(
        STRING, REQUIRED,
        doc=(
            'Name of the loss, e.g. "bce_dice_loss"; with num_classes > 1 and a softmax output, one of '
            'categorical_crossentropy, sparse_categorical_crossentropy and categorical_dice_loss.'
        ),
        original="The original evaluated the name as Python code, and a missing loss crashed it (C7, C8).",
    ),
    "metrics": Key(
        list_of(STRING), REQUIRED,
        doc=(
            'Metrics compiled with the model, e.g. ["dice_coef"]: logged every epoch (with val_) and written '
            'to evaluation.csv. With num_classes > 1 they are means over the foreground classes.'
        ),
        original="The original evaluated each name as Python code and skipped unknown ones (C7).",
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
    "show_summary": Key(BOOL, False, doc="Print the model's layer summary when it is built."),
    "generator": Key(
        BOOL, False,
        doc=(
            "True trains on an endless stream of augmented training samples ([augmentor] and the sections it "
            "names), steps_per_epoch batches an epoch; False makes one shuffled pass over the training pairs "
            "an epoch."
        ),
        original=(
            "The original built each batch from every variant of a few sampled images and augmented validation "
            "too (A1, A3)."
        ),
    ),
    "evaluation": Key(
        choice("train", "eval", "test"), "test",
        doc="The section whose image and mask folders 2.evaluate scores.",
    ),
}

SECTIONS: dict[str, dict[str, Key]] = {
    "model": MODEL,
    "train": {
        "epochs": Key(
            POSITIVE, REQUIRED,
            doc=(
                "Epochs to train in total. A finished run started again with a larger value continues where it "
                "stopped."
            ),
        ),
        "batch_size": Key(
            POSITIVE, REQUIRED,
            doc="Images per training and validation batch.",
            original=(
                "In generator mode the original sampled this many images and drew the batch from all their "
                "variants (A1)."
            ),
        ),
        "model_dir": Key(
            STRING, REQUIRED,
            doc="Folder of the best model, a copy of the config and the resumable state (<model_dir>/resume).",
            original="The original deleted it at every start unless create_backup = True (T1).",
        ),
        "eval_dir": Key(
            STRING, REQUIRED,
            doc=(
                "Folder of the training curves: train_losses.csv, train_metrics.csv and their plots (and "
                "TensorBoard logs)."
            ),
            original="The original deleted it at every start unless create_backup = True (T1).",
        ),
        **_data_paths(REQUIRED, "training"),
        "patience": Key(
            integer(), 10,
            doc="Epochs without val_loss improvement before training stops; <= 0 disables early stopping.",
        ),
        "metrics": Key(
            list_of(STRING, length=2), ["accuracy", "val_accuracy"],
            doc=(
                'The two log keys written to train_metrics.csv and plotted, e.g. ["dice_coef", '
                '"val_dice_coef"]; not the compiled metrics, which [model] metrics names.'
            ),
        ),
        "save_weights_only": Key(
            BOOL, False,
            doc=(
                "True saves the best model's weights only (best_model.weights.h5); False the full model "
                "(best_model.keras)."
            ),
            original="The original wrote best_model.h5 either way (T3).",
        ),
        "learning_rate_reducer": Key(
            BOOL, False,
            doc=(
                "Multiply the learning rate by reducer_factor when val_loss has not improved for "
                "reducer_patience epochs."
            ),
        ),
        "reducer_patience": Key(
            integer(lo=0), Derived(_reducer_patience, "patience / 2 truncated, or 5 when that is 0"),
            doc="Epochs without val_loss improvement before the learning rate is reduced.",
        ),
        "reducer_factor": Key(
            number(0, 1, lo_open=True, hi_open=True), 0.1,
            doc="Factor the learning rate is multiplied by at each reduction.",
        ),
        "lr_schedule": Key(
            optional(choice("poly", "cosine")), None, new=True,
            doc=(
                "The learning rate of epoch e (0-based) of E = epochs after warmup_epochs W, with base = [model] "
                'learning_rate and t = (e − W)/(E − W): "poly" base·(1 − t)^0.9 (nnU-Net), "cosine" '
                "base·0.5·(1 + cos(π t)); unset: the constant base. Set at every epoch start and logged as "
                "learning_rate (lr in history.json); it depends on epochs, so raising epochs to extend a run "
                "stretches the rest of the schedule. Not with learning_rate_reducer = True."
            ),
        ),
        "warmup_epochs": Key(
            integer(lo=0), 0, new=True,
            doc=(
                "Epochs of linear warmup before lr_schedule (or the constant rate when it is unset): epoch e < W "
                "trains at base·(e + 1)/(W + 1). Less than epochs; not with learning_rate_reducer = True."
            ),
        ),
        "seedreset_callback": Key(
            BOOL, False,
            doc="Reseed Python, NumPy and TensorFlow with [train] seed at the start of every epoch.",
            original="True crashed the original at start (T13).",
        ),
        "epoch_change_infer": Key(
            BOOL, False,
            doc=(
                "After every epoch, predict the first num_infer_images images of [infer] images_dir into "
                "epoch_change_infer_dir, to watch the masks form."
            ),
        ),
        "epoch_change_infer_dir": Key(
            STRING, "./epoch_change_infer",
            doc="Folder of the per-epoch previews, Epoch_<n>_<stem>.jpg.",
            original="The original deleted it at every start (T1).",
        ),
        "epoch_change_tiledinfer": Key(
            BOOL, False,
            doc=(
                "After every epoch, tiled-predict the first num_infer_images images of [tiledinfer] images_dir "
                "into epoch_change_tiledinfer_dir."
            ),
        ),
        "epoch_change_tiledinfer_dir": Key(
            STRING, "./epoch_change_tiledinfer",
            doc="Folder of the per-epoch tiled previews, Epoch_<n>_<file name> (the input's extension kept).",
            original="The original deleted it at every start (T1).",
        ),
        "num_infer_images": Key(
            integer(), 1,
            doc=(
                "How many images (the first, sorted by name) the per-epoch previews predict, at least 1 and at "
                "most all."
            ),
            original="The original took the first images in file-system order (I4).",
        ),
        "create_backup": Key(
            BOOL, False,
            doc=(
                "No effect: nothing is deleted. Results a fresh run would overwrite are always moved to "
                "<folder>_<stamp>_bak."
            ),
            original="False made the original delete model_dir and eval_dir at every start (T1).",
        ),
        "dataset_splitter": Key(
            BOOL, False,
            doc="No effect: without [eval] folders, the last 20 % of the training volumes validate.",
            original="The original chose how the last 20 % of the sorted slices were held out (D12).",
        ),
        "steps_per_epoch": Key(
            POSITIVE, 400,
            doc="Generator mode only: batches of the augmented stream in an epoch.",
        ),
        "validation_steps": Key(
            POSITIVE, 800,
            doc=(
                "Generator mode only: validation batches in an epoch, read from [eval] unaugmented and "
                "repeated as needed."
            ),
            original="The original's validation batches were sampled at random and augmented (A3).",
        ),
        "show_history": Key(BOOL, False, doc="Read by the original but unused; no effect here either."),
        "best_model_file": Key(
            OPTIONAL_STRING, "best_model.h5",
            doc=(
                "The model file in model_dir that 2.evaluate and 3.infer load; <stem>.weights.h5 and "
                "<stem>.keras are tried too. Training always writes best_model.weights.h5 or best_model.keras."
            ),
            original="The original tried this name only (I2).",
        ),
        "save_model_file": Key(
            ANY, None,
            doc="Described in the original's README, read by neither toolkit; no effect.",
        ),
        "seed": Key(
            integer(0, 2**32 - 1), 137, new=True,
            doc=(
                "Seeds Python, NumPy and TensorFlow at the start, the order of the training pairs each epoch, "
                "and the augmented stream: the same seed repeats a run's first epoch on the same machine."
            ),
        ),
        "resume": Key(
            BOOL, True, new=True,
            doc=(
                "True continues an unfinished run with the same training settings; False always starts afresh "
                "(earlier results are still moved aside, not deleted)."
            ),
        ),
        "tensorboard": Key(BOOL, False, new=True, doc="Write TensorBoard logs under <eval_dir>/tensorboard."),
        "strategy": Key(
            choice("default", "mirrored", "multi_worker"), "default", new=True,
            doc=(
                '"default": one device. "mirrored": every local GPU (without GPUs, the logical CPU devices '
                '[train] cpu_devices makes). "multi_worker": MultiWorkerMirroredStrategy over the cluster the '
                "TF_CONFIG environment variable describes; the chief (worker 0) alone writes files. batch_size "
                "stays the global batch."
            ),
        ),
        "cpu_devices": Key(
            POSITIVE, 1, new=True,
            doc='strategy = "mirrored" without GPUs: the logical CPU devices to mirror over (for testing).',
        ),
        "mixed_precision": Key(
            optional(choice("mixed_float16", "mixed_bfloat16")), None, new=True,
            doc=(
                'Keras mixed-precision policy for the model: "mixed_float16" (GPUs; loss scaling on) or '
                '"mixed_bfloat16". The output layer and the losses stay float32. Unset: float32.'
            ),
        ),
        "jit_compile": Key(BOOL, False, new=True, doc="Compile the training step with XLA."),
        "cache": Key(
            either(BOOL, STRING), False, new=True,
            doc=(
                'Keep the decoded, resized (un-augmented) training pairs across epochs, as uint8: "memory", or a '
                "file path (reused by a later run on the same files and settings, refused for others); False reads "
                "every pair from disk each time. Validation pairs are always read from disk. The size is printed, "
                "and a cache that would not fit in the machine's memory (or on its disk) is refused."
            ),
        ),
    },
    "eval": {
        **_data_paths(
            None, "validation",
            "Unset crashed the original; missing folders split by slice, not by volume (C8, D12).",
            " Unset, or not an existing folder: the last 20 % of the training volumes validate.",
        ),
        "batch_size": Key(
            POSITIVE, 4,
            doc="Batch size of 2.evaluate, whichever section [model] evaluation names.",
        ),
        "threshold": Key(
            number(0, 1), 0.5, new=True,
            doc=(
                "2.evaluate's per-image and per-volume metrics count a pixel as foreground where the predicted "
                "probability is at least this (a probability; [infer] threshold is 0-255)."
            ),
        ),
        "manifest": Key(
            OPTIONAL_STRING, None, new=True,
            doc=(
                "The converter's manifest.csv that gives 2.evaluate the pixel spacing (mm) of each slice file. "
                "Unset: manifest.csv in the folder above the evaluated image_datapath, or above that."
            ),
        ),
        "pixel_spacing": Key(
            optional(either(number(0, lo_open=True), list_of(number(0, lo_open=True), length=2),
                            list_of(number(0, lo_open=True), length=3))),
            None, new=True,
            doc=(
                "Millimetres per pixel of the evaluated files when no manifest gives them: one number (rows and "
                "columns), (rows, columns), or (rows, columns, slice spacing); per-volume distances are in mm "
                "only with the slice spacing. It overrides the manifest."
            ),
        ),
        "threshold_sweep": Key(
            BOOL, False, new=True,
            doc=(
                "2.evaluate also finds the threshold 0.1...0.9 with the best mean per-volume Dice on the "
                "validation split ([eval], else the held-out training volumes), never on the evaluated split, "
                "prints it and records it in evaluation_summary.json."
            ),
        ),
        "worst_cases": Key(
            integer(0), 3, new=True,
            doc=(
                "2.evaluate draws the most-wrong slice of each of this many lowest-Dice volumes, ground truth "
                "(green) and prediction (red) outlined on the image, into ./evaluation_worst/ (0: none)."
            ),
        ),
        "output_dir": Key(ANY, None, doc="Found in some of the original's configs; nothing reads it."),
    },
    "test": {
        **_data_paths(None, "test", "Unset crashed the original late (C8)."),
        "output_dir": Key(ANY, None, doc="Found in some of the original's configs; nothing reads it."),
    },
    "dataset": {
        "datasetclass": Key(
            STRING, "ImageMaskDataset",
            doc=(
                "How masks are read: ImageMaskDataset and BaseImageMaskDataset grey masks, "
                "NormalizedImageMaskDataset grey scaled to 0-1 against [mask] normalized_threshold, "
                "RGB2GrayscaleImageMaskDataset colour masks ([mask] mask_colors). Images are read alike for "
                "all."
            ),
            original="Each of the original's classes also read images its own way (D11).",
        ),
        "resize_interpolation": Key(
            STRING, "cv2.INTER_NEAREST", sees=True,
            doc=(
                'OpenCV interpolation that resizes images to the model size, e.g. "cv2.INTER_NEAREST" or '
                '"cv2.INTER_CUBIC"; masks are always resized nearest-neighbour.'
            ),
            original=(
                "The original evaluated it as code, resized masks with it too, and ignored it at inference "
                "(C7, D7, D8)."
            ),
        ),
        "image_normalize": Key(
            BOOL, False, sees=True,
            doc=(
                "Divide images by 255 before they reach the model (with [model] input_normalize = True as "
                "well, they are divided twice)."
            ),
            original="The original applied it in training, not at inference (D8).",
        ),
        "color_order": Key(
            STRING, "rgb", sees=True,
            doc=(
                '"rgb" or "bgr": the channel order colour images reach the model in; [image] color_converter, '
                'when set, replaces it.'
            ),
            original="The original's training always fed BGR, while its inference defaulted to RGB (D8).",
        ),
        "debug": Key(
            BOOL, False,
            doc=(
                "Write the first debug_max training pairs, as the model sees them, to ./dataset_images and "
                "./dataset_masks (masks as visible PNGs)."
            ),
            original=(
                "The original emptied those folders and wrote every pair of every split, masks effectively "
                "black (D14)."
            ),
        ),
        "debug_max": Key(POSITIVE, 50, new=True, doc="How many training pairs [dataset] debug writes."),
        "mask_format": Key(
            STRING, "gray",
            doc="Read only by the original's unreachable multi-class mask path; no effect.",
        ),
        "rgb_mask": Key(
            BOOL, False,
            doc="Read only by the original's BaseImageMaskDataset mask reader; no effect.",
        ),
        "input_normalize": Key(
            BOOL, True,
            doc=(
                "Read by the original but unused; no effect ([model] input_normalize is the one that scales "
                "inputs)."
            ),
        ),
        "image_format": Key(STRING, "rgb", doc="Read by the original but unused; no effect here either."),
        "sharpening": Key(
            BOOL, True,
            doc="Read by the original but unused; no effect ([image] sharpening sharpens images).",
        ),
    },
    "image": {
        "color_converter": Key(
            OPTIONAL_STRING, None, sees=True,
            doc=(
                'An OpenCV colour conversion applied to each image as read (BGR), e.g. '
                '"cv2.COLOR_BGR2HSV_FULL", instead of [dataset] color_order; it must give image_channels '
                'channels, or 1.'
            ),
            original=(
                "The original evaluated it as code, saw RGB at inference but BGR in training, and skipped it "
                "in generator mode (C7, D8, A12)."
            ),
        ),
        "gamma": Key(
            number(0), 0, sees=True,
            doc="When > 0, each pixel value v becomes 255·(v/255)^gamma.",
            original="The original's generator mode skipped it (A12).",
        ),
        "sharpening": Key(
            number(0), 0, sees=True,
            doc="When k > 0, each image is sharpened with a 3×3 kernel: centre 1 + 8k, neighbours −k.",
            original="The original's generator mode skipped it (A12).",
        ),
        "contrast_adjuster": Key(
            BOOL, False, sees=True,
            doc="Adjust contrast: each value v becomes |contrast_alpah·v + contrast_best|, clipped to 0-255.",
            original=(
                "The original applied it after the colour conversion at inference, and not in generator mode "
                "(D8, A12)."
            ),
        ),
        "contrast_alpah": Key(
            number(), 1.5, sees=True,
            doc="Gain of contrast_adjuster (the original's spelling of alpha; contrast_alpha is not read).",
        ),
        "contrast_best": Key(
            number(), 40, sees=True,
            doc="Offset of contrast_adjuster (the original's spelling of beta; contrast_beta is not read).",
        ),
        "reverse": Key(
            BOOL, False, sees=True,
            doc="Invert images: each value v becomes 255 − v.",
            original=(
                "The original inverted training images only, not at inference nor in generator mode (D8, A12)."
            ),
        ),
        "normalize": Key(
            choice("none", "zscore"), "none", sees=True, new=True,
            doc=(
                '"zscore": each image, after the steps above and augmentation, becomes (v − mean) / SD '
                "over its pixels and channels (a constant image becomes 0), as float32; it replaces "
                "[model] input_normalize's ×1/255 and MultiResUNet's built-in ×1/255 (a notice says so) "
                "and [dataset] image_normalize. Tiled inference uses the whole image's mean and SD for "
                'every tile. "none": values as the other keys leave them.'
            ),
        ),
    },
    "mask": {
        "binarize": Key(
            BOOL, False,
            doc=(
                "True: a mask pixel is foreground when it passes threshold/algorithm. False: any non-zero "
                "value in lossless masks (PNG, BMP, TIFF), grey >= 128 in JPEG masks. One-class masks only."
            ),
            original="With False the original counted every non-zero pixel, JPEG fringe included (D5).",
        ),
        "threshold": Key(
            number(0, 255), None,
            doc=(
                'Grey level (0-255) for binarize = True: foreground from it up (above it with '
                '"cv2.THRESH_BINARY"). 16-bit masks are compared as v >> 8.'
            ),
        ),
        "algorithm": Key(
            OPTIONAL_STRING, None,
            doc=(
                'How binarize = True thresholds: None, values >= threshold; "cv2.THRESH_BINARY", values > '
                'threshold; "cv2.THRESH_OTSU" or "cv2.THRESH_TRIANGLE", a threshold found per mask; '
                '"cv2.THRESH_TRUNC" does not binarise (non-zero is foreground).'
            ),
            original="The original evaluated it as code, and its generator mode ignored it (C7, A12).",
        ),
        "blur": Key(
            BOOL, False,
            doc=(
                "Box-blur each one-class grey mask with blur_size and keep what is >= 128, which smooths the "
                "outline."
            ),
            original="In the original the blur acted as a one-pixel dilation (D6).",
        ),
        "blur_size": Key(
            pair(POSITIVE), (3, 3),
            doc="Kernel size (width, height) of the mask blur, in pixels.",
            original="The original's generator mode always used (3, 3) (A12).",
        ),
        "grayscaling": Key(
            optional(either(BOOL, list_of(number(0), length=3, as_tuple=True))), None,
            doc=(
                "No effect: the colours in mask_colors give the classes. Accepted so that the original's "
                "configs parse."
            ),
            original=(
                "The original's RGB2GrayscaleImageMaskDataset mapped colours to grey levels with these weights "
                "(D11)."
            ),
        ),
        "mask_colors": Key(
            optional(list_of(RGB)), None,
            doc=(
                "The foreground colours of colour-coded masks, in color_order (black is background). With "
                "num_classes = N > 1, exactly N − 1 colours, colour k being class k + 1; with one class, any "
                "listed colour is foreground."
            ),
            original=(
                "The original reordered the tuples wrongly, matched JPEG colours exactly, and ignored them for "
                "one class with ImageMaskDataset (D15)."
            ),
        ),
        "color_order": Key(
            choice("rgb", "bgr"), "rgb",
            doc='Channel order of the mask_colors tuples: "rgb" for (r, g, b), "bgr" for (b, g, r).',
            original="The original's \"rgb\" reordered them wrongly as (r, b, g) (D15).",
        ),
        "mask_channels": Key(POSITIVE, 1, doc="Read by the original but unused; no effect here either."),
        "normalized_threshold": Key(
            number(0, 1), 0.15,
            doc=(
                "NormalizedImageMaskDataset: a mask pixel is foreground when its value divided by the full "
                "scale (255, or 65535 for 16-bit; 1 for 0/1 masks) reaches this."
            ),
        ),
        "classes": Key(ANY, None, doc="Read by the original but unused; no effect here either."),
        "sharpening": Key(
            BOOL, False,
            doc="No effect.",
            original=(
                "The original's (broken) colourised mask writer was to sharpen one-class masks with it (I10)."
            ),
        ),
    },
    "infer": {
        "images_dir": Key(
            STRING, None,
            doc=(
                "Folder of the images 3.infer predicts, sorted by name; the per-epoch previews take its first "
                "images. Not needed by 3.infer when volumes_dir is set."
            ),
            original="The original listed them in file-system order (I4).",
        ),
        "output_dir": Key(
            STRING, None,
            doc=(
                "Folder of the predicted masks: <stem>.jpg for one class, <stem>.png class maps (0…N−1) for "
                "num_classes = N > 1; <name>_mask.nii.gz for the volumes of volumes_dir."
            ),
            original="The original deleted and recreated it (I3).",
        ),
        "merged_dir": Key(
            OPTIONAL_STRING, None,
            doc=(
                "If set, each input image with its mask picture added on top is also written here, under the "
                "input's file name."
            ),
            original="The original deleted it, and its overlay added with wrap-around (I3, I6).",
        ),
        "blur": Key(
            BOOL, False,
            doc="Gaussian-blur the predicted probability map with ksize before it is written.",
        ),
        "ksize": Key(
            pair(POSITIVE), (5, 5),
            doc="Kernel size (width, height) of the [infer] blur, in pixels; both odd.",
        ),
        "mask_colorize": Key(
            BOOL, False,
            doc=(
                "Also write each prediction in class colours to colorized_dir as <stem>.png (one class: on the "
                "[segmentation] black-to-white ramp)."
            ),
            original="Broken in the original (I10).",
        ),
        "colorized_dir": Key(
            OPTIONAL_STRING, None,
            doc="Folder of the mask_colorize pictures; required when mask_colorize = True.",
            original="The original deleted and recreated it (I3).",
        ),
        "colorized_output_format": Key(
            choice("rgb", "bgr"), "rgb",
            doc='"bgr" swaps red and blue in the mask_colorize pictures.',
        ),
        "algorithm": Key(
            OPTIONAL_STRING, None,
            doc="Thresholding of [infer] binarize, as [mask] algorithm.",
            original="Read but unused by the original (I5).",
        ),
        "threshold": Key(
            number(0, 255), 127,
            doc="Grey level (0-255) of [infer] binarize, applied to the mask at the image's own size.",
            original="Read but unused by the original (I5).",
        ),
        "binarize": Key(
            BOOL, False, new=True,
            doc=(
                "Threshold one-class masks with threshold/algorithm before they are written, giving 0/255 "
                "masks."
            ),
        ),
        "mirror": Key(
            BOOL, False, new=True,
            doc=(
                "Test-time mirroring: average each prediction with its left-right, up-down and doubly mirrored "
                "predictions (4 passes); 2.evaluate's per-image and per-volume scores are taken after it "
                "(evaluation.csv's batch numbers stay the plain model's). Only for a model trained with both "
                "flips ([augmentor] hflip, vflip): a warning says so otherwise."
            ),
        ),
        "largest_component": Key(
            BOOL, False, new=True,
            doc=(
                "Keep only the largest connected foreground component of each prediction (8 neighbours in 2-D, "
                "26 in 3-D; per foreground class for num_classes > 1, the rest becoming background): per image "
                "in the masks 3.infer writes, per volume for volumes_dir; 2.evaluate scores after it, per volume "
                "where a volume's slices are contiguous, else per image. A one-class soft mask keeps its values "
                "inside the largest component of its threshold/algorithm mask."
            ),
        ),
        "volumes_dir": Key(
            OPTIONAL_STRING, None, new=True,
            doc=(
                "Folder of NIfTI volumes (.nii, .nii.gz) 3.infer segments: each is sliced as the dataset converter "
                "slices it and written to output_dir as <name>_mask.nii.gz with the volume's affine and header, "
                "voxels 0/1 (probability ≥ 0.5), or the most likely class for num_classes > 1. A model trained "
                "on the converter's --context K stacks (its manifest.csv's context) gets the same 2K+1-slice stacks."
            ),
        ),
        "volume_size": Key(
            integer(lo=0), 512, new=True,
            doc=(
                "Side of the square slices the converter cut (its --size; 0: the padded slice, not resized). "
                "Checked against volume_manifest."
            ),
        ),
        "volume_rotation": Key(
            choice(0, 90, 180, 270), 270, new=True,
            doc="Counter-clockwise rotation of the converter's slices, in degrees (its --rotation).",
        ),
        "volume_normalize": Key(
            BOOL, True, new=True,
            doc=(
                "Percentile-normalise each volume's intensities (0.5–99.5 %) as the converter does; False clips "
                "them to 0–255 (its --no-normalize)."
            ),
        ),
        "volume_manifest": Key(
            OPTIONAL_STRING, None, new=True,
            doc=(
                "The converter's manifest.csv that volume_size, volume_rotation and volume_normalize must "
                "match (an error otherwise). Unset: manifest.csv in the folder above [train] image_datapath, "
                "else in the one above that (a split dataset), when there is one."
            ),
        ),
    },
    "tiledinfer": {
        "images_dir": Key(
            STRING, REQUIRED,
            doc="Input folder of tiled inference (TensorflowUNetTiledInferencer.py, epoch_change_tiledinfer).",
        ),
        "output_dir": Key(
            STRING, REQUIRED,
            doc=(
                "Output folder of tiled inference: each mask under its input's file name and format, at its "
                "size (<stem>.png class maps for num_classes > 1)."
            ),
            original="The original deleted and recreated it (TI8).",
        ),
        "merged_dir": Key(
            OPTIONAL_STRING, None,
            doc="If set, each input with its tiled mask added on top, under the input's file name.",
            original="The original deleted it, wrapped its sums around 255 and failed on grey inputs (TI6).",
        ),
        "split_size": Key(
            POSITIVE, Derived(lambda config: config.get("model", "image_width"), "[model] image_width"),
            doc="Tile stride in pixels: each tile predicts a split_size square of the image.",
        ),
        "overlapping": Key(
            integer(lo=0), 0,
            doc=(
                "Margin in pixels of image context added on each side of a tile; the tile plus its margins is "
                "resized to the model's size."
            ),
        ),
        "bitwise_blending": Key(
            BOOL, True,
            doc=(
                "Keep only what both the tiled and the whole-image prediction find: the minimum of the two "
                "probability maps (a logical AND once binarised)."
            ),
            original="The original ANDed the bits of 8-bit grey levels (200 & 100 = 64) (TI2).",
        ),
        "blending": Key(
            choice("paste", "gaussian"), "paste", new=True,
            doc=(
                '"paste": each tile writes its split_size square (the original\'s). "gaussian": overlapping '
                "tiles, tile plus margins, are averaged in probability space with a Gaussian window "
                "(sigma = window/8), so that no seam shows."
            ),
        ),
        "mirror": Key(
            BOOL, False, new=True,
            doc="Average each tile's prediction with its left-right, up-down and doubly mirrored predictions.",
        ),
        "binarize": Key(
            BOOL, False,
            doc="Threshold one-class tiled masks with threshold/algorithm, giving 0/255 masks.",
        ),
        "threshold": Key(
            number(0, 255), 127,
            doc="Grey level (0-255) of [tiledinfer] binarize.",
            original="The original also had unused defaults of 60 and True for it elsewhere (TI5).",
        ),
        "algorithm": Key(
            OPTIONAL_STRING, None,
            doc="Thresholding of [tiledinfer] binarize, as [mask] algorithm.",
            original="The original did not look the name up, so any name turned binarisation off (TI3).",
        ),
        "background": Key(
            number(0, 255), 0,
            doc=(
                "Grey level (0-255) of the image outside its border, where edge tiles and their margins reach "
                "past it."
            ),
            original="The original filled its mosaic canvas with it and padded edge tiles with black (TI4).",
        ),
        "debug": Key(ANY, None, doc="Found in some of the original's configs; nothing reads it."),
    },
    "segmentation": {
        "colorize": Key(
            BOOL, False,
            doc="Write one-class masks on a colour ramp from black (0) to white (255) instead of grey.",
        ),
        "black": Key(
            COLOUR, "black",
            doc="Colour of 0 on the colorize ramp: a PIL colour name or an (r, g, b) tuple.",
        ),
        "white": Key(
            COLOUR, "white",
            doc='Colour of 255 on the colorize ramp, e.g. "green": a PIL colour name or an (r, g, b) tuple.',
        ),
        "blursize": Key(ANY, None, doc="Read by the original but unused; no effect here either."),
    },
    "generator": {
        "debug": Key(
            BOOL, True,
            doc=(
                "Generator mode: write the pairs of the first 10 augmented batches to generated_images_dir and "
                "generated_masks_dir, and list them in ./generate_images.txt."
            ),
            original=(
                "The original wrote every sampled pair, for the whole run, into folders it emptied first "
                "(A13)."
            ),
        ),
        "augmentation": Key(
            BOOL, True,
            doc="Generator mode: False streams the training pairs unaugmented.",
            original="The original forced it on when batch_size was at least the number of images (A11).",
        ),
        "generated_images_dir": Key(
            STRING, "./generated_images_dir",
            doc="Folder of the images [generator] debug writes, named <variant prefix><file name>.",
            original="The original emptied it at start (A13).",
        ),
        "generated_masks_dir": Key(
            STRING, "./generated_masks_dir",
            doc="Folder of the masks [generator] debug writes, as visible 0/255 pictures.",
            original="The original emptied it at start (A13).",
        ),
        "verbose": Key(BOOL, False, doc="Print the path of every file [generator] debug writes."),
    },
    "augmentor": {
        "hflip": Key(
            BOOL, True,
            doc="Add a left-right mirrored variant, and mirrored copies of each shear.",
            original="The original forced it on when batch_size was at least the number of images (A11).",
        ),
        "vflip": Key(
            BOOL, True,
            doc="Add a top-bottom mirrored variant, and mirrored copies of each shear.",
            original="The original forced it on when batch_size was at least the number of images (A11).",
        ),
        "rotation": Key(
            BOOL, True,
            doc="Add one rotated variant per angle in angles.",
            original="The original forced it on when batch_size was at least the number of images (A11).",
        ),
        "angles": Key(
            NUMBERS, [90, 180, 270],
            doc=(
                "Rotation angles in degrees, counter-clockwise; uncovered corners take the image's pixel at "
                "(2, 2)."
            ),
            original="The original rotated masks bilinearly, so their edges grew (A6).",
        ),
        "shrinks": Key(
            list_of(number(0, 1, lo_open=True)), [0.8],
            doc=(
                "Scale factors of the shrink variants, each centred on a background canvas; always active "
                "unless the list is []."
            ),
            original="The original's canvas colour wrapped around in uint8 arithmetic (A10).",
        ),
        "shears": Key(
            NUMBERS, [],
            doc=(
                "Vertical shear factors; each adds a sheared variant and, with hflip/vflip, its mirrored "
                "copies."
            ),
            original="The original sheared masks bilinearly, so their edges grew (A6).",
        ),
        "deformation": Key(
            BOOL, False,
            doc="Add elastic deformation variants, one per [deformation] sigmoids.",
            original=(
                "The original applied one fixed field to every image and warped the mask with another (A4)."
            ),
        ),
        "distortion": Key(
            BOOL, False,
            doc="Add smooth random warp variants, one per [distortion] distortions.",
            original="The original warped image and mask with different, unbounded fields (A5).",
        ),
        "barrdistortion": Key(
            BOOL, False,
            doc="Add barrel distortion variants, one per [barrdistortion] centers.",
            original="The original accumulated the centres, and crashed with [generator] debug on (A8).",
        ),
        "pincdistortion": Key(
            BOOL, False,
            doc="Add pincushion distortion variants, one per [pincdistortion] centers.",
            original="The original accumulated the centres, and crashed with [generator] debug on (A8).",
        ),
        "sharpening": Key(
            BOOL, False,
            doc="Add a sharpened variant ([sharpening] k); its mask is unchanged.",
            original="The original sharpened the mask too (A7).",
        ),
        "brightening": Key(
            BOOL, False,
            doc="Add a brightness and contrast variant ([brightening]); its mask is unchanged.",
            original="The original brightened the mask too, making it all foreground when beta > 0 (A7).",
        ),
        # Pre-2024/04 names; the original ignores them here (see IGNORED).
        "transformer": Key(
            ANY, None,
            doc="Ignored here, with a warning: the original's pre-2024/04 name of deformation.",
        ),
        "alpah": Key(ANY, None, doc="Ignored here, with a warning: it belongs in [deformation]."),
        "sigmoid": Key(ANY, None, doc="Ignored here, with a warning: it belongs in [deformation]."),
    },
    "deformation": {
        "alpah": Key(
            number(), 1300,
            doc=(
                "Strength of the elastic deformation, the scale of its displacement field (the original's "
                "spelling of alpha)."
            ),
            original="In the original, [brightening] alpha replaced it when brightening was on (A9).",
        ),
        "sigmoids": Key(
            list_of(number(0, lo_open=True)), [8],
            doc="Smoothing sigmas in pixels of the deformation fields, one variant each; larger is smoother.",
        ),
        "sigmoid": Key(
            number(0, lo_open=True), 8,
            doc="A single sigma, used only when sigmoids = [] is written.",
        ),
    },
    "distortion": {
        "gaussian_filter_rsigma": Key(
            number(0, lo_open=True), 40,
            doc="Smoothing sigma in pixels of the random distortion field; larger is smoother.",
        ),
        "gaussian_filter_sigma": Key(
            number(0), 0.5,
            doc="No effect, as in the original; it only appears in debug file names.",
        ),
        "distortions": Key(
            list_of(number(0, 1)), [0.02],
            doc="Largest displacement of each distortion variant, as a fraction of the image's longer side.",
            original=(
                "The original divided by the signed maximum, so displacements could exceed it or flip (A5)."
            ),
        ),
    },
    "barrdistortion": {
        "radius": Key(
            number(0, lo_open=True), 0.5,
            doc="Radius of the distorted disc, as a fraction of the image width.",
        ),
        "amount": Key(
            number(), 0.5,
            doc="Strength of the distortion; positive values give a barrel (bulging) distortion.",
        ),
        "centers": Key(
            list_of(pair(number())), [(0.5, 0.5)],
            doc="Disc centres as (x, y) fractions of the width and height, one variant each.",
            original="The original applied them cumulatively (A8).",
        ),
    },
    "pincdistortion": {
        "radius": Key(
            number(0, lo_open=True), 0.5,
            doc="Radius of the distorted disc, as a fraction of the image width.",
        ),
        "amount": Key(
            number(), -0.5,
            doc="Strength of the distortion; negative values give a pincushion (pinching) distortion.",
        ),
        "centers": Key(
            list_of(pair(number())), [(0.5, 0.5)],
            doc="Disc centres as (x, y) fractions of the width and height, one variant each.",
            original="The original applied them cumulatively (A8).",
        ),
    },
    "sharpening": {
        "k": Key(
            number(0), 1.0,
            doc="Strength of the [augmentor] sharpening kernel: centre 1 + 8k, neighbours −k.",
        ),
    },
    "brightening": {
        "alpha": Key(
            number(), 1.2,
            doc=(
                "Gain of [augmentor] brightening: each image value v becomes |alpha·v + beta|, clipped to "
                "0-255."
            ),
            original="In the original it also replaced [deformation] alpah (A9).",
        ),
        "beta": Key(number(), 10, doc="Offset of [augmentor] brightening, added after the gain."),
    },
    "inspect": {
        "model_graph": Key(
            STRING, "./model.png",
            doc=(
                "Where TensorflowUNetModelInspector.py draws the model's graph (keras plot_model; needs "
                "Graphviz's dot, else it is skipped with a note)."
            ),
            original="The original's inspector always failed (INSPECCT) (E5).",
        ),
        "summary": Key(
            STRING, "./summary.txt",
            doc="Where TensorflowUNetModelInspector.py writes the model's layer summary.",
            original="The original's inspector always failed (INSPECCT) (E5).",
        ),
    },

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
}
