"""[model] weights of the families on keras.applications encoders: ImageNet offline, None, a local file.

Nothing here downloads: every `get_file` Keras could call is replaced.
"""

import socket
import time

import keras
import keras.src.utils.file_utils as keras_file_utils
import numpy as np
import pytest
from conftest import write_keras2_weights
from test_model_deeplab_v3_plus import SMALL as DEEPLAB
from test_model_efficient_unet import SMALL as EFFICIENT_UNET
from test_model_efficient_unet import config_of, perturbed
from test_model_efficientnet_b7_unet import SMALL as B7_UNET

from blocks import encoders
from errors import ConfigError
from ModelRegistry import create_model


def imagenet(section: dict) -> dict:
    """`section` with weights unset: the default, "imagenet"."""
    return {key: value for key, value in section.items() if key != "weights"}


@pytest.fixture
def offline(monkeypatch):
    """Every download fails at once, as on a machine without network; records the socket timeout it saw."""
    seen = []

    def no_network(fname=None, origin=None, **kwargs):
        seen.append((fname, socket.getdefaulttimeout()))
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr(keras_file_utils, "get_file", no_network)  # what keras.applications calls
    return seen


@pytest.mark.parametrize(
    "section, encoder, file_name",
    [
        (EFFICIENT_UNET, "EfficientNetB0", "efficientnetb0_notop.h5"),
        ({**EFFICIENT_UNET, "efficientnet": "B6"}, "EfficientNetB6", "efficientnetb6_notop.h5"),
        (B7_UNET, "EfficientNetB7", "efficientnetb7_notop.h5"),
        (DEEPLAB, "ResNet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ],
    ids=["EfficientUNet", "EfficientUNet-B6", "EfficientNetB7UNet", "DeepLabV3Plus"],
)
def test_imagenet_weights_offline_fail_at_once_with_one_line_saying_what_to_do(offline, section, encoder, file_name):
    before = socket.getdefaulttimeout()
    start = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        create_model(config_of(imagenet(section)))
    assert time.monotonic() - start < 5
    message = str(caught.value)
    assert "\n" not in message
    assert f"[model] weights (not set): the ImageNet weights of {encoder} are not in the Keras cache" in message
    assert "cannot be downloaded (URL fetch failure on https://storage.googleapis.com/" in message
    assert "set weights = None to train from scratch, give the path of a local weights file" in message
    assert f"or put {file_name} in " in message and ".keras/models/" in message
    assert offline == [(file_name, encoders.DOWNLOAD_TIMEOUT)]  # a download could not hang
    assert socket.getdefaulttimeout() == before


def test_none_and_the_string_none_train_from_scratch():
    config = config_of({**DEEPLAB, "weights": "none"})
    assert config.get("model", "weights") is None
    assert config_of(imagenet(DEEPLAB)).get("model", "weights") == "imagenet"


@pytest.fixture(scope="module")
def b0_weights(tmp_path_factory):
    """An EfficientNetB0 encoder with non-initial weights, as a Keras-2 layer-order .h5 and a Keras 3 .weights.h5."""
    folder = tmp_path_factory.mktemp("encoder")
    encoder = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(64, 64, 3))
    perturbed(encoder, seed=3)
    write_keras2_weights(folder / "efficientnetb0_notop.h5", encoder)  # the layout of Keras' own file
    encoder.save_weights(str(folder / "encoder.weights.h5"))
    # The U-Net taps block7a_project_bn: the encoder's top convolution is not part of it.
    values = [np.asarray(w) for layer in encoder.layers if not layer.name.startswith("top_") for w in layer.weights]
    keras.utils.clear_session()
    return folder, values


def encoder_values(model, count: int) -> list:
    return [np.asarray(w) for layer in model.layers for w in layer.weights][:count]


def assert_loaded(model, values):
    for loaded, saved in zip(encoder_values(model, len(values)), values, strict=True):
        np.testing.assert_array_equal(loaded, saved)


def test_imagenet_weights_in_the_keras_cache_load_without_network(b0_weights, monkeypatch):
    folder, values = b0_weights
    cached = str(folder / "efficientnetb0_notop.h5")
    calls = []

    def cache_hit(fname=None, origin=None, **kwargs):
        calls.append(fname)
        return cached

    monkeypatch.setattr(keras.utils, "get_file", cache_hit)
    monkeypatch.setattr(keras_file_utils, "get_file", cache_hit)
    model = create_model(config_of(imagenet(EFFICIENT_UNET))).model
    assert calls == ["efficientnetb0_notop.h5"] * 2  # ours (with its timeout), then keras.applications'
    assert_loaded(model, values)


@pytest.mark.parametrize("file_name", ["efficientnetb0_notop.h5", "encoder.weights.h5"])
def test_a_local_weights_file_loads_into_the_encoder(b0_weights, file_name, offline):
    folder, values = b0_weights
    model = create_model(config_of({**EFFICIENT_UNET, "weights": str(folder / file_name)})).model
    assert_loaded(model, values)
    assert offline == []


def test_a_missing_or_unfitting_weights_file_is_an_error_naming_the_key(b0_weights, tmp_path):
    folder, _ = b0_weights
    missing = str(tmp_path / "nothing.h5")
    with pytest.raises(ConfigError, match=rf"\[model\] weights = '{missing}': no weights file {missing}; "):
        create_model(config_of({**EFFICIENT_UNET, "weights": missing}))
    other = str(folder / "efficientnetb0_notop.h5")
    with pytest.raises(ConfigError, match=rf"\[model\] weights = '{other}': {other} does not fit ResNet50: "):
        create_model(config_of({**DEEPLAB, "weights": other}))
