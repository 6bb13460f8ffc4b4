"""One place for every default: the schema, the readers, docs/config.md and the entry scripts' flags."""

import ast
import glob
import os
import re

import pytest
from conftest import REPO, small_model_section, write_config

import config_reference
import config_schema
import LineGraphPlotter
import resolved_config
import TensorflowUNetEvaluator
import TensorflowUNetInferencer
import TensorflowUNetModelInspector
import TensorflowUNetTrainer
from config_schema import REQUIRED, Derived
from ConfigParser import ConfigParser
from errors import ConfigError

ENTRY_SCRIPTS = [TensorflowUNetTrainer, TensorflowUNetEvaluator, TensorflowUNetInferencer,
                 TensorflowUNetModelInspector, LineGraphPlotter]
SCHEMA_KEYS = {key for keys in config_schema.SECTIONS.values() for key in keys}
PRINTED = re.compile(r"^\[(\w+)\] (\S+) = (.+)  \((file|default|required)\)$")


def all_keys():
    for section, keys in config_schema.SECTIONS.items():
        yield from ((section, key, entry) for key, entry in keys.items())
    for family, keys in config_schema.FAMILIES.items():
        yield from (("model", key, entry) for key, entry in keys.items())


def test_every_schema_key_has_a_default_of_its_own_kind_or_is_required():
    for section, key, entry in all_keys():
        default = entry.default
        assert (default is REQUIRED or isinstance(default, Derived) or default is None
                or entry.kind.accepts(default)), f"[{section}] {key}: {default!r} is not {entry.kind.description}"
        assert entry.doc, f"[{section}] {key} has no doc for docs/config.md"


def literal_defaults(source: str) -> list[str]:
    """Calls that pass their own default for a schema key: `get(s, "k", d)`, `lookup(c, s, "k", t, d)`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        position, allowed = {"get": (1, 2), "_get": (1, 2), "lookup": (2, 4), "model_key": (0, 1)}.get(name, (None, 0))
        if position is None or len(node.args) <= position:
            continue
        key = node.args[position]
        if isinstance(key, ast.Constant) and key.value in SCHEMA_KEYS:
            if len(node.args) > allowed or any(k.arg in ("dvalue", "default") for k in node.keywords):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_scan_finds_a_literal_default():
    assert literal_defaults('config.get(ConfigParser.TRAIN, "patience", 10)') != []
    assert literal_defaults('named_objects.lookup(config, M, "algorithm", TABLE, None)') != []
    assert literal_defaults('config.get(ConfigParser.TRAIN, "patience")') == []
    assert literal_defaults('os.environ.get("HOME", "x")') == []


def test_no_module_passes_a_default_for_a_schema_key():
    offenders = {}
    for path in glob.glob(os.path.join(REPO, "src", "**", "*.py"), recursive=True) + glob.glob(
        os.path.join(REPO, "generator", "*.py")
    ):
        with open(path, encoding="utf-8") as f:
            found = literal_defaults(f.read())
        if found:
            offenders[os.path.relpath(path, REPO)] = found
    assert offenders == {}


def test_get_falls_back_to_the_schema_only_when_the_key_is_absent():
    config = ConfigParser.from_string("[model]\nclipvalue = None\n[train]\npatience = 6\n")
    assert config.get("model", "clipvalue") is None  # an explicit None is None
    assert config.get("model", "optimizer") == "Adam"
    assert config.get("train", "reducer_patience") == 3  # derived from patience, as the original
    assert config.get("augmentor", "angles") == [90, 180, 270]
    config.get("augmentor", "angles").append(1)
    assert config.get("augmentor", "angles") == [90, 180, 270], "a reader must not change the schema"
    assert config.get("model", "no_such_key", "mine") == "mine"
    with pytest.raises(ConfigError, match=r"\[model\] image_width \(not set\): this key is required"):
        config.get("model", "image_width")


def test_the_string_none_is_none_where_the_default_is_not():
    config = ConfigParser.from_string('[model]\nclipvalue = "none"\n[infer]\nmerged_dir = "none"\n')
    assert config.get("model", "clipvalue") is None
    assert config.get("infer", "merged_dir") == "none"  # default None: a folder called "none"


def test_docs_config_md_is_generated_from_the_schema():
    with open(config_reference.DEFAULT_OUT, encoding="utf-8") as f:
        committed = f.read()
    assert committed == config_reference.render(), "run: python src/config_reference.py"
    for section, key, _ in all_keys():
        assert f"`{key}`" in committed, f"[{section}] {key} missing from docs/config.md"


def test_docs_and_code_do_not_cite_the_external_spec():
    cited = []
    for path in glob.glob(os.path.join(REPO, "src", "**", "*.py"), recursive=True) + [
        os.path.join(REPO, "README.md")
    ]:
        with open(path, encoding="utf-8") as f:
            if "spec §" in f.read():
                cited.append(os.path.relpath(path, REPO))
    assert cited == []


def small_config(tmp_path, **sections):
    values = {
        "model": small_model_section(32),
        "train": {"epochs": 1, "batch_size": 2, "model_dir": "./models", "eval_dir": "./eval",
                  "image_datapath": "./nowhere/images", "mask_datapath": "./nowhere/masks"},
        "inspect": {"summary": "./inspect/summary.txt", "model_graph": "./inspect/model.png"},
    }
    values.update(sections)
    return write_config(tmp_path / "train_eval_infer.config", values)


@pytest.mark.parametrize("module", ENTRY_SCRIPTS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("flag_first", [False, True])
def test_print_config_lists_every_resolved_key_and_reads_nothing(module, flag_first, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = small_config(tmp_path)
    argv = ["--print-config", path] if flag_first else [path, "--print-config"]
    assert module.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    printed = {}
    for line in out:
        match = PRINTED.match(line)
        assert match, line
        printed[(match[1], match[2])] = (match[3], match[4])
    expected = resolved_config.resolve(ConfigParser(path))
    assert list(printed) == [(s, k) for s, keys in expected.items() for k in keys]
    assert printed[("model", "image_width")] == ("32", "file")
    assert printed[("train", "patience")] == ("10", "default")
    assert printed[("model", "final_activation")] == ("'sigmoid'", "default")
    assert sorted(os.listdir(tmp_path)) == ["train_eval_infer.config"], "--print-config wrote something"


def test_each_defaulted_key_read_is_printed_once_unless_quiet(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = small_config(tmp_path)
    assert TensorflowUNetModelInspector.main([path]) == 0
    out = capsys.readouterr().out.splitlines()
    defaults = [line for line in out if line.startswith("-- default ")]
    assert "-- default [model] optimizer = 'Adam'" in defaults
    assert "-- default [model] base_kernels = (3, 3)" in defaults
    assert len(defaults) == len(set(defaults))
    assert not any("[model] image_width" in line for line in defaults), "a key the file sets is not a default"
    assert TensorflowUNetModelInspector.main(["--quiet", path]) == 0
    assert not any(line.startswith("-- default ") for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("module", ENTRY_SCRIPTS, ids=lambda m: m.__name__)
def test_usage_names_every_flag(module, capsys):
    assert module.main(["a.config", "--verbose"]) == 2
    assert "[CONFIG] [--print-config] [--quiet] [--debug]" in capsys.readouterr().err


def test_augmentation_preview_prints_the_config_too(tmp_path, monkeypatch, capsys):
    import AugmentationPreview

    monkeypatch.chdir(tmp_path)
    path = small_config(tmp_path)
    assert AugmentationPreview.main([path, "--print-config"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "[augmentor] angles = [90, 180, 270]  (default)" in out
    assert all(PRINTED.match(line) for line in out)
