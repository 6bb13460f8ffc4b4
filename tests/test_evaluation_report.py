"""The self-contained evaluation report (EvaluationReport): inline PNGs only, no network, no script."""

import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import config_text, small_model_section
from PIL import Image
from test_case_evaluation import LabelModel, make_evaluator, map_of, square, write_slice

from CaseEvaluator import SUMMARY_FILE, WORST_DIR, CaseEvaluator
from ConfigParser import ConfigParser
from EvaluationReport import REPORT_FILE, THUMBNAIL, EvaluationReport, pick_epochs
from ImageMaskDataset import ImageMaskDataset

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class Images(HTMLParser):
    """The src and alt of every <img>, and every tag name."""

    def __init__(self):
        super().__init__()
        self.images, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))


def parse(text):
    parser = Images()
    parser.feed(text)
    return parser


def decode(src):
    """The Pillow image of a data:image/png;base64 URI (asserting that it is one)."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(src[len(prefix):], validate=True)))
    assert image.format == "PNG"
    image.load()
    return image


def assert_self_contained(text):
    lowered = text.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert "<script" not in lowered and "<link" not in lowered and "@import" not in lowered


def png(path, size=(80, 60), value=128):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


@pytest.fixture()
def run(tmp_path, monkeypatch):
    """A project folder after a (small, real) CaseEvaluator pass, with training's curves and previews."""
    monkeypatch.chdir(tmp_path)
    split = str(tmp_path / "split/test")
    write_slice(split, "7000_0", map_of(square(4, 4, 8)), square(4, 4, 8))
    write_slice(split, "7001_0", map_of(square(4, 4, 8)), square(4, 8, 8))
    write_slice(split, "7002_0", map_of(square(4, 4, 8)), square(4, 20, 8))
    os.makedirs(WORST_DIR)
    png(os.path.join(WORST_DIR, "stale_from_an_older_run.png"))
    evaluator, pairs = make_evaluator(tmp_path, split, worst_cases=2)
    evaluator.evaluate(pairs)
    for name in ("train_losses.png", "train_metrics.png"):
        png(f"eval/{name}", (200, 150))
    os.makedirs("epoch_change_infer")
    for epoch in range(1, 11):
        for stem in ("a_0", "a_1", "b_0"):
            preview = np.full((32, 32, 3), epoch * 20, np.uint8)
            Image.fromarray(preview).save(f"epoch_change_infer/Epoch_{epoch}_{stem}.jpg")
    (tmp_path / "evaluation.csv").write_text("loss,0.1234\ndice_coef,0.8765\n")
    os.makedirs("models")
    resolved = {"toolkit": "9.9.9", "sections": {
        "model": {"model": {"value": "TensorflowUNet", "source": "file"},
                  "base_filters": {"value": 8, "source": "file"}},
        "test": {"image_datapath": {"value": "./split/test/images", "source": "file"}}}}
    (tmp_path / "models/resolved_config.json").write_text(json.dumps(resolved))
    return evaluator


def test_every_section_is_inline_and_decodes(run):
    path = EvaluationReport(run.config, run.worst_paths).write()
    assert path == REPORT_FILE
    text = open(path, encoding="utf-8").read()
    assert_self_contained(text)
    page = parse(text)
    images = page.images
    assert images and all(decode(image["src"]).size[0] > 0 for image in images)
    alts = [image["alt"] for image in images]
    assert alts[:2] == ["train_losses.png", "train_metrics.png"]
    assert alts[-2:] == [os.path.basename(p) for p in run.worst_paths] and len(run.worst_paths) == 2
    assert not any("stale" in alt for alt in alts)  # the folder is never emptied: only this run's
    montage = decode(images[2]["src"])
    # first, last and evenly spaced epochs, at most 6 rows; one column per preview image
    assert montage.size[1] == 6 * THUMBNAIL and montage.size[0] > 3 * THUMBNAIL
    assert "epochs 1, 3, 5, 6, 8, 10" in alts[2] and "a_0, a_1, b_0" in alts[2]
    with open(SUMMARY_FILE) as f:
        summary = json.load(f)
    for level in ("images", "volumes"):
        dice = summary[level]["dice"]
        assert f"{dice['mean']:.4f} ± {dice['std']:.4f}" in text
        assert f"[{dice['ci95'][0]:.4f}, {dice['ci95'][1]:.4f}]" in text
    assert "dice_coef</td>" in text and "0.8765" in text  # evaluation.csv
    assert "[model] base_filters" in text and "[test] image_datapath" in text and "9.9.9" in text
    assert summary["config_sha256"] in text and "Evaluation report: TensorflowUNet" in text
    assert "not found" not in text
    assert "<td>[infer] mirror</td><td>off</td>" in text and "<td>[infer] largest_component</td><td>off</td>" in text


