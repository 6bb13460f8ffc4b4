"""Cross-validation by patient: `split_master.py --folds K` and `src/CrossValidator.py`."""

import csv
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time

import pytest
import split_master
from conftest import REPO, make_split, project_sections, small_model_section, write_config

import CrossValidator
from ConfigParser import ConfigParser
from errors import DataError, UserError
from volume_ids import volume_id


def ids(folder):
    return {volume_id(n) for n in os.listdir(folder)}


def make_folds(tmp_path, volumes=7, folds=3, slices=2, size=16, seed=137, **options):
    master = make_split(str(tmp_path / "master"), volumes=volumes, slices=slices, size=size, seed=9)
    data = str(tmp_path / "data")
    return master, data, split_master.split_folds(master, data, folds, seed=seed, **options)


# === split_master --folds ===

def test_folds_are_patient_disjoint_and_test_every_patient_once(tmp_path):
    master, data, assignments = make_folds(tmp_path, volumes=7, folds=3)
    with open(os.path.join(data, "splits.json")) as f:
        splits = json.load(f)
    assert splits["seed"] == 137 and splits["folds"] == 3 and splits["unit"] == "volume"
    everyone = {str(1000 + v) for v in range(7)}
    tests = [splits[f"fold_{k}"]["test"] for k in (1, 2, 3)]
    assert sorted(len(t) for t in tests) == [2, 2, 3]  # dealt round: sizes differ by at most one
    assert sorted(v for t in tests for v in t) == sorted(everyone)  # each patient tested exactly once
    for k in (1, 2, 3):
        fold = os.path.join(data, f"fold_{k}")
        found = {s: ids(os.path.join(fold, s, "images")) for s in split_master.SPLITS}
        assert found == {s: set(splits[f"fold_{k}"][s]) for s in split_master.SPLITS}
        assert len(found["valid"]) == split_master.split_counts(7)[1] == 1  # as the plain split validates
        assert not (found["train"] & found["valid"] or found["train"] & found["test"]
                    or found["valid"] & found["test"])
        assert found["train"] | found["valid"] | found["test"] == everyone
        for s in split_master.SPLITS:  # masks travel with their images
            assert sorted(os.listdir(os.path.join(fold, s, "masks"))) == sorted(
                n.replace(".jpg", ".png") for n in os.listdir(os.path.join(fold, s, "images")))
        with open(os.path.join(fold, "split.csv")) as f:
            assert {r["volume"]: r["split"] for r in csv.DictReader(f)} == assignments[k - 1]
    # The same seed repeats the folds, another seed changes them.
    assert split_master.split_folds(master, str(tmp_path / "again"), 3, seed=137) == assignments
    assert split_master.split_folds(master, str(tmp_path / "other"), 3, seed=138) != assignments


def test_fold_files_are_hard_links_unless_copy_is_asked(tmp_path, capsys):
    master, data, _ = make_folds(tmp_path, volumes=4, folds=2)
    name = sorted(os.listdir(os.path.join(master, "images")))[0]
    found = [os.path.join(data, f"fold_{k}", s, "images", name) for k in (1, 2) for s in split_master.SPLITS]
    linked = [p for p in found if os.path.exists(p)]
    assert len(linked) == 2  # one split per fold
    assert all(os.path.samefile(p, os.path.join(master, "images", name)) for p in linked)
    assert "32 files hard-linked to and 0 copied" in capsys.readouterr().out
    assert split_master.main([master, str(tmp_path / "copies"), "--folds", "2", "--copy"]) == 0
    copies = [os.path.join(tmp_path, "copies", "fold_1", s, "images", name) for s in split_master.SPLITS]
    copy = next(p for p in copies if os.path.exists(p))
    assert not os.path.samefile(copy, os.path.join(master, "images", name)) and os.stat(copy).st_nlink == 1


