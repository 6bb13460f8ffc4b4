"""`./evaluation_report.html`: one self-contained page of a run's results, written by `2.evaluate`.

The page holds the config summary, the training curves, a montage of the
epoch-change previews, the summary table, a per-volume Dice plot and the
worst cases. Every picture is inlined as a `data:image/png;base64` URI and
there is no script: the file can be mailed or archived alone and opens
offline. A missing or unreadable input gives a "not found" / "cannot read"
line in its section, never a failed evaluation.
"""

import base64
import csv
import datetime
import glob
import html
import io
import json
import os
import re

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

import file_digest
from atomic import write_text
from CaseEvaluator import PER_VOLUME_FILE, SUMMARY_FILE, WORST_DIR
from ConfigParser import ConfigParser
from resolved_config import FILE_NAME as RESOLVED_FILE
from version import __version__

REPORT_FILE = "./evaluation_report.html"
EVALUATION_FILE = "./evaluation.csv"  # TensorflowUNetEvaluator's; not imported: it imports this module
CURVES = ("train_losses.png", "train_metrics.png")
EPOCH_FILE = re.compile(r"^Epoch_(\d+)_(.+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)
THUMBNAIL = 128
MAX_EPOCHS, MAX_PREVIEWS = 6, 8
LABEL_WIDTH = 72
SUMMARY_METRICS = ("dice", "iou", "sensitivity", "specificity", "precision", "hd95", "hd95_px", "hd95_mm",
                   "assd", "assd_px", "assd_mm")
STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1150px; }
h1 { font-size: 22px; } h3 { font-size: 14px; margin: 10px 0 4px; }
h2 { font-size: 17px; border-bottom: 1px solid #ccc; padding-bottom: 3px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f0f0f0; } td.num { text-align: right; font-family: monospace; }
.missing { color: #a40; font-style: italic; } .note { color: #555; font-size: 13px; }
img { max-width: 100%; border: 1px solid #ddd; vertical-align: top; }
figure { display: inline-block; margin: 4px; } figcaption { font-size: 12px; color: #555; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
"""


class EvaluationReport:
    """The HTML report of one evaluated run.

    Args:
        config: the parsed config (or its path).
        worst_paths: the worst-case overlays this evaluation wrote (CaseEvaluator.worst_paths); None takes
            the PNGs of `evaluation_worst/` written since the summary, for a report rebuilt later.
    """

    def __init__(self, config, worst_paths: list[str] | None = None):
        self.config: ConfigParser = config if isinstance(config, ConfigParser) else ConfigParser(config)
        self.worst_paths = worst_paths
        # Required for training, not here: a report of a bare config still names what is missing.
        self.model_dir, self.eval_dir, self.epoch_dir = (
            self.config.get(ConfigParser.TRAIN, key) if self.config.has(ConfigParser.TRAIN, key) else default
            for key, default in (("model_dir", "./models"), ("eval_dir", "./eval"),
                                 ("epoch_change_infer_dir", "./epoch_change_infer")))

    def write(self, path: str = REPORT_FILE) -> str:
        """Writes the page to `path`; returns `path`."""
        write_text(path, self.html())
        print(f"--- Saved {path}")
        return path

    def html(self) -> str:
        """The whole page."""
        summary, problem = _optional(lambda: _read_json(SUMMARY_FILE), SUMMARY_FILE)
        model = (summary or {}).get("model") or self.config.get(ConfigParser.MODEL, "model")
        title = f"Evaluation report: {model}"
        parts = [
            "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{_e(title)}</h1>", self.header(summary),
            "<h2>Config</h2>", self.config_section(),
            "<h2>Training curves</h2>", _row(self.curves_section()),
            "<h2>Epoch-change previews</h2>", self.epochs_section(),
            "<h2>Summary</h2>", self.summary_section(summary, problem),
            '<div class="row"><div><h2>Per-volume Dice</h2>', self.dice_section(), "</div>",
            '<div><h2>Worst cases</h2>', self.worst_section(summary), "</div></div>",
            "</body></html>",
        ]
        return "\n".join(parts) + "\n"

    # --- sections -------------------------------------------------------------------------------------

    def header(self, summary: dict | None) -> str:
        sha = (summary or {}).get("config_sha256") or file_digest.sha256(self.config.path)
        rows = [("config", self.config.path), ("config sha256", sha or "not found"),
                ("toolkit", (summary or {}).get("toolkit") or __version__),
                ("written", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))]
        if summary:
            rows += [(key, summary[key]) for key in ("section", "threshold", "seed") if summary.get(key) is not None]
            # what the scores were taken after: a reader comparing two reports must see it
            rows.append(("[infer] mirror", "predictions averaged over mirrorings" if summary.get("mirror") else "off"))
            largest = summary.get("largest_component")
            rows.append(("[infer] largest_component",
                         f"largest connected component only, {largest['how']}" if isinstance(largest, dict)
                         else "off"))
        return _table(None, rows)

    def config_section(self) -> str:
        """The [model] keys and every data path, from the trainer's resolved_config.json, else the config."""
        resolved_path = os.path.join(self.model_dir, RESOLVED_FILE)
        resolved, problem = _optional(lambda: _read_json(resolved_path), resolved_path)
        if resolved is not None and isinstance(resolved.get("sections"), dict):
            sections = {s: {k: (e.get("value"), e.get("source", "")) for k, e in keys.items()}
                        for s, keys in resolved["sections"].items()}
            where = f"as trained: {resolved_path} (toolkit {resolved.get('toolkit', '?')})"
        else:
            sections = {s: {k: (v, "file") for k, v in keys.items()} for s, keys in self.config.to_dict().items()}
            where = f"{problem or 'not found: ' + resolved_path}; from {self.config.path} instead"
        rows = [(f"[model] {k}", _value(v), source) for k, (v, source) in sections.get("model", {}).items()]
        paths = [(f"[{s}] {k}", _value(v), source) for s, keys in sections.items() if s != "model"
                 for k, (v, source) in keys.items() if k.endswith("datapath") and v is not None]
        half = (len(rows) + 1) // 2  # two short tables side by side keep the page's first screen useful
        header = ("key", "value", "source")
        return _note(where) + _row(_table(header, rows[:half]), _table(header, rows[half:]),
                                   _table(header, paths) if paths else _missing("no data paths"))

    def curves_section(self) -> str:
        out = []
        for name in CURVES:
            path = os.path.join(self.eval_dir, name)
            out.append(self.picture(path, name, width=540))
        return "\n".join(out)

    def epochs_section(self) -> str:
        if not os.path.isdir(self.epoch_dir):
            return _missing(f"not found: {self.epoch_dir}")
        found = {}
        for name in os.listdir(self.epoch_dir):
            match = EPOCH_FILE.match(name)
            if match:
                found[int(match.group(1)), match.group(2)] = os.path.join(self.epoch_dir, name)
        if not found:
            return _missing(f"not found: {self.epoch_dir}/Epoch_<n>_<image>.jpg")
        epochs = pick_epochs(sorted({e for e, _ in found}))
        stems = sorted({s for _, s in found})[:MAX_PREVIEWS]
        montage, problem = _optional(lambda: epoch_montage(found, epochs, stems), self.epoch_dir)
        if montage is None:
            return _missing(problem)
        caption = (f"rows: epochs {', '.join(map(str, epochs))}; columns: {', '.join(stems)} "
                   f"({self.epoch_dir})")
        return _figure(montage, caption)

    def summary_section(self, summary: dict | None, problem: str | None) -> str:
        out = []
        keras, keras_problem = _optional(lambda: _read_keras_scores(EVALUATION_FILE), EVALUATION_FILE)
        out.append(_table(("Keras metric", "value"), [(k, v) for k, v in keras])
                   if keras is not None else _missing(keras_problem))
        if summary is None:
            return "\n".join(out + [_missing(problem)])
        classes = summary.get("classes") or {"": summary}
        for cls, stats in classes.items():
            tables = []
            label = f" (class {cls})" if cls else ""
            for level in ("images", "volumes"):
                metrics = stats.get(level) or {}
                names = [m for m in SUMMARY_METRICS if m in metrics] + [m for m in metrics if m not in SUMMARY_METRICS]
                rows = [(m, *_statistics(metrics[m])) for m in names]
                unit = f", distances in {summary['volume_distance_unit']}" if level == "volumes" and \
                    summary.get("volume_distance_unit") else ""
                tables.append(f"<div><h3>per {level[:-1]}{_e(label)}{_e(unit)}</h3>"
                              + _table(("metric", "mean ± SD", "median", "95% CI", "n", "n_undefined"), rows)
                              + "</div>")
            out.append(_row(*tables))
            if stats.get("counts"):
                out.append(_note("counts: " + ", ".join(f"{k} {v}" for k, v in stats["counts"].items())))
        sweep = summary.get("threshold_sweep")
        if sweep:
            out.append(_note(f"threshold sweep on {sweep.get('validation_split')}: best {sweep.get('best')}, "
                             f"test Dice at it {_number(sweep.get('test_dice_at_best'))}"))
        return "\n".join(out)

    def dice_section(self) -> str:
        rows, problem = _optional(lambda: _read_csv(PER_VOLUME_FILE), PER_VOLUME_FILE)
        if rows is None:
            return _missing(problem)
        groups: dict[str, list[float]] = {}
        for row in rows:
            if row.get("dice") not in (None, ""):
                groups.setdefault(row.get("class", ""), []).append(float(row["dice"]))
        if not groups:
            return _missing(f"no volumes in {PER_VOLUME_FILE}")
        n = sum(len(v) for v in groups.values())
        return _figure(dice_plot(groups), f"{n} volume rows of {PER_VOLUME_FILE}: box and every volume")

    def worst_section(self, summary: dict | None) -> str:
        paths = self.worst_paths
        if paths is None:
            # Rebuilt later: the folder is never emptied, so only files written with or after the summary.
            since = os.path.getmtime(SUMMARY_FILE) - 1 if os.path.isfile(SUMMARY_FILE) else 0
            paths = sorted(p for p in glob.glob(os.path.join(WORST_DIR, "*.png")) if os.path.getmtime(p) >= since)
        if not paths:
            return _missing(f"not found: {WORST_DIR}/*.png of this evaluation")
        intro = _note("The most-wrong slice of each lowest-Dice volume: ground truth green, prediction red.")
        return intro + "\n".join(self.picture(p, os.path.basename(p), width=200) for p in paths)

    def picture(self, path: str, caption: str, width: int | None = None) -> str:
        """One image file as an inline PNG figure, or the reason it is not there."""
        if not os.path.isfile(path):
            return _missing(f"not found: {path}")
        data, problem = _optional(lambda: png_bytes(Image.open(path)), path)
        return _figure(data, caption, width) if data is not None else _missing(problem)


# --- pictures ---------------------------------------------------------------------------------------------

def pick_epochs(epochs: list[int], most: int = MAX_EPOCHS) -> list[int]:
    """The first, the last and evenly spaced ones between, at most `most`."""
    if len(epochs) <= most:
        return epochs
    picks = np.linspace(0, len(epochs) - 1, most).round().astype(int)
    return [epochs[k] for k in sorted(set(picks))]


def epoch_montage(found: dict, epochs: list[int], stems: list[str]) -> bytes:
    """A grid of `THUMBNAIL`-px previews, one row per epoch, one column per image, as PNG bytes."""
    width = LABEL_WIDTH + THUMBNAIL * len(stems)
    sheet = Image.new("RGB", (width, THUMBNAIL * len(epochs)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, epoch in enumerate(epochs):
        draw.text((6, row * THUMBNAIL + THUMBNAIL // 2 - 6), f"epoch {epoch}", fill="black")
        for column, stem in enumerate(stems):
            path = found.get((epoch, stem))
            if path is None:
                continue
            with Image.open(path) as image:
                thumb = image.convert("RGB")
            thumb.thumbnail((THUMBNAIL, THUMBNAIL))
            sheet.paste(thumb, (LABEL_WIDTH + column * THUMBNAIL, row * THUMBNAIL))
    return png_bytes(sheet)


def dice_plot(groups: dict[str, list[float]]) -> bytes:
    """A box plot with every per-volume Dice drawn over it (one box per class), as PNG bytes."""
    figure = Figure(figsize=(2.2 + 1.3 * len(groups), 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = [f"class {k}" if k else "volumes" for k in groups]
    values = list(groups.values())
    axes.boxplot(values, widths=0.5, showfliers=False)
    axes.set_xticks(range(1, len(labels) + 1), labels)
    jitter = np.random.default_rng(0)  # fixed: the same run draws the same page
    for position, dice in enumerate(values, start=1):
        axes.scatter(position + jitter.uniform(-0.12, 0.12, len(dice)), dice, s=14, alpha=0.7, color="tab:blue")
    axes.set_ylim(-0.02, 1.02)
    axes.set_ylabel("Dice per volume")
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    """`image` encoded as PNG (JPEG previews too: the page holds PNG only)."""
    with image:
        image.load()
        if image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- reading ----------------------------------------------------------------------------------------------

def _optional(read, path: str):
    """(value, None) or (None, why) when the optional input `path` is missing or unreadable."""
    try:
        return read(), None
    except FileNotFoundError:
        return None, f"not found: {path}"
    except (OSError, ValueError) as error:  # a damaged file must not fail 2.evaluate; the page says so
        return None, f"cannot read {path}: {error}"


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


def _read_csv(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _read_keras_scores(path: str) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        return [tuple(line.strip().split(",", 1)) for line in f if "," in line]


# --- HTML -------------------------------------------------------------------------------------------------

def _e(value) -> str:
    return html.escape(str(value))


def _value(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _number(value) -> str:
    return "–" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _statistics(s: dict) -> tuple:
    mean, std, ci = s.get("mean"), s.get("std"), s.get("ci95")
    spread = f"{_number(mean)} ± {_number(std)}" if std is not None else _number(mean)
    interval = f"[{_number(ci[0])}, {_number(ci[1])}]" if ci else "–"
    return spread, _number(s.get("median")), interval, s.get("n", "–"), s.get("n_undefined", "–")


def _table(header, rows) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = "".join(f'<td class="num">{_e(c)}</td>' if _numeric(c) else f"<td>{_e(c)}</td>" for c in row)
        out.append(f"<tr>{cells}</tr>")
    return "\n".join(out + ["</table>"])


def _numeric(cell) -> bool:
    return isinstance(cell, (int, float)) or bool(re.fullmatch(r"[-\d.±\[\], –]+", str(cell)))


def _figure(png: bytes, caption: str, width: int | None = None) -> str:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    size = f' width="{width}"' if width else ""
    return f'<figure><img src="{uri}" alt="{_e(caption)}"{size}><figcaption>{_e(caption)}</figcaption></figure>'


def _row(*parts: str) -> str:
    return '<div class="row">' + "\n".join(parts) + "</div>"


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _missing(text: str) -> str:
    return f'<p class="missing">{_e(text)}</p>'
