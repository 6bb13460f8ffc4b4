import os
import warnings

import cv2
import pytest
from conftest import PANCREAS_CONFIG, dedent

import named_objects
from ConfigParser import ConfigParser, ConfigWarning
from errors import ConfigError, ConfigFileError


def parse(text: str) -> ConfigParser:
    return ConfigParser.from_string(dedent(text), path="test.config")


def parse_warnings(text: str) -> tuple[ConfigParser, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = parse(text)
    return config, [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]


def test_literals_of_every_type():
    config = parse(
        """
        [model]
        model = "TensorflowUNet"
        image_width = 512
        learning_rate = 7e-05
        clipvalue = None
        generator = False
        base_kernels = (9, 9)
        metrics = ["dice_coef", 'iou_coef']
        num_heads = {"a": 1}
        dropout_rate = -0.0
        """
    )
    get = lambda key: config.get("model", key)  # noqa: E731
    assert get("model") == "TensorflowUNet"
    assert get("image_width") == 512 and isinstance(get("image_width"), int)
    assert get("learning_rate") == pytest.approx(7e-05)
    assert get("clipvalue") is None
    assert get("generator") is False
    assert get("base_kernels") == (9, 9)
    assert get("metrics") == ["dice_coef", "iou_coef"]
    assert get("num_heads") == {"a": 1}
    assert config.get("model", "missing", "fallback") == "fallback"
    assert config.get("nosection", "x", 3) == 3


def test_section_constants_are_the_originals():
    assert (ConfigParser.MODEL, ConfigParser.TRAIN, ConfigParser.EVAL) == ("model", "train", "eval")
    assert (ConfigParser.TEST, ConfigParser.INFER, ConfigParser.MASK) == ("test", "infer", "mask")
    assert ConfigParser.SEGMENTATION == "segmentation"
    assert (ConfigParser.GENERATOR, ConfigParser.AUGMENTOR) == ("generator", "augmentor")
    assert ConfigParser.TILEDINFER == "tiledinfer"
    assert ConfigParser.INSPECT == ConfigParser.INSPECCT == "inspect"


def test_code_is_never_executed_and_the_error_names_file_line_section_key(tmp_path):
    marker = tmp_path / "PWNED"
    with pytest.raises(ConfigError) as error:
        parse(
            f"""
            [model]
            image_width = 64
            loss = __import__("os").system("touch {marker}")
            """
        )
    assert not marker.exists()
    message = str(error.value)
    assert "test.config:3" in message and "[model] loss" in message
    assert "not a Python literal" in message


def test_unquoted_string_suggests_quotes():
    with pytest.raises(ConfigError, match=r'\[model\] loss = bce_dice_loss: .*loss = "bce_dice_loss"'):
        parse("[model]\nloss = bce_dice_loss\n")


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(ConfigError) as error:
        parse(
            """
            [model]
            image_width = "512"
            base_kernels = (9,)
            [train]
            epochs = -1
            """
        )
    lines = str(error.value).splitlines()
    assert len(lines) == 3
    assert "test.config:2: [model] image_width" in lines[0] and "integer" in lines[0]
    assert "[model] base_kernels" in lines[1] and "pair" in lines[1]
    assert "test.config:5: [train] epochs = -1" in lines[2] and ">= 1" in lines[2]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("epochs = 2.5", "an integer >= 1"),
        ("patience = True", "an integer"),
        ("save_weights_only = 1", "True or False"),
        ("metrics = ['dice_coef']", "a list of 2"),
        ("reducer_factor = 1.0", "a number > 0 and < 1"),
        ("seed = 5000000000", "<= 4294967295"),
        ("batch_size = None", "an integer >= 1"),
    ],
)
def test_wrong_types_and_ranges_are_errors(line, expected):
    with pytest.raises(ConfigError, match=expected):
        parse(f"[train]\n{line}\n")


def test_none_is_accepted_where_it_means_something():
    config = parse("[infer]\nmerged_dir = None\n[model]\nshow_summary = None\n")
    assert config.get("infer", "merged_dir", "x") is None


def test_unknown_key_warns_once_with_the_closest_known_key():
    config, messages = parse_warnings("[train]\ncreate_backups = True\nepochs = 2\n")
    assert len(messages) == 1
    assert "[train] create_backups" in messages[0]
    assert "did you mean 'create_backup'?" in messages[0]
    assert not config.has("train", "create_backup")
    assert config.get("train", "create_backup") is False  # the schema's default


def test_key_in_the_wrong_section_is_pointed_to():
    _, messages = parse_warnings("[model]\ndatasetclass = 'ImageMaskDataset'\n")
    assert "did you mean to put it in [dataset]?" in messages[0]


def test_unknown_section_warns():
    _, messages = parse_warnings("[trian]\nepochs = 2\n")
    assert "[trian] is not a known section" in messages[0] and "'train'" in messages[0]


