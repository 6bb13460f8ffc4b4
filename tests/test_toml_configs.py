"""Configs in TOML: read as INI is, checked by the same schema, converted both ways without loss."""

import glob
import json
import os
import warnings

import pytest
from conftest import REPO, config_text, dedent

import ConfigConverter
import resolved_config
from ConfigParser import ConfigParser, ConfigWarning
from errors import ConfigError, UserError
from ModelRegistry import MODELS, create_model

# The original's configs hold keys this toolkit does not know: each warns, as it should.
pytestmark = pytest.mark.filterwarnings("ignore::ConfigParser.ConfigWarning")

CONFIGS = sorted(
    glob.glob(os.path.join(REPO, "tests", "fixtures", "configs", "*.config"))
    + glob.glob(os.path.join(REPO, "projects", "*", "*", "train_eval_infer*.config"))  # not copies in run folders
)


def read(path) -> ConfigParser:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)  # the original's configs hold unknown keys
        return ConfigParser(path)


def test_toml_values_read_as_the_ini_ones():
    config = ConfigParser.from_string(dedent("""
        [model]
        image_width = 64
        base_kernels = [7, 7]
        metrics = ["dice_coef"]
        clipvalue = "none"
        learning_rate = 1e-4

        [infer]
        # merged_dir = None
        ksize = [3, 3]

        [barrdistortion]
        centers = [[0.3, 0.3], [0.7, 0.7]]
        """), "a.toml")
    assert config.get("model", "image_width") == 64
    assert config.get("model", "base_kernels") == (7, 7)  # arrays are tuples where the key takes one
    assert config.get("model", "metrics") == ["dice_coef"]
    assert config.get("model", "clipvalue") is None
    assert config.get("infer", "merged_dir") is None and config.source("infer", "merged_dir") == "file"
    assert config.get("barrdistortion", "centers") == [(0.3, 0.3), (0.7, 0.7)]
    assert config.get("model", "optimizer") == "Adam"  # absent: the schema's default


def test_a_toml_type_error_names_file_line_section_and_key():
    text = '[model]\nimage_width = 64\nimage_height = "64"\n[train]\nepochs = 1.5\n'
    with pytest.raises(ConfigError) as error:
        ConfigParser.from_string(text, "exp.toml")
    lines = str(error.value).splitlines()
    assert lines == ['exp.toml:3: [model] image_height = "64": expected an integer >= 1',
                     "exp.toml:5: [train] epochs = 1.5: expected an integer >= 1"]


def test_invalid_toml_names_the_line():
    with pytest.raises(ConfigError, match=r"^exp.toml:2: not valid TOML"):
        ConfigParser.from_string("[model]\nimage_width = = 3\n", "exp.toml")
    with pytest.raises(ConfigError, match=r"key 'seed' is outside any \[section\]"):
        ConfigParser.from_string("seed = 3\n[model]\n", "exp.toml")


def test_unknown_toml_keys_warn_as_in_ini():
    with pytest.warns(ConfigWarning, match=r"\[train\] create_backups is not a known key.*'create_backup'"):
        ConfigParser.from_string("[train]\ncreate_backups = true\n", "exp.toml")


def round_trip(path, tmp_path):
    toml_path = ConfigConverter.convert(path, str(tmp_path / "c.toml"))
    ini_path = ConfigConverter.convert(toml_path, str(tmp_path / "c.config"))
    return read(path), read(toml_path), read(ini_path)


def normalized(value):
    """Tuples as lists: a key of any type (one nothing reads) comes back from TOML as a list."""
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.relpath(p, REPO))
def test_ini_to_toml_to_ini_keeps_every_value_and_the_resolved_config(path, tmp_path):
    ini, toml, back = round_trip(path, tmp_path)
    assert back.to_dict() == toml.to_dict()
    assert normalized(toml.to_dict()) == normalized(ini.to_dict())
    typed = {(s, k): v for s, keys in ini.to_dict().items() for k, v in keys.items()
             if isinstance(v, tuple) and ini.has(s, k)}
    for (section, key), value in typed.items():
        if section == "model" and key not in ("base_kernels", "dilation"):
            continue  # keys of models not built yet are not typed
        assert back.get(section, key) == value, f"[{section}] {key}"
    assert normalized(resolved_config.resolve(toml)) == normalized(resolved_config.resolve(ini))


@pytest.mark.parametrize("path", [p for p in CONFIGS if read(p).family in MODELS],
                         ids=lambda p: os.path.relpath(p, REPO))
def test_the_toml_copy_builds_the_same_model(path, tmp_path):
    ini, toml, _ = round_trip(path, tmp_path)
    if not ini.has("model", "loss"):
        pytest.skip("the original's config names no loss: it cannot build, in either format")
    if ini.family in PRETRAINED:  # no ImageNet download here: counts do not depend on the weights
        ini, toml = (without_pretrained_weights(config) for config in (ini, toml))
    counts = [create_model(config).model.count_params() for config in (ini, toml)]
    assert counts[0] == counts[1] > 0


PRETRAINED = ("TensorflowEfficientUNet", "TensorflowEfficientNetB7UNet", "TensorflowDeepLabV3Plus")


def without_pretrained_weights(config: ConfigParser) -> ConfigParser:
    sections = config.to_dict()
    sections["model"]["weights"] = None
    return ConfigParser.from_string(config_text(sections))  # INI text, whatever the source format


def test_none_is_written_as_the_string_none_or_as_a_comment(tmp_path):
    source = tmp_path / "a.config"
    source.write_text("[model]\nclipvalue = None\n[infer]\nmerged_dir = None\n")
    text = open(ConfigConverter.convert(str(source), str(tmp_path / "a.toml"))).read()
    assert 'clipvalue = "none"' in text
    assert "# merged_dir = None" in text
    back = read(ConfigConverter.convert(str(tmp_path / "a.toml"), str(tmp_path / "b.config")))
    assert back.to_dict() == {"model": {"clipvalue": None}, "infer": {"merged_dir": None}}


def test_dotted_keys_are_quoted(tmp_path):
    source = tmp_path / "a.config"
    source.write_text("[model]\nself.activation = 'ReLU'\n")
    text = open(ConfigConverter.convert(str(source), str(tmp_path / "a.toml"))).read()
    assert "\"self.activation\" = \"ReLU\"" in text
    assert read(str(tmp_path / "a.toml")).get("model", "self.activation") == "ReLU"


def test_the_converter_never_overwrites_and_checks_the_direction(tmp_path, capsys):
    source = tmp_path / "a.config"
    source.write_text("[train]\nepochs = 2\n")
    existing = tmp_path / "b.toml"
    existing.write_text("mine")
    assert ConfigConverter.main([str(source), str(existing)]) == 1
    assert existing.read_text() == "mine"
    assert "exists" in capsys.readouterr().err
    with pytest.raises(UserError, match="needs a .toml file"):
        ConfigConverter.convert(str(source), str(tmp_path / "c.config"))
