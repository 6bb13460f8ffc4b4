"""Cross-validation by patient: one model per fold, trained and scored on its held-out patients.

Usage:
    python src/CrossValidator.py CONFIG K [DATA_ROOT] [--debug]
    (or scripts/cross_validate.sh / scripts\\cross_validate.bat with the same arguments)

DATA_ROOT is the folder `generator/split_master.py MASTER DATA_ROOT --folds K`
wrote (`splits.json`, `fold_<k>/{train,valid,test}/{images,masks}`),
relative to the working directory as CONFIG is. Unset, it
is the dataset folder of `[train] image_datapath` (`…/<dataset>/train/images`
→ `…/<dataset>`), or the folder above that when it is a `fold_<k>` folder.
Relative config paths are read from CONFIG's folder, as the project scripts
run there.

For each fold k, next to CONFIG: `fold_<k>/train_eval_infer.config` (`.toml`
for a TOML config) is CONFIG's text with the `[train]`, `[eval]` and `[test]`
data paths pointed at the fold's splits, `[model] evaluation` at `test`, and
relative input paths (`[infer] images_dir`, …) at the project's files; every
other line, comment included, is kept. Then `TensorflowUNetTrainer.py` and
`TensorflowUNetEvaluator.py` run with fold_<k>/ as working directory, so each
fold has its own models/, eval/, evaluation.csv and evaluation_per_volume.csv.
3.infer is not run: cross-validation needs only the scores.

`cv_state.json` records the steps done; started again after a kill, a CV
skips finished folds and resumes the fold it was in (the trainer resumes
itself). `cv_summary.csv`: `fold,patients,dice_mean,dice_sd` for each fold,
then `pooled,<n>,<mean>,<sd>` over every patient, each scored by the model of
the fold that held it out. SD is the sample SD (ddof = 1; `nan` for one
patient); values have 6 decimals.
"""

import csv
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import traceback
import warnings
from typing import Sequence

import file_digest
import toml_config
from atomic import write_text
from ConfigParser import ConfigParser, _read_text, _split_ini
from errors import ConfigError, DataError, ToolkitWarning, UserError

SRC = os.path.dirname(os.path.abspath(__file__))
SPLITS_FILE = "splits.json"  # generator/split_master.py SPLITS_FILE
STATE_FILE = "cv_state.json"
SUMMARY_FILE = "cv_summary.csv"
PER_VOLUME_FILE = "evaluation_per_volume.csv"  # what 2.evaluate writes in its working directory
USAGE = "usage: CrossValidator.py CONFIG K [DATA_ROOT] [--debug]"
STOPPED = (130, 143, -signal.SIGINT, -signal.SIGTERM)  # exit codes of a step stopped by Ctrl-C or SIGTERM

# (section, key) → (split, kind) in fold_<k>/.
DATA_KEYS = {
    ("train", "image_datapath"): ("train", "images"),
    ("train", "mask_datapath"): ("train", "masks"),
    ("eval", "image_datapath"): ("valid", "images"),
    ("eval", "mask_datapath"): ("valid", "masks"),
    ("test", "image_datapath"): ("test", "images"),
    ("test", "mask_datapath"): ("test", "masks"),
}
# Keys naming files or folders the steps read; outputs (model_dir, output_dir, …)
# stay relative so that they land in fold_<k>/.
INPUT_KEYS = (
    ("infer", "images_dir"), ("infer", "volumes_dir"), ("infer", "volume_manifest"),
    ("tiledinfer", "images_dir"), ("eval", "manifest"), ("model", "weights"),
)
NOT_PATHS = {("model", "weights"): ("imagenet", "none")}
# Outputs shared by all folds unless they stay inside fold_<k>/.
OUTPUT_KEYS = (
    ("train", "model_dir"), ("train", "eval_dir"), ("train", "epoch_change_infer_dir"),
    ("train", "epoch_change_tiledinfer_dir"),
)


