"""Pretrained encoders: adapters over `keras.applications`, and their weights policy.

`build_encoder(name, inputs, weights)` builds `keras.applications.<name>`
without its classifier on `inputs`; `feature_maps(encoder, layer_names)`
returns the tensors a decoder taps. The encoder's layers become layers of
the model built on them, so the model's weight order is the one
`keras.applications` gives, as in the original.

Weights (`[model] weights` in the families that use these):
- "imagenet": the ImageNet weights from the Keras cache (`~/.keras/models/`,
  or `$KERAS_HOME/models/`), downloaded there on first use. Without network
  and without the file, `PretrainedWeightsError` comes within seconds and
  names the file to put in the cache; a download never hangs.
- None: random initialization (training from scratch).
- a path: a weights file loaded into the encoder as `keras.applications`
  loads its `weights=` argument (Keras-2 `.h5` files by layer order).
"""

import contextlib
import os
import re
import socket
import urllib.error

import keras

from blocks.conv import avoid_strided_pointwise

# Seconds a network operation of the ImageNet download may wait before it fails.
DOWNLOAD_TIMEOUT = 15

_EFFICIENTNET_URL = "https://storage.googleapis.com/keras-applications/"
_RESNET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"

# name: (URL folder of its ImageNet weights, the file name keras.applications
# expects in its cache for include_top=False, its key in keras' hash table)
ENCODERS: dict[str, tuple[str, str, str]] = {
    **{f"EfficientNetB{i}": (_EFFICIENTNET_URL, f"efficientnetb{i}_notop.h5", f"b{i}") for i in range(8)},
    "ResNet50": (_RESNET_URL, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "resnet50"),
}


class PretrainedWeightsError(Exception):
    """The encoder's weights cannot be had: no ImageNet file and no network, or a bad local file."""


def imagenet_file(name: str) -> str:
    """The file name `keras.applications.<name>(include_top=False, weights="imagenet")` loads."""
    return ENCODERS[name][1]


def cache_folder() -> str:
    """Where Keras looks for (and downloads) application weights, as the user would write it."""
    home = os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))
    return os.path.join(home, "models") + os.sep


def build_encoder(name: str, inputs, weights) -> keras.Model:
    """`keras.applications.<name>(include_top=False, weights=weights, input_tensor=inputs)`.

    Args:
        name: a key of `ENCODERS`, e.g. "EfficientNetB0" or "ResNet50".
        inputs: the `keras.Input` the encoder is built on.
        weights: "imagenet", None, or the path of a weights file.

    Raises:
        PretrainedWeightsError: the weights cannot be loaded; the message
            says how to proceed.
    """
    return application(name, weights, input_tensor=inputs)


def application(name: str, weights, **kwargs) -> keras.Model:
    """`keras.applications.<name>(include_top=False, weights=weights, **kwargs)` under the weights
    policy above, for any application (TransUNet's backbones too).

    Raises:
        PretrainedWeightsError: the weights cannot be had or do not fit; the message says how to proceed.
        ValueError: keras.applications refused the input (size, channels).
    """
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise PretrainedWeightsError(
            f"no weights file {weights}; give an existing file, \"imagenet\", or None to train from scratch"
        )
    if weights == "imagenet" and name in ENCODERS:
        _fetch_imagenet(name)  # with the file's known hash
    constructor = getattr(keras.applications, name)
    try:
        with _network_timeout(DOWNLOAD_TIMEOUT):  # urlretrieve has no timeout of its own
            model = constructor(include_top=False, weights=weights, **kwargs)
    except Exception as e:  # keras.utils.get_file wraps every network failure in a bare Exception
        reason = _first_line(e)
        if "URL fetch failure" in reason or isinstance(e, (urllib.error.URLError, socket.timeout)):
            url = re.search(r"URL fetch failure on (\S+?):? ", reason + " ")
            raise _unavailable(name, url.group(1).rsplit("/", 1)[-1] if url else "its weights file", reason) from None
        if weights not in (None, "imagenet") and isinstance(e, (ValueError, OSError, KeyError)):
            raise PretrainedWeightsError(f"{weights} does not fit {name}: {reason}") from None
        raise
    return avoid_strided_pointwise(model)


def feature_maps(encoder: keras.Model, layer_names) -> list:
    """The output tensors of the encoder's layers named `layer_names`, in that order."""
    return [encoder.get_layer(layer_name).output for layer_name in layer_names]


def _fetch_imagenet(name: str) -> str:
    """The cached ImageNet file of `name`, downloading it (with a timeout) when absent."""
    folder, file_name, hash_key = ENCODERS[name]
    try:
        with _network_timeout(DOWNLOAD_TIMEOUT):
            return keras.utils.get_file(
                file_name, folder + file_name, cache_subdir="models", file_hash=_known_hash(name, hash_key)
            )
    except Exception as e:  # get_file wraps every network failure in a bare Exception
        raise _unavailable(name, file_name, _first_line(e)) from None


def _unavailable(name: str, file_name: str, reason: str) -> PretrainedWeightsError:
    return PretrainedWeightsError(
        f"the ImageNet weights of {name} are not in the Keras cache and cannot be downloaded ({reason}); "
        f"set weights = None to train from scratch, give the path of a local weights file, or put "
        f"{file_name} in {cache_folder()}"
    )


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


@contextlib.contextmanager
def _network_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _known_hash(name: str, hash_key: str):
    """The hash keras.applications checks its cached file against (None when it cannot be found)."""
    try:
        if name.startswith("EfficientNet"):
            from keras.src.applications.efficientnet import WEIGHTS_HASHES
        else:
            from keras.src.applications.resnet import WEIGHTS_HASHES
        return WEIGHTS_HASHES[hash_key][1]  # [1]: the include_top=False file
    except (ImportError, KeyError, IndexError):
        return None
