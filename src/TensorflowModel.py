"""Base of every model: reads `[model]`, builds the network, compiles it.

Subclasses implement `create()`, which returns an uncompiled `keras.Model`;
this class adds the optimizer, loss and metrics named in the config and
compiles, all inside a `tf.distribute` strategy scope so that the same code
runs on one device or several.

TensorFlow is imported only for that scope, under the tensorflow backend:
on any other Keras backend (jax, torch, numpy) every family builds without
TensorFlow installed.
"""

import contextlib
from typing import TYPE_CHECKING

import keras

import losses
from ConfigParser import ConfigParser, load_config

if TYPE_CHECKING:
    import tensorflow as tf

# Activation names a config may give (Keras identifiers). The original also
# accepted the "tf.keras.activations.<name>" spelling, which is stripped.
ACTIVATIONS = (
    "relu",
    "mish",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "leaky_relu",
    "relu6",
    "tanh",
    "sigmoid",
    "softmax",
    "softplus",
    "linear",
)
_ACTIVATION_PREFIXES = ("tf.keras.activations.", "keras.activations.", "tf.nn.")


def first_output(model: keras.Model) -> keras.Model:
    """The model itself, or for a multi-output model (BASNet) the same layers ending at output 0.

    Evaluation and inference read output 0; the layers are shared, so the
    view follows the model's weights as training changes them.
    """
    if len(getattr(model, "outputs", None) or [None]) == 1:  # also any object with a predict method
        return model
    return keras.Model(model.inputs, model.outputs[0], name=f"{model.name}_output0")