def test_the_originals_misspelled_keys_are_known():
    _, messages = parse_warnings(
        """
        [deformation]
        alpah = 1300
        [image]
        contrast_alpah = 1.5
        contrast_best = 40
        [model]
        model = "TensorflowXceptionLikeUNet"
        diation = (2, 2)
        [train]
        save_model_file = ""
        """
    )
    assert messages == []


def test_legacy_augmentor_keys_warn_where_they_belong():
    _, messages = parse_warnings("[augmentor]\nalpah = 1300\n")
    assert "[augmentor] alpah is ignored here" in messages[0] and "[deformation]" in messages[0]


def test_duplicate_key_warns_and_the_last_wins():
    config, messages = parse_warnings("[model]\nloss = 'dice_loss'\nloss = 'bce_dice_loss'\n")
    assert config.get("model", "loss") == "bce_dice_loss"
    assert len(messages) == 1 and "line 2" in messages[0] and "test.config:3" in messages[0]


def test_percent_is_literal_text():
    config = parse("[infer]\noutput_dir = './out_50%'\nimages_dir = '%(x)s'\n")
    assert config.get("infer", "output_dir") == "./out_50%"
    assert config.get("infer", "images_dir") == "%(x)s"


def test_inline_comments_are_stripped_outside_quotes():
    config = parse(
        """
        [mask]
        threshold = 80 ; was 128
        [segmentation]
        white = "#00ff00"   # green
        black = "a ; b"
        """
    )
    assert config.get("mask", "threshold") == 80
    assert config.get("segmentation", "white") == "#00ff00"
    assert config.get("segmentation", "black") == "a ; b"


def test_continuation_lines_and_colon_separator():
    config = parse(
        """
        [augmentor]
        angles = [30, 60,
                  90, 120]
        shrinks : [0.8]
        """
    )
    assert config.get("augmentor", "angles") == [30, 60, 90, 120]
    assert config.get("augmentor", "shrinks") == [0.8]


def test_keys_are_lower_cased_and_section_names_trimmed():
    config = parse("[test] \nImage_DataPath = './x'\n")
    assert config.get("test", "image_datapath") == "./x"


def test_empty_value_and_unreadable_line_are_errors():
    with pytest.raises(ConfigError, match=r"test.config:2: \[train\] epochs has no value \(remove the line"):
        parse("[train]\nepochs =\n")
    with pytest.raises(ConfigError, match=r"test.config:2: cannot read this line"):
        parse("[train]\njust words\n")
    with pytest.raises(ConfigError, match="outside any"):
        parse("epochs = 1\n")


def test_epoch_change_tiledinfer_is_built_so_enabling_it_parses():
    # It was an error while tiled inference was not built (C10); test_tiled_inference.py runs it.
    assert parse("[train]\nepoch_change_tiledinfer = True\n").get("train", "epoch_change_tiledinfer") is True


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigFileError, match="does not exist") as error:
        ConfigParser(tmp_path / "nope.config")
    assert error.value.exit_code == 2
    with pytest.raises(ConfigFileError):
        ConfigParser(tmp_path)  # a folder, not a file


def test_the_shipped_pancreas_config_parses_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        config = ConfigParser(PANCREAS_CONFIG)
    assert config.get("model", "base_kernels") == (9, 9)
    assert config.get("test", "image_datapath") == "../../../dataset/Pancreas-T1/test/images/"
    assert config.get("barrdistortion", "centers")[4] == (0.7, 0.7)
    assert config.where("model", "loss").endswith("train_eval_infer.config:21")


@pytest.mark.parametrize(
    "table, value, expected",
    [
        (named_objects.INTERPOLATIONS, "cv2.INTER_CUBIC", cv2.INTER_CUBIC),
        (named_objects.INTERPOLATIONS, "INTER_NEAREST", cv2.INTER_NEAREST),
        (named_objects.THRESHOLDS, "cv2.THRESH_OTSU", cv2.THRESH_OTSU),
        (named_objects.COLOR_CONVERSIONS, "cv2.COLOR_BGR2HSV_FULL", cv2.COLOR_BGR2HSV_FULL),
    ],
)
def test_named_opencv_constants_resolve_through_tables(table, value, expected):
    config = parse(f"[dataset]\nresize_interpolation = {value!r}\n")
    assert named_objects.lookup(config, "dataset", "resize_interpolation", table) == expected


def test_unknown_named_constant_is_an_error_with_a_suggestion():
    config = parse("[dataset]\nresize_interpolation = 'cv2.INTER_CUBC'\n")
    with pytest.raises(ConfigError, match=r"test.config:2: \[dataset\] resize_interpolation.*INTER_CUBIC"):
        named_objects.lookup(config, "dataset", "resize_interpolation", named_objects.INTERPOLATIONS)


def test_windows_code_page_comments_do_not_stop_parsing(tmp_path):
    path = tmp_path / "legacy.config"
    path.write_bytes(b"; \x93\xfa\x96\x7b\n[model]\nimage_width = 64\n")
    assert ConfigParser(path).get("model", "image_width") == 64
    assert os.path.basename(ConfigParser(path).path) == "legacy.config"
