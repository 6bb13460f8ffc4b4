"""The recommended Pancreas-T1 config (issue 15): it parses without a warning and keeps its promises."""

import os
import sys
import warnings

from ConfigParser import ConfigParser
from mirroring import warn_if_untrained

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.join(REPO, "projects", "TensorflowSlightlyFlexibleUNet", "Pancreas-T1")
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
import pancreas_ablation  # noqa: E402


def test_recommended_config_is_clean_cpu_sized_and_slice_only():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a misspelled or misplaced key would warn
        config = ConfigParser(os.path.join(PROJECT, "train_eval_infer_recommended.config"))
    shipped = ConfigParser(os.path.join(PROJECT, "train_eval_infer.config"))
    get = config.get
    assert get("model", "image_channels") == 3 and get("model", "image_width") == 128
    assert "dice_coef" in get("model", "metrics")
    assert get("image", "normalize") == "zscore" and get("model", "normalization")
    # mild augmentation without flips, so no test-time mirroring (it cost 0.41 Dice on NIH, docs/accuracy.md)
    assert get("model", "generator") and get("generator", "augmentation") and not get("generator", "debug")
    assert not get("augmentor", "hflip") and not get("augmentor", "vflip") and not get("infer", "mirror")
    # the augmentation the ablation's mild_aug row measured
    for key, value in pancreas_ablation.MILD_AUGMENTATION.items():
        assert get("augmentor", key) == value, key
    # one pass over the NIH split it was measured on (308 training, 43 validation slices at batch 4)
    assert (get("train", "steps_per_epoch"), get("train", "validation_steps")) == (77, 11)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_untrained(config)
    # its outputs never land in the shipped config's folders
    for section, key in (("train", "model_dir"), ("train", "eval_dir"), ("train", "epoch_change_infer_dir"),
                         ("infer", "output_dir")):
        assert get(section, key) != shipped.get(section, key), key
    # the same data as the shipped config
    for section in ("train", "eval", "test"):
        assert get(section, "image_datapath") == shipped.get(section, "image_datapath")


def test_attention_unet_recommended_config_is_the_measured_row():
    """The second family's config trains what table 2's TensorflowAttentionUNet row measured."""
    folder = os.path.join(REPO, "projects", "TensorflowAttentionUNet", "Pancreas-T1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = ConfigParser(os.path.join(folder, "train_eval_infer_recommended.config"))
    shipped = ConfigParser(os.path.join(folder, "train_eval_infer.config"))
    recommended = ConfigParser(os.path.join(PROJECT, "train_eval_infer_recommended.config"))
    row, _ = pancreas_ablation.row_config("TensorflowAttentionUNet", 128, "mild_aug")
    for key, value in row["model"].items():
        assert config.get("model", key) == value, key
    assert config.get("image", "normalize") == "zscore" and "dice_coef" in config.get("model", "metrics")
    # the same training, augmentation and post-processing as the SlightlyFlexible recommended config
    for section in ("train", "generator", "augmentor", "infer", "mask"):
        for key in recommended.to_dict()[section]:
            assert config.get(section, key) == recommended.get(section, key), (section, key)
    for section, key in (("train", "model_dir"), ("train", "eval_dir"), ("infer", "output_dir")):
        assert config.get(section, key) != shipped.get(section, key), key