def default_steps() -> list[tuple[str, list[str]]]:
    """(name, argv) of each step, run in fold_<k>/ on its config `{config}`."""
    return [(name, [sys.executable, os.path.join(SRC, script), "{config}"])
            for name, script in (("train", "TensorflowUNetTrainer.py"), ("evaluate", "TensorflowUNetEvaluator.py"))]


def cross_validate(config_path: str, folds: int, data_root: str | None = None,
                   steps: Sequence[tuple[str, list[str]]] | None = None) -> list[list[str]]:
    """Runs every fold not yet done and writes cv_summary.csv; returns its rows.

    `steps`: (name, argv) pairs instead of train and evaluate (tests); `{config}`
    in an argv becomes the fold's config file name.

    Raises:
        UserError: a bad argument, config, data root or state file, a step
            that failed, or a missing or unreadable evaluation_per_volume.csv.
    """
    steps = list(steps) if steps is not None else default_steps()
    config = ConfigParser(config_path)
    project = os.path.dirname(os.path.abspath(config_path))
    root = os.path.abspath(data_root) if data_root else default_data_root(config, project)
    splits = read_splits(root, folds)
    check_outputs(config)
    digest = file_digest.sha256(config_path)
    state = State(os.path.join(project, STATE_FILE), {"config_sha256": digest, "folds": folds, "data_root": root})
    text = _read_text(config_path)
    names = [name for name, _ in steps]
    for k in range(1, folds + 1):
        fold_dir = os.path.join(project, f"fold_{k}")
        done = state.done(k)
        if all(name in done for name in names):
            print(f"==== fold {k}/{folds}: done, skipped")
            continue
        print(f"==== fold {k}/{folds}" + (f": resuming at {next(n for n in names if n not in done)}" if done else ""))
        os.makedirs(fold_dir, exist_ok=True)
        fold_config = write_fold_config(config, text, project, fold_dir, os.path.join(root, f"fold_{k}"))
        for name, argv in steps:
            if name in done:
                continue
            print(f"=== fold {k}/{folds}: {name}", flush=True)
            command = [a.replace("{config}", f"./{os.path.basename(fold_config)}") for a in argv]
            code = run_step(command, fold_dir)
            if code in STOPPED:
                raise KeyboardInterrupt
            if code != 0:
                raise UserError(f"fold {k}: {name} failed (exit code {code}); run the same command again to "
                                f"resume with fold {k} (in {fold_dir})")
            if name == names[-1]:  # the last step must have left the fold's scores
                read_per_volume(fold_dir, splits[f"fold_{k}"]["test"])
            state.finish(k, name)
    rows = summary_rows(project, splits, folds)
    path = os.path.join(project, SUMMARY_FILE)
    write_text(path, "".join(",".join(row) + "\n" for row in rows))
    for row in rows[1:]:
        print(f"--- {row[0]:>6}: {row[1]} patients, Dice {row[2]} ± {row[3]}")
    print(f"=== Wrote {path}")
    return rows


def run_step(command: list[str], cwd: str) -> int:
    """Runs one step and returns its exit code, letting it handle Ctrl-C itself.

    A SIGTERM sent to the CV is passed on to the step, which would otherwise
    run on alone.
    """
    process = subprocess.Popen(command, cwd=cwd)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda number, _: process.send_signal(number)) if main_thread else None
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                # The step got the same Ctrl-C: the trainer stops once its epoch is
                # saved, so it is waited for, not killed (a second Ctrl-C stops it at once).
                continue
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def check_outputs(config: ConfigParser) -> None:
    """Output folders must be relative and inside the working directory, or the folds would share them."""
    for section, key in OUTPUT_KEYS:
        value = config.get(section, key)
        if isinstance(value, str) and (os.path.isabs(value) or os.path.normpath(value).split(os.sep)[0] == ".."):
            raise config.error(section, key, "cross-validation needs a relative folder inside the project "
                                             "folder here, so that each fold writes its own under fold_<k>/")


# === Data root and folds ===

