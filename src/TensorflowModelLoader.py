"""Loads the best checkpoint of a training run into a freshly built model.

Tries `<model_dir>/<[train] best_model_file>` (default `best_model.h5`),
then the same stem as `.weights.h5` and `.keras`, the names this toolkit
writes. Keras-2 `.h5` files written by the original, weights-only or full,
load by layer order, which TensorflowUNet keeps identical.
"""

import os

import keras

import resolved_config
from ConfigParser import ConfigParser
from errors import DataError


def weights_view(model: keras.Model) -> keras.Model:
    """The same layers without the optimizer: saves and loads weights alone.

    `save_weights` of a compiled model also stores the optimizer's variables
    (three times the weights' size for Adam), which a best-model file does
    not need; loading into a model whose optimizer is not built warns.
    """
    return keras.Model(model.inputs, model.outputs, name=model.name)


def candidates(config: ConfigParser) -> list[str]:
    """The checkpoint paths to try, in order."""
    model_dir = config.get(ConfigParser.TRAIN, "model_dir")
    name = (config.get(ConfigParser.TRAIN, "best_model_file")
            or config.default(ConfigParser.TRAIN, "best_model_file"))  # None: the default, as the original
    stem = name
    for suffix in (".weights.h5", ".h5", ".keras"):
        stem = stem.removesuffix(suffix)
    names = [name] + [stem + suffix for suffix in (".weights.h5", ".keras")]
    return [os.path.join(model_dir, n) for n in dict.fromkeys(names)]


def load_best_weights(model: keras.Model, config: ConfigParser) -> str:
    """Loads the first existing checkpoint into `model`; returns its path.

    Raises:
        DataError: no checkpoint exists, or it does not fit the model.
    """
    resolved_config.warn_if_trained_otherwise(config)
    paths = candidates(config)
    for path in paths:
        if os.path.isfile(path):
            try:
                weights_view(model).load_weights(path)
            except (ValueError, OSError, KeyError) as e:
                raise DataError(
                    f"{path} does not fit the model [model] describes "
                    f"(trained with another config?): {e}"
                ) from None
            print(f"=== Loaded weights from {path}")
            return path
    raise DataError(
        "no trained model found; tried " + ", ".join(paths) + " (run 1.train first)"
    )
