"""Model names a config may give in `[model] model`, and how to build them.

Each name is a module of `src/` holding a class of the same name, imported
only when asked for, so that a model with heavy dependencies costs nothing
to the others. To add a model, write `src/<Name>.py` with class `<Name>`
(a `TensorflowModel` subclass) and add the name to MODELS.
"""

import difflib
import importlib

from ConfigParser import ConfigParser, load_config

MODELS = (
    "TensorflowUNet",
    "TensorflowAttentionUNet",
    "TensorflowDeepLabV3Plus",
    "TensorflowEfficientNetB7UNet",
    "TensorflowEfficientUNet",
    "TensorflowMultiResUNet",
    "TensorflowSharpUNet",
    "TensorflowSwinUNet",
    "TensorflowTransUNet",
    "TensorflowU2Net",
    "TensorflowUNet3Plus",
    "TensorflowXceptionLikeUNet",
    "TensorflowBASNet",
)

# The original's models not built here (none left; a name moved here gives a clear error).
NOT_YET_BUILT: tuple[str, ...] = ()


def model_class(config: ConfigParser):
    """The model class `[model] model` names.

    Raises:
        ConfigError: the name is unknown, or names a model not built yet.
    """
    name = config.get(ConfigParser.MODEL, "model")
    if name not in MODELS:
        if name in NOT_YET_BUILT:
            problem = "this model of the original is not available yet"
        else:
            close = difflib.get_close_matches(name, MODELS + NOT_YET_BUILT, n=1)
            problem = "unknown model" + (f"; did you mean '{close[0]}'?" if close else "")
        raise config.error(
            ConfigParser.MODEL, "model", f"{problem} (available: {', '.join(MODELS)})"
        )
    return getattr(importlib.import_module(name), name)


def check_model(config) -> None:
    """Checks the model name, loss and metrics of a config without building anything."""
    config = load_config(config)
    model_class(config).check(config)


def create_model(config, strategy=None, extra_metrics=()):
    """Builds and compiles the model a config describes; returns the builder.

    The builder's `.model` is the compiled `keras.Model`.
    """
    config = load_config(config)
    return model_class(config)(config, strategy=strategy, extra_metrics=extra_metrics)