def default_strategy():
    """TensorFlow's current strategy under the tensorflow backend; None (no scope) under any other."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf  # only here, so that other backends need no TensorFlow

    return tf.distribute.get_strategy()


class TensorflowModel:
    """Builds and compiles the network a config describes.

    Args:
        config: a parsed `ConfigParser` or the path of a config file. Only
            `[model]` keys are read: no data folder has to exist.
        strategy: the `tf.distribute.Strategy` to build under; defaults to
            the current (default) strategy under the tensorflow backend, and
            to none (no scope) under any other.
        extra_metrics: metric functions compiled after `[model] metrics`
            (the evaluator's per-class Dice).

    Attributes:
        model: the compiled `keras.Model`.
    """

    def __init__(self, config, strategy: "tf.distribute.Strategy | None" = None, extra_metrics=()):
        self.config: ConfigParser = load_config(config)
        self.strategy = strategy or default_strategy()
        self.extra_metrics = list(extra_metrics)
        with self.scope():
            loss = self.create_loss()  # checked before a large model is built
            self.model = self.create()
            self.model.compile(
                optimizer=self.create_optimizer(),
                loss=loss,
                metrics=self.create_metrics() + list(extra_metrics),
                jit_compile=self.jit_compile(),
            )
        if self.config.get(ConfigParser.MODEL, "show_summary"):
            self.model.summary()

    def evaluation_model(self) -> keras.Model:
        """The model `2.evaluate` scores: itself, or output 0 compiled with the same loss and metrics."""
        if len(self.model.outputs) == 1:
            return self.model
        with self.scope():
            view = first_output(self.model)
            view.compile(
                loss=self.create_loss(), metrics=self.create_metrics() + self.extra_metrics,
                jit_compile=self.jit_compile(),
            )
        return view

    def scope(self):
        """The strategy's scope; a no-op context without a strategy (backends other than tensorflow)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def jit_compile(self) -> bool | str:
        """`[train] jit_compile` under TensorFlow (False passed explicitly: Keras's default "auto" turns
        XLA on whenever TensorFlow sees a GPU); elsewhere "auto", because under jax False would mean
        eager, uncompiled steps, not "no XLA"."""
        if keras.backend.backend() != "tensorflow":
            return "auto"
        return bool(self.config.get(ConfigParser.TRAIN, "jit_compile"))

    @classmethod
    def check(cls, config) -> None:
        """Checks the loss and metrics a config names, without building the model.

        Raises:
            ConfigError: as building would, but in a moment.
        """
        builder = cls.__new__(cls)
        builder.config = load_config(config)
        builder.create_loss()
        builder.create_metrics()

    def create(self) -> keras.Model:
        raise NotImplementedError

    def check_divisible(self, height: int, width: int, divisor: int, why: str) -> None:
        """A ConfigError naming image_width or image_height when it is not a multiple of `divisor`."""
        for key, size in (("image_width", width), ("image_height", height)):
            if size % divisor:
                raise self.config.error(
                    ConfigParser.MODEL, key,
                    f"{type(self).__name__} needs image_width and image_height divisible by {divisor} "
                    f"({why}); they are {width} and {height}",
                )

    def check_pretrained_channels(self, channels: int, weights, encoder: str) -> None:
        """A ConfigError naming image_channels when pretrained weights meet other than 3 channels."""
        if weights is not None and self._zscored():
            raise self.config.error(
                ConfigParser.IMAGE, "normalize",
                f"pretrained {encoder} weights expect 0-255 images, not z-scored ones; use normalize = "
                '"none", or [model] weights = None',
            )
        if weights is not None and channels != 3:
            raise self.config.error(
                ConfigParser.MODEL, "image_channels",
                f"pretrained {encoder} weights take 3 channels; use image_channels = 3, or weights = None",
            )

    def scales_input(self, wanted: bool = True) -> bool:
        """Whether the model's first layer is to divide by 255: `wanted` (input_normalize, or a family's
        built-in scaling), unless `[image] normalize = "zscore"` already standardises each image."""
        if wanted and self._zscored():
            print(f"--- [image] normalize = \"zscore\": {type(self).__name__} does not divide its input by 255 "
                  "([model] input_normalize or the family's own scaling is not applied)")
            return False
        return bool(wanted)

    def _zscored(self) -> bool:
        """`[image] normalize = "zscore"`: each image reaches the model standardised."""
        return self.config.get(ConfigParser.IMAGE, "normalize") == "zscore"

    def model_key(self, key: str):
        """`[model] key` (its default when unset; a ConfigError when it is required)."""
        return self.config.get(ConfigParser.MODEL, key)

    def activation(self, key: str = "activation") -> str:
        """The Keras name of the activation `[model] key` gives (None: the default, as the original)."""
        name = self.model_key(key) or self.config.default(ConfigParser.MODEL, key)
        for prefix in _ACTIVATION_PREFIXES:
            name = name.removeprefix(prefix)
        if name not in ACTIVATIONS:
            raise self.config.error(
                ConfigParser.MODEL, key, f"expected one of {', '.join(ACTIVATIONS)}"
            )
        return name

    @property
    def num_classes(self) -> int:
        return self.model_key("num_classes")

    def final_activation(self) -> str:
        """`[model] final_activation`; unset: sigmoid for one class, softmax for N > 1."""
        return self.activation("final_activation")

    def create_optimizer(self) -> keras.optimizers.Optimizer:
        name = self.model_key("optimizer")
        learning_rate = self.model_key("learning_rate")
        clipvalue = self.model_key("clipvalue")  # None: no clipping
        if name == "AdamW":
            return keras.optimizers.AdamW(learning_rate, clipvalue=clipvalue)
        return keras.optimizers.Adam(
            learning_rate, beta_1=0.9, beta_2=0.999, clipvalue=clipvalue
        )

    def create_loss(self):
        """The `[model] loss` function, checked against the output it will train.

        One class takes binary losses; N classes with softmax take the
        categorical ones; N classes with an explicit sigmoid (multi-label)
        take binary losses per channel.
        """
        name = self.model_key("loss")
        function = self._function("loss", name)
        categorical = name in losses.CATEGORICAL
        classes = self.num_classes
        if classes == 1 and categorical:
            problem = "a categorical loss needs [model] num_classes > 1 (classes including the background)"
        elif classes > 1 and self.final_activation() == "softmax" and not categorical:
            problem = (f"a binary loss for a softmax output over {classes} classes: use one of "
                       f"{', '.join(losses.CATEGORICAL)}, or final_activation = \"sigmoid\" for "
                       "per-channel (multi-label) binary losses")
        elif classes > 1 and categorical and self.final_activation() != "softmax":
            problem = "categorical losses need a softmax output: leave [model] final_activation unset"
        else:
            return function
        raise self.config.error(ConfigParser.MODEL, "loss", problem)

    def create_metrics(self) -> list:
        names = self.model_key("metrics")
        return [self._function("metrics", name) for name in names]

    def _function(self, key: str, name: str):
        try:
            return losses.get(name)
        except KeyError as e:
            raise self.config.error(ConfigParser.MODEL, key, f"{name!r}: {e.args[0]}")