def default_data_root(config: ConfigParser, project: str) -> str:
    """The folder holding splits.json, found from `[train] image_datapath` (module docstring)."""
    images = config.require(ConfigParser.TRAIN, "image_datapath")
    dataset = os.path.dirname(os.path.dirname(os.path.normpath(os.path.join(project, images))))
    candidates = [dataset]
    if re.fullmatch(r"fold_\d+", os.path.basename(dataset)):  # the config points at one fold already
        candidates.append(os.path.dirname(dataset))
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, SPLITS_FILE)):
            return candidate
    raise DataError(f"no {SPLITS_FILE} in {dataset} (the dataset of [train] image_datapath in {config.path}): "
                    "write the folds with `generator/split_master.py MASTER DATA_ROOT --folds K` and give "
                    "DATA_ROOT as the third argument")


def read_splits(root: str, folds: int) -> dict:
    """splits.json of `root`, checked against `folds` and the fold folders."""
    path = os.path.join(root, SPLITS_FILE)
    if not os.path.isfile(path):
        raise DataError(f"{path} does not exist: write the folds with "
                        f"`generator/split_master.py MASTER {root} --folds {folds}`")
    try:
        with open(path, encoding="utf-8") as f:
            splits = json.load(f)
        written = splits["folds"]
        tests = [splits[f"fold_{k}"]["test"] for k in range(1, written + 1)]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: not a splits.json of generator/split_master.py --folds ({e!r})") from None
    if written != folds:
        raise DataError(f"{path} holds {written} folds, not {folds}: give K = {written}, or split again "
                        f"with --folds {folds} into a new folder")
    for k in range(1, folds + 1):
        for split, kind in sorted(set(DATA_KEYS.values())):
            folder = os.path.join(root, f"fold_{k}", split, kind)
            if not os.path.isdir(folder):
                raise DataError(f"{folder} does not exist (listed by {path})")
    seen = [v for test in tests for v in test]
    if len(seen) != len(set(seen)):
        raise DataError(f"{path}: a patient is in the test split of two folds")
    return splits


# === The fold's config ===

def write_fold_config(config: ConfigParser, text: str, project: str, fold_dir: str, fold_data: str) -> str:
    """Writes fold_dir/train_eval_infer.config (or .toml) and returns its path."""
    values = {}
    for (section, key), (split, kind) in DATA_KEYS.items():
        values[(section, key)] = _relative(os.path.join(fold_data, split, kind), fold_dir)
    for section, key in INPUT_KEYS:
        value = config.get(section, key) if config.has(section, key) else None
        if isinstance(value, str) and value.lower() not in NOT_PATHS.get((section, key), ()) \
                and not os.path.isabs(value):
            values[(section, key)] = _relative(os.path.join(project, value), fold_dir)
    if config.has(ConfigParser.MODEL, "evaluation"):
        values[(ConfigParser.MODEL, "evaluation")] = "test"  # each patient scored where it was held out
    name = "train_eval_infer.toml" if config.is_toml else "train_eval_infer.config"
    path = os.path.join(fold_dir, name)
    mark = "#" if config.is_toml else ";"
    header = f"{mark} Written by src/CrossValidator.py from {config.path}, data {fold_data}; rewritten at every run\n"
    new_text = header + rewrite(text, values, config.is_toml, config.path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ToolkitWarning)  # the user's config already warned
        check = ConfigParser.from_string(new_text, path)
    wrong = [f"[{s}] {k}" for (s, k), v in values.items() if check.get(s, k) != v]
    if wrong:
        raise ConfigError(f"{config.path}: could not rewrite {', '.join(wrong)} for {path}")
    if not os.path.isfile(path) or _read(path) != new_text:  # unchanged: the trainer sees the same file
        write_text(path, new_text)
    return path