def test_fold_manifests_and_the_command_line(tmp_path, capsys):
    master = make_split(str(tmp_path / "master"), volumes=4, slices=2, size=8)
    with open(os.path.join(master, "manifest.csv"), "w", newline="") as f:
        f.write("image,volume\n" + "".join(f"{1000 + v}_{s}.jpg,{1000 + v}\n" for v in range(4) for s in (0, 1)))
    out = str(tmp_path / "cv")
    assert split_master.main([master, out, "--folds", "2", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "--- fold_2" in printed and "num_test      4 images from 2 volumes" in printed
    with open(os.path.join(out, "splits.json")) as f:
        splits = json.load(f)
    with open(os.path.join(out, "fold_2", "manifest.csv")) as f:
        rows = list(csv.DictReader(f))
    assert {r["volume"]: r["split"] for r in rows} == {
        v: s for s in split_master.SPLITS for v in splits["fold_2"][s]}
    assert split_master.main([master, out, "--folds", "2"]) == 1
    assert "is not empty" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        split_master.main([master, str(tmp_path / "one"), "--folds", "1"])
    assert stopped.value.code == 2 and "at least 2 folds" in capsys.readouterr().err
    assert split_master.main([master, str(tmp_path / "five"), "--folds", "5"]) == 1
    assert "4 volumes cannot make 5 folds" in capsys.readouterr().err
    with pytest.raises(DataError, match="3 volumes cannot make 2 folds.*at least 4"):
        split_master.fold_assignments(["a", "b", "c"], 2, seed=1)
    assert not os.path.exists(tmp_path / "five" / "splits.json")


# === The fold's config ===

PROJECT_CONFIG = """\
; my experiment
[model]
model = "TensorflowUNet"   ; the family
image_width = 16
image_height = 16
image_channels = 3
num_classes = 1
base_filters = 4
num_layers = 2
metrics = ["dice_coef"]
evaluation = "eval"

[train]
epochs = 1
model_dir = "./models"
eval_dir = "./eval"
image_datapath = "../data/fold_1/train/images/"   ; rewritten
mask_datapath  = "../data/fold_1/train/masks/"
patience = 7

[eval]
image_datapath = "../data/fold_1/valid/images/"
mask_datapath = "../data/fold_1/valid/masks/"

[infer]
images_dir = "./mini_test/images"
output_dir = "./mini_test_output"
"""


def test_the_fold_config_points_at_the_fold_and_keeps_every_other_line(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    path = project / "train_eval_infer.config"
    path.write_text(PROJECT_CONFIG)
    config = ConfigParser(str(path))
    fold_dir = project / "fold_2"
    fold_dir.mkdir()
    written = CrossValidator.write_fold_config(
        config, PROJECT_CONFIG, str(project), str(fold_dir), str(tmp_path / "data" / "fold_2"))
    text = open(written).read()
    assert text.splitlines()[0].startswith("; Written by src/CrossValidator.py")
    lines = text.splitlines()[1:]
    assert 'image_datapath = "../../data/fold_2/train/images"   ; rewritten' in lines
    assert 'mask_datapath  = "../../data/fold_2/train/masks"' in lines
    assert 'images_dir = "../mini_test/images"' in lines
    assert 'evaluation = "test"' in lines
    assert lines[-3:] == ["[test]", 'image_datapath = "../../data/fold_2/test/images"',
                          'mask_datapath = "../../data/fold_2/test/masks"']  # added, as it was missing
    kept = [line for line in PROJECT_CONFIG.splitlines()
            if line and not any(k in line for k in ("datapath", "images_dir", "evaluation"))]
    assert [line for line in lines if line in kept] == kept  # comments and other keys, in order
    monkeypatch.chdir(fold_dir)  # the steps' working directory
    fold = ConfigParser("./train_eval_infer.config")
    assert os.path.abspath(fold.get("test", "image_datapath")) == str(tmp_path / "data" / "fold_2" / "test" / "images")
    assert os.path.abspath(fold.get("infer", "images_dir")) == str(project / "mini_test" / "images")
    assert fold.get("train", "model_dir") == "./models"  # outputs stay in fold_2/
    assert fold.get("train", "patience") == 7
    # Written again unchanged, the file is left alone (the trainer resumes on the same config).
    before = os.stat(written).st_mtime_ns
    CrossValidator.write_fold_config(config, PROJECT_CONFIG, str(project), str(fold_dir),
                                     str(tmp_path / "data" / "fold_2"))
    assert os.stat(written).st_mtime_ns == before


def test_a_toml_config_is_rewritten_as_toml(tmp_path):
    text = textwrap.dedent("""\
        # toml experiment
        [model]
        model = "TensorflowUNet"
        image_width = 16
        image_height = 16
        metrics = ["dice_coef"]

        [train]
        epochs = 1
        image_datapath = 'x/train/images'  # literal string
        mask_datapath = "x/train/masks"

        [test]
        # image_datapath = None
        """)
    out = CrossValidator.rewrite(text, {("train", "image_datapath"): "a/b", ("train", "mask_datapath"): "c",
                                        ("test", "image_datapath"): "t", ("eval", "image_datapath"): "v"},
                                 toml=True)
    assert "image_datapath = \"a/b\"  # literal string" in out and 'mask_datapath = "c"' in out
    parsed = ConfigParser.from_string(out, "f.toml")
    assert parsed.get("test", "image_datapath") == "t" and parsed.get("eval", "image_datapath") == "v"


def test_outputs_outside_the_project_folder_are_refused(tmp_path):
    path = write_config(tmp_path / "c.config", project_sections("../data", size=16, train={"model_dir": "../m"}))
    with pytest.raises(UserError, match=r"\[train\] model_dir = '../m': cross-validation needs a relative"):
        CrossValidator.check_outputs(ConfigParser(path))


# === The driver, with stand-in steps ===

STUB = """\
import csv, os, sys
sys.path.insert(0, {src!r})
from ConfigParser import ConfigParser
from volume_ids import volume_id
config, step, log = sys.argv[1], sys.argv[2], sys.argv[3]
fold = os.path.basename(os.getcwd())
with open(log, "a") as f:
    f.write(f"{{fold}} {{step}}\\n")
fail = os.path.join(os.path.dirname(log), f"fail_{{fold}}_{{step}}")
if os.path.exists(fail):
    how = open(fail).read()
    os.remove(fail)  # fails once
    if how == "kill":  # the CV itself dies, as with kill -9
        import signal
        os.kill(os.getppid(), signal.SIGKILL)
    if how == "sleep":  # a long step, stopped from outside
        import time
        open(log + ".pid", "w").write(str(os.getpid()))
        time.sleep(60)
    sys.exit(3)
if step == "evaluate":
    parsed = ConfigParser(config)
    images = parsed.get("test", "image_datapath")  # read from fold_<k>/, as 2.evaluate does
    volumes = sorted({{volume_id(n) for n in os.listdir(images)}})
    with open("evaluation_per_volume.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["volume", "slices", "tp", "fp", "fn", "dice", "iou", "hd95", "assd", "note"])
        for v in volumes:
            writer.writerow([v, 2, 1, 1, 1, f"{{(int(v) % 10) / 10:.6f}}", "", "", "", ""])
"""


@pytest.fixture()
def cv_project(tmp_path):
    """Six patients in two folds, a project whose config points at fold 1, and stand-in steps."""
    make_folds(tmp_path, volumes=6, folds=2)
    project = tmp_path / "project"
    project.mkdir()
    config = write_config(project / "train_eval_infer.config", project_sections("../data/fold_1", size=16))
    stub = tmp_path / "stub.py"
    stub.write_text(STUB.format(src=os.path.join(REPO, "src")))
    log = str(tmp_path / "log.txt")
    steps = [(name, [sys.executable, str(stub), "{config}", name, log]) for name in ("train", "evaluate")]
    return config, steps, log


def read_log(log):
    with open(log) as f:
        return f.read().split("\n")[:-1]


def expected_summary(data):
    with open(os.path.join(data, "splits.json")) as f:
        splits = json.load(f)
    rows, pooled = [], []
    for k in (1, 2):
        dice = [(int(v) % 10) / 10 for v in splits[f"fold_{k}"]["test"]]
        pooled += dice
        rows.append([str(k), "3", f"{statistics.mean(dice):.6f}", f"{statistics.stdev(dice):.6f}"])
    return rows + [["pooled", "6", f"{statistics.mean(pooled):.6f}", f"{statistics.stdev(pooled):.6f}"]]


def test_every_fold_is_trained_evaluated_and_summarised(cv_project, tmp_path):
    config, steps, log = cv_project
    rows = CrossValidator.cross_validate(config, 2, steps=steps)  # data root found from [train] image_datapath
    assert read_log(log) == ["fold_1 train", "fold_1 evaluate", "fold_2 train", "fold_2 evaluate"]
    with open(tmp_path / "project" / "cv_summary.csv") as f:
        assert list(csv.reader(f)) == rows == [["fold", "patients", "dice_mean", "dice_sd"],
                                               *expected_summary(tmp_path / "data")]
    # Started again when finished: nothing is rerun, the summary is rewritten.
    CrossValidator.cross_validate(config, 2, steps=steps)
    assert len(read_log(log)) == 4


def test_a_failed_fold_resumes_where_it_stopped(cv_project, tmp_path, capsys):
    config, steps, log = cv_project
    (tmp_path / "fail_fold_2_evaluate").write_text("exit")
    with pytest.raises(UserError, match="fold 2: evaluate failed .exit code 3.; run the same command again"):
        CrossValidator.cross_validate(config, 2, steps=steps)
    assert not (tmp_path / "project" / "cv_summary.csv").exists()
    CrossValidator.cross_validate(config, 2, steps=steps)
    assert read_log(log) == ["fold_1 train", "fold_1 evaluate", "fold_2 train", "fold_2 evaluate",
                             "fold_2 evaluate"]  # fold 1 and fold 2's training are not redone
    assert "fold 2/2: resuming at evaluate" in capsys.readouterr().out


def driver(tmp_path, config, steps):
    """A script that runs the CV's command line with the stand-in steps."""
    path = tmp_path / "driver.py"
    path.write_text(f"import sys\nsys.path.insert(0, {os.path.join(REPO, 'src')!r})\nimport CrossValidator\n"
                    f"sys.exit(CrossValidator.main([{config!r}, '2'], steps={steps!r}))\n")
    return path


def test_a_killed_cv_resumes_with_the_fold_it_was_in(cv_project, tmp_path):
    config, steps, log = cv_project
    (tmp_path / "fail_fold_2_train").write_text("kill")
    script = str(driver(tmp_path, config, steps))
    killed = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    with open(tmp_path / "project" / "cv_state.json") as f:
        assert json.load(f)["done"] == {"1": ["train", "evaluate"]}
    again = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "fold 1/2: done, skipped" in again.stdout
    assert read_log(log) == ["fold_1 train", "fold_1 evaluate", "fold_2 train", "fold_2 train", "fold_2 evaluate"]
    with open(tmp_path / "project" / "cv_summary.csv") as f:
        assert list(csv.reader(f))[1:] == expected_summary(tmp_path / "data")


def test_a_terminated_cv_stops_its_step_and_says_how_to_resume(cv_project, tmp_path):
    config, steps, log = cv_project
    (tmp_path / "fail_fold_1_train").write_text("sleep")
    process = subprocess.Popen([sys.executable, str(driver(tmp_path, config, steps))],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_file = log + ".pid"
    for _ in range(300):
        if os.path.exists(pid_file) and open(pid_file).read():
            break
        time.sleep(0.1)
    process.terminate()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "run the same command again to resume" in err
    with pytest.raises(ProcessLookupError):  # the step was stopped with it, not left running
        os.kill(int(open(pid_file).read()), 0)
    assert not (tmp_path / "project" / "cv_state.json").exists()


def test_bad_inputs_are_named(cv_project, tmp_path, capsys):
    config, steps, log = cv_project
    with pytest.raises(DataError, match="splits.json holds 2 folds, not 3"):
        CrossValidator.cross_validate(config, 3, steps=steps)
    with pytest.raises(DataError, match=f"no splits.json in {tmp_path / 'elsewhere'}"):
        CrossValidator.cross_validate(
            write_config(tmp_path / "project" / "other.config", project_sections("../elsewhere", size=16)), 2)
    with pytest.raises(DataError, match=f"{tmp_path / 'nowhere' / 'splits.json'} does not exist"):
        CrossValidator.cross_validate(config, 2, str(tmp_path / "nowhere"))
    silent = [(name, argv) for name, argv in steps if name == "train"]  # writes no per-volume scores
    with pytest.raises(DataError, match="fold_1.evaluation_per_volume.csv does not exist"):
        CrossValidator.cross_validate(config, 2, steps=silent)
    CrossValidator.cross_validate(config, 2, steps=steps)
    with open(config, "a") as f:
        f.write("\n; an edit\n")
    with pytest.raises(DataError, match="cv_state.json records another cross-validation .config_sha256"):
        CrossValidator.cross_validate(config, 2, steps=steps)
    assert CrossValidator.main([config]) == 2 and CrossValidator.main([config, "1"]) == 2
    assert "usage: CrossValidator.py CONFIG K" in capsys.readouterr().err
    assert CrossValidator.main([config, "2"]) == 1
    assert "ERROR: " in capsys.readouterr().err


def test_per_volume_rows_are_matched_to_the_folds_patients(tmp_path, capsys):
    (tmp_path / "evaluation_per_volume.csv").write_text(
        "volume,slices,tp,fp,fn,dice,iou,hd95,assd,note\n"
        "a,1,1,0,0,1.000000,1.000000,0,0,no volume ids\nb,1,0,1,1,,,,,\nzz,1,0,0,0,0.5,,,,\n")
    assert CrossValidator.read_per_volume(str(tmp_path), ["a.jpg", "b.jpg"]) == {"a.jpg": 1.0}
    out = capsys.readouterr().out
    assert "rows zz are not patients of this fold's test split" in out and "no Dice for b.jpg" in out
    with pytest.raises(DataError, match="no row for the test patients c"):
        CrossValidator.read_per_volume(str(tmp_path), ["a", "c"])
    (tmp_path / "evaluation_per_volume.csv").write_text("image,score\n1,2\n")
    with pytest.raises(DataError, match="expected the columns volume and dice"):
        CrossValidator.read_per_volume(str(tmp_path), ["a"])
    assert CrossValidator._mean_sd([0.5]) == ["1", "0.500000", "nan"]


def test_the_shell_wrapper_runs_the_driver(tmp_path):
    result = subprocess.run(["sh", os.path.join(REPO, "scripts", "cross_validate.sh")],
                            env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True)
    assert result.returncode == 2 and "usage: CrossValidator.py CONFIG K" in result.stderr
    with open(os.path.join(REPO, "scripts", "cross_validate.bat"), newline="") as f:
        assert "src\\CrossValidator.py\" %*\r\n" in f.read()


# === The real steps ===

@pytest.mark.slow  # 30-50 s of CI; the fold logic is tested above without training
def test_cross_validation_with_the_real_trainer_and_evaluator(tmp_path):
    make_folds(tmp_path, volumes=4, folds=2, slices=3, size=32)
    project = tmp_path / "project"
    make_split(str(project / "mini_test"), volumes=1, slices=1, size=32, seed=4, first_volume=9)
    sections = project_sections("../data/fold_1", size=32, model=small_model_section(32),
                                train={"epochs": 1, "batch_size": 2, "num_infer_images": 1})
    config = write_config(project / "train_eval_infer.config", sections)
    result = subprocess.run([sys.executable, os.path.join(REPO, "src", "CrossValidator.py"), config, "2"],
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for k in (1, 2):
        fold = project / f"fold_{k}"
        assert (fold / "models" / "best_model.weights.h5").is_file()
        assert (fold / "evaluation.csv").is_file() and (fold / "evaluation_per_volume.csv").is_file()
        assert (fold / "epoch_change_infer" / "Epoch_1_1009_0.jpg").is_file()  # ../mini_test/images was found
    with open(project / "cv_summary.csv") as f:
        rows = list(csv.reader(f))
    assert [row[:2] for row in rows] == [["fold", "patients"], ["1", "2"], ["2", "2"], ["pooled", "4"]]
    assert all(0 <= float(row[2]) <= 1 for row in rows[1:])