def test_the_header_says_which_post_processing_the_scores_follow(run):
    with open(SUMMARY_FILE) as f:
        summary = json.load(f)
    summary.update(mirror=True, largest_component={"how": "3-D per volume", "volumes_3d": 3, "volumes_2d": 0})
    with open(SUMMARY_FILE, "w") as f:
        json.dump(summary, f)
    text = open(EvaluationReport(run.config, run.worst_paths).write(), encoding="utf-8").read()
    assert "<td>[infer] mirror</td><td>predictions averaged over mirrorings</td>" in text
    assert "<td>[infer] largest_component</td><td>largest connected component only, 3-D per volume</td>" in text


def test_the_dice_plot_shows_every_volume(run):
    text = EvaluationReport(run.config, run.worst_paths).html()
    plot = [image for image in parse(text).images if "volume rows" in image["alt"]]
    assert len(plot) == 1 and "3 volume rows" in plot[0]["alt"]
    assert np.asarray(decode(plot[0]["src"]).convert("L")).std() > 5


def test_rebuilt_later_it_shows_the_worst_cases_written_since_the_summary(run):
    stale = os.path.join(WORST_DIR, "stale_from_an_older_run.png")
    os.utime(stale, (0, 0))
    alts = [image["alt"] for image in parse(EvaluationReport(run.config).html()).images]
    assert sorted(a for a in alts if a.startswith("700")) == sorted(os.path.basename(p) for p in run.worst_paths)
    assert "stale_from_an_older_run.png" not in alts


def test_several_classes_get_a_table_each(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    split = str(tmp_path / "split/test")
    one, two, two_predicted = square(2, 2, 6), square(16, 16, 8), square(16, 18, 8)
    write_slice(split, "1000_0", map_of(one, 100) + map_of(two_predicted, 200), one)
    # masks hold the class numbers: rewrite the written 0/255 one with classes 1 and 2
    Image.fromarray(one.astype(np.uint8) + 2 * two.astype(np.uint8)).save(os.path.join(split, "masks/1000_0.png"))
    sections = {"model": small_model_section(32, num_classes=3, loss="categorical_crossentropy"),
                "test": {"image_datapath": os.path.join(split, "images"),
                         "mask_datapath": os.path.join(split, "masks")}}
    (tmp_path / "multi.config").write_text(config_text(sections))
    config = ConfigParser("multi.config")
    dataset = ImageMaskDataset(config)
    cases = CaseEvaluator(config, dataset, LabelModel(), "test")
    summary = cases.evaluate(dataset.pairs("test"))
    text = EvaluationReport(config, cases.worst_paths).html()
    for k in ("1", "2"):
        assert f"per image (class {k})" in text and f"per volume (class {k}" in text
        assert f"{summary['classes'][k]['images']['dice']['mean']:.4f}" in text
    alts = [image["alt"] for image in parse(text).images]
    assert "2 volume rows of ./evaluation_per_volume.csv: box and every volume" in alts
    assert "1000_0_1000_0_class2.png" in alts


def test_missing_inputs_are_named_not_fatal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bare.config").write_text(config_text({"model": small_model_section(32)}))
    text = EvaluationReport(ConfigParser("bare.config"), []).html()
    assert_self_contained(text)
    assert parse(text).images == []
    for missing in ("./evaluation_summary.json", "./evaluation_per_volume.csv", "./evaluation.csv",
                    "./eval/train_losses.png", "./eval/train_metrics.png", "./epoch_change_infer",
                    "./models/resolved_config.json", "./evaluation_worst/*.png"):
        assert f"not found: {missing}" in text, missing
    assert "[model] base_filters" in text  # from the config itself


def test_damaged_inputs_are_reported_in_the_page(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bare.config").write_text(config_text({"model": small_model_section(32)}))
    (tmp_path / "evaluation_summary.json").write_text("{ truncated")
    os.makedirs("eval")
    (tmp_path / "eval/train_losses.png").write_bytes(b"not a png")
    text = EvaluationReport(ConfigParser("bare.config"), []).html()
    assert "cannot read ./evaluation_summary.json" in text
    assert "cannot read ./eval/train_losses.png" in text


def test_text_is_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bare.config").write_text(config_text({"model": small_model_section(32),
                                                       "test": {"image_datapath": "<b>x</b>&"}}))
    text = EvaluationReport(ConfigParser("bare.config"), []).html()
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in text and "<b>" not in text


def test_pick_epochs_keeps_the_first_and_last():
    assert pick_epochs([1, 2, 3]) == [1, 2, 3]
    picked = pick_epochs(list(range(1, 101)))
    assert len(picked) == 6 and picked[0] == 1 and picked[-1] == 100 and picked == sorted(picked)


def test_chromium_renders_a_non_blank_page(run, tmp_path):
    browser = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if browser is None:
        pytest.skip(f"no Chromium: none of {', '.join(BROWSERS)} on PATH (scripts/test.sh installs it as root)")
    report = os.path.abspath(EvaluationReport(run.config, run.worst_paths).write())
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,1600",
                    f"file://{report}"], check=True, timeout=120, capture_output=True)
    pixels = np.asarray(Image.open(shot).convert("L"), np.float32)
    assert pixels.shape == (1600, 1200)
    assert pixels.std() > 10  # text, tables and pictures, not a blank or error page