def rewrite(text: str, values: dict[tuple[str, str], str], toml: bool = False, path: str = "<config>") -> str:
    """`text` with the value of each (section, key) replaced, lines otherwise kept.

    Every occurrence of a key is replaced; a missing key is added after its
    section's header, a missing section at the end.
    """
    lines = text.splitlines()
    places = _toml_places(lines, path) if toml else _ini_places(text, path)
    literal = json.dumps  # a valid Python literal and TOML string alike
    inserts: dict[int, list[str]] = {}
    appended: dict[str, list[str]] = {}
    for (section, key), value in values.items():
        spots = places["keys"].get((section, key), [])
        for number, start, end, last in spots:
            line = lines[number - 1]
            lines[number - 1] = line[:start] + literal(value) + line[end:]
            for extra in range(number + 1, last + 1):  # a value continued on indented lines
                lines[extra - 1] = None
        if not spots:
            header = places["sections"].get(section)
            target = inserts.setdefault(header, []) if header else appended.setdefault(section, [])
            target.append(f"{key} = {literal(value)}")
    out = []
    for number, line in enumerate(lines, start=1):
        if line is not None:
            out.append(line)
        out += inserts.get(number, [])
    for section, added in appended.items():
        out += ["", f"[{section}]", *added]
    return "\n".join(out) + "\n"


def _ini_places(text: str, path: str) -> dict:
    """Where each key's value and each section's first header are, in INI text."""
    lines = text.splitlines()
    keys: dict[tuple[str, str], list] = {}
    for entry in _split_ini(text, path):
        line = lines[entry.line - 1]
        cut = min(i for i in (line.find("="), line.find(":")) if i >= 0)
        first = entry.raw.split("\n", 1)[0]
        start = line.index(first, cut + 1)
        keys.setdefault((entry.section, entry.key), []).append((entry.line, start, start + len(first), entry.line_end))
    sections: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            sections.setdefault(stripped[1:-1].strip(), number)
    return {"keys": keys, "sections": sections}


def _toml_places(lines: list[str], path: str) -> dict:
    """As `_ini_places` for TOML text, whose rewritten values are one-line strings."""
    keys: dict[tuple[str, str], list] = {}
    sections: dict[str, int] = {}
    section = ""
    for number, line in enumerate(lines, start=1):
        if match := toml_config._TABLE.match(line):
            section = toml_config._unquote(match["name"])
            sections.setdefault(section, number)
        elif (match := toml_config._ASSIGNMENT.match(line)) and not line.lstrip().startswith("#"):
            key = toml_config._unquote(match["key"]).lower()
            start = match.start("value")
            end = _toml_value_end(line, start)
            if end is None:
                raise ConfigError(f"{path}:{number}: [{section}] {key}: cannot rewrite this value for "
                                  "cross-validation; write it as a one-line string")
            keys.setdefault((section, key), []).append((number, start, end, number))
    return {"keys": keys, "sections": sections}


def _toml_value_end(line: str, start: int) -> int | None:
    """End of the one-line TOML string (or bare word) at `start`, None if it is not one."""
    quote = line[start:start + 1]
    if quote not in ("'", '"'):
        word = re.match(r"[^\s#]+", line[start:])
        return start + word.end() if word else None
    if line[start:start + 3] == quote * 3:
        return None
    i = start + 1
    while i < len(line):
        if quote == '"' and line[i] == "\\":
            i += 2
            continue
        if line[i] == quote:
            return i + 1
        i += 1
    return None


def _relative(target: str, start: str) -> str:
    """`target` relative to `start` with `/` separators, or absolute on another drive."""
    try:
        return os.path.relpath(os.path.normpath(target), start).replace(os.sep, "/")
    except ValueError:  # Windows: another drive
        return os.path.abspath(target)


# === Scores ===

def read_per_volume(fold_dir: str, test_ids: list[str]) -> dict[str, float]:
    """volume → Dice from fold_dir/evaluation_per_volume.csv, for the fold's test patients.

    Volumes whose Dice is blank or not a number (nothing to score) are left
    out with a notice, as are rows that are not one of the fold's patients.
    """
    path = os.path.join(fold_dir, PER_VOLUME_FILE)
    if not os.path.isfile(path):
        raise DataError(f"{path} does not exist: 2.evaluate wrote no per-volume scores for this fold "
                        "(it writes them for one-class models)")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot be read as a CSV file ({e})") from None
    if not rows or not {"volume", "dice"} <= set(rows[0]):
        raise DataError(f"{path}: expected the columns volume and dice and at least one row")
    wanted = {t: t for t in test_ids}
    for t in test_ids:  # a file unit (`1.jpg`) is its stem (`1`) in 2.evaluate's rows
        wanted.setdefault(os.path.splitext(t)[0], t)
    scores, unscored, others = {}, [], []
    for row in rows:
        name, dice = row.get("volume") or "", _number(row.get("dice"))
        volume = wanted.get(name)
        if volume is None:
            others.append(name)
        elif dice is None:
            unscored.append(volume)
        else:
            scores[volume] = dice
    if others:
        print(f"--- {path}: rows {', '.join(others)} are not patients of this fold's test split; left out")
    if unscored:
        print(f"--- {path}: no Dice for {', '.join(unscored)}; left out of the means")
    missing = sorted(set(test_ids) - set(scores) - set(unscored))
    if missing:
        raise DataError(f"{path}: no row for the test patients {', '.join(missing)}")
    return scores


def summary_rows(project: str, splits: dict, folds: int) -> list[list[str]]:
    """The rows of cv_summary.csv, header first."""
    rows = [["fold", "patients", "dice_mean", "dice_sd"]]
    pooled = []
    for k in range(1, folds + 1):
        scores = list(read_per_volume(os.path.join(project, f"fold_{k}"), splits[f"fold_{k}"]["test"]).values())
        pooled += scores
        rows.append([str(k), *_mean_sd(scores)])
    rows.append(["pooled", *_mean_sd(pooled)])
    return rows


def _mean_sd(values: list[float]) -> list[str]:
    mean = f"{statistics.fmean(values):.6f}" if values else "nan"
    sd = f"{statistics.stdev(values):.6f}" if len(values) > 1 else "nan"
    return [str(len(values)), mean, sd]


def _number(text: str | None) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# === State ===

class State:
    """cv_state.json: the identity of the CV and the steps done per fold, written atomically."""

    def __init__(self, path: str, identity: dict):
        self.path = path
        self.document = {**identity, "done": {}}
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    saved = json.load(f)
                saved["done"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise DataError(f"{path} cannot be read ({e!r}): move it aside to start the CV afresh") from None
            changed = [key for key in identity if saved.get(key) != identity[key]]
            if changed:
                what = "; ".join(f"{key}: {saved.get(key)!r} -> {identity[key]!r}" for key in changed)
                raise DataError(f"{path} records another cross-validation ({what}): restore it, or move "
                                f"{STATE_FILE}, {SUMMARY_FILE} and fold_*/ aside to start a new one")
            self.document["done"] = saved["done"]

    def done(self, fold: int) -> list[str]:
        return list(self.document["done"].get(str(fold), []))

    def finish(self, fold: int, step: str) -> None:
        self.document["done"].setdefault(str(fold), []).append(step)
        write_text(self.path, json.dumps(self.document, indent=1) + "\n")


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def main(argv: list[str], steps: Sequence[tuple[str, list[str]]] | None = None) -> int:
    """The command line; `steps` as in `cross_validate`."""
    debug = "--debug" in argv or os.environ.get("TFSEG_DEBUG", "") not in ("", "0")
    args = [a for a in argv if a != "--debug"]
    if not 2 <= len(args) <= 3 or any(a.startswith("-") for a in args) or not args[1].isdigit():
        print(USAGE, file=sys.stderr)
        return 2
    folds = int(args[1])
    if folds < 2:
        print(f"ERROR: K = {folds}: cross-validation needs at least 2 folds", file=sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            cross_validate(args[0], folds, args[2] if len(args) > 2 else None, steps)
        except (UserError, OSError) as e:
            if debug:
                traceback.print_exc()
            print(f"ERROR: {e}", file=sys.stderr)
            return e.exit_code if isinstance(e, UserError) else 1
        except KeyboardInterrupt:
            print("\nInterrupted; run the same command again to resume.", file=sys.stderr)
            return 130
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"WARNING: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
