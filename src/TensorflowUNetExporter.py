"""Exports the trained model of a config for serving: `export`.

Usage: python TensorflowUNetExporter.py [CONFIG] [--print-config] [--quiet] [--debug]
(CONFIG defaults to ./train_eval_infer.config)

Loads the best model of `[train] model_dir`, as `3.infer` does, and writes
`<model_dir>/export/`:

- `saved_model/`: a TensorFlow SavedModel, as Keras 3 `model.export` writes
  it but with the forward pass in inference mode (`export_saved_model`); its
  `serve` endpoint and `serving_default` signature take a float32
  (batch, image_height, image_width, image_channels) batch and return the
  model's output 0 (the one evaluation and inference read; BASNet has more);
  it loads without this toolkit (`tf.saved_model.load`, TensorFlow Serving).
- `<[model] model>.keras`: the same network as a Keras file (its custom
  layers need this toolkit's `src/` importable to load).
- `signature.json` and `README.txt`: what the input must hold (dtype, value
  range, channel order, preprocessing) and what the output means.
- `resolved_config.json`: a copy of the training run's, when it has one.

The folder is built as `<model_dir>/export.partial` and renamed into place
when complete; an earlier `export/` is moved to `export_<stamp>_bak` first.
"""

import json
import os
import shutil
import sys

import keras
import numpy as np
import tensorflow as tf

import config_schema
import resolved_config
from atomic import write_text
from cli import run
from ConfigParser import ConfigParser, load_config
from errors import DataError
from ImagePreprocessor import ImagePreprocessor
from ModelRegistry import create_model
from run_folders import backup_path, backup_stamp
from TensorflowModelLoader import load_best_weights
from version import __version__

EXPORT_DIR = "export"
SAVED_MODEL_DIR = "saved_model"
SIGNATURE_FILE = "signature.json"
README_FILE = "README.txt"
ENDPOINT = "serve"
INPUT_NAME = "inputs"
# The reloaded SavedModel must reproduce the model this closely (float32 sums in another order).
TOLERANCE = 1e-4


def serving_model(model: keras.Model) -> keras.Model:
    """The layers of `model` ending at output 0, uncompiled: what is exported.

    Without the optimizer and the compiled loss, the `.keras` file loads with
    no custom objects for them, and a multi-output model (BASNet) gives the
    one map inference uses.
    """
    return keras.Model(model.inputs, model.outputs[0], name=model.name)


def export_saved_model(model: keras.Model, path: str, spec: tf.TensorSpec) -> None:
    """`model.export(path, format="tf_saved_model")`, with the forward pass called with training=False.

    `model.export` calls the model without `training`; Keras then lets the
    first layer whose `training` defaults to True (Resizing, which BASNet's
    decoder uses) set training mode for every later layer, so that
    BatchNormalization normalised with each batch's statistics and updated
    its moving ones at every call of the SavedModel.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(ENDPOINT, lambda x: model(x, training=False), input_signature=[spec])
    archive.write_out(path, verbose=False)


def input_contract(config: ConfigParser, model: keras.Model) -> dict:
    """What a caller must feed the exported model, as `3.infer` feeds it."""
    preprocessor = ImagePreprocessor(config)
    if preprocessor.converter is not None:
        channels = f"{config.get(ConfigParser.IMAGE, 'color_converter')} of the BGR image"
    elif preprocessor.channels == 1:
        channels = "grey"
    else:
        channels = preprocessor.color_order.upper()
    interpolation = config.get(ConfigParser.DATASET, "resize_interpolation")
    return {
        "name": INPUT_NAME,
        "dtype": "float32",
        "shape": [None, preprocessor.height, preprocessor.width, preprocessor.channels],
        "range": [0.0, 1.0] if preprocessor.normalize else [0.0, 255.0],
        "channels": channels,
        "resize": f"to image_width x image_height with {interpolation}",
        # Informational: a model with its own Rescaling(1/255) still takes 0-255 values.
        "model_divides_by_255": any(
            isinstance(layer, keras.layers.Rescaling) and np.isclose(layer.scale, 1 / 255)
            for layer in model.layers
        ),
    }


def output_contract(model: keras.Model) -> dict:
    """The output's shape, and its activation when its layer names one."""
    output = model.outputs[0]
    operation = getattr(getattr(output, "_keras_history", None), "operation", None)
    try:
        activation = operation.get_config().get("activation")
    except (AttributeError, NotImplementedError):  # an op without a config
        activation = None
    num_classes = output.shape[-1]
    return {
        "dtype": "float32",
        "shape": list(output.shape),
        "activation": activation if isinstance(activation, str) else None,
        "meaning": (
            "per-pixel foreground probability" if num_classes == 1
            else f"per-pixel probabilities of classes 0..{num_classes - 1} (0 = background)"
        ),
    }


def preprocessing_keys(config: ConfigParser) -> dict:
    """Every key that changes what the model sees, as "[section] key": value."""
    values = resolved_config.resolve(config)
    return {
        f"[{section}] {key}": values[section][key]["value"]
        for section, keys in config_schema.resolved_keys(config.family).items()
        for key, entry in keys.items()
        if entry.sees and key in values.get(section, {})
    }


def readme_text(signature: dict) -> str:
    source, target = signature["input"], signature["output"]
    low, high = source["range"]
    model = signature["model"]
    return "\n".join([
        f"Exported {model} from {signature['weights']}.",
        "",
        f"{SAVED_MODEL_DIR}/, a TensorFlow SavedModel (TensorFlow only, no toolkit needed):",
        "    import tensorflow as tf",
        f"    model = tf.saved_model.load(\"{SAVED_MODEL_DIR}\")   # keep it referenced while calling it",
        f"    masks = model.{ENDPOINT}(batch)",
        f"    # TensorFlow Serving: signature \"serving_default\", input \"{source['name']}\", "
        f"output \"{target['name']}\"",
        "",
        f"{signature['keras_file']}, the same network for Keras (its layers need the toolkit's src/):",
        "    import sys; sys.path.insert(0, \"<toolkit>/src\")",
        f"    import keras, {model}",
        f"    model = keras.saving.load_model(\"{signature['keras_file']}\")",
        "    masks = model.predict(batch)   # or model(batch, training=False), never without training",
        "",
        f"Input: {source['dtype']} {source['shape']} (batch, height, width, channels),",
        f"values {low:g}-{high:g}, channels {source['channels']}, resized {source['resize']},",
        f"after the steps listed in {SIGNATURE_FILE} under \"preprocessing\": what 3.infer feeds the model.",
        f"Output: {target['dtype']} {target['shape']}, {target['meaning']}"
        + (f" ({target['activation']})." if target["activation"] else "."),
        "",
    ])


class TensorflowUNetExporter:
    """Writes the trained model of a config as a SavedModel and a `.keras` file.

    Args:
        config: a parsed `ConfigParser` or the path of a config file.
    """

    def __init__(self, config):
        self.config: ConfigParser = load_config(config)
        self.model_dir = self.config.get(ConfigParser.TRAIN, "model_dir")
        self.export_dir = os.path.join(self.model_dir, EXPORT_DIR)
        self.partial_dir = self.export_dir + ".partial"

    def export(self) -> str:
        """Writes `<model_dir>/export/` and returns its path.

        Raises:
            DataError: no trained model, or a foreign `export.partial` is in the way.
            ConfigError: `[train] model_dir` cannot be written.
        """
        model = create_model(self.config).model
        weights = load_best_weights(model, self.config)
        served = serving_model(model)
        self._clear_partial()
        try:
            signature = self._write(served, weights)
        except (OSError, tf.errors.OpError) as e:
            shutil.rmtree(self.partial_dir, ignore_errors=True)  # ours, half-written
            raise self._unwritable(e) from None
        try:
            self._swap_in()
        except OSError as e:
            raise self._unwritable(e) from None
        print(f"=== Exported {signature['model']} to {self.export_dir}")
        return self.export_dir

    # === Steps ===

    def _write(self, served: keras.Model, weights: str) -> dict:
        os.makedirs(self.partial_dir)
        saved_model = os.path.join(self.partial_dir, SAVED_MODEL_DIR)
        source = input_contract(self.config, served)
        spec = tf.TensorSpec(source["shape"], tf.float32, name=INPUT_NAME)
        export_saved_model(served, saved_model, spec)
        output_name = self._check_saved_model(served, saved_model, source)
        keras_file = self.config.get(ConfigParser.MODEL, "model") + ".keras"
        served.save(os.path.join(self.partial_dir, keras_file))
        signature = {
            "toolkit": __version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "model": self.config.get(ConfigParser.MODEL, "model"),
            "config": os.path.abspath(self.config.path),
            "weights": os.path.abspath(weights),
            "saved_model": SAVED_MODEL_DIR,
            "endpoint": ENDPOINT,
            "signature": "serving_default",
            "keras_file": keras_file,
            "input": source,
            "output": {"name": output_name, **output_contract(served)},
            "preprocessing": preprocessing_keys(self.config),
        }
        write_text(os.path.join(self.partial_dir, SIGNATURE_FILE),
                   json.dumps(signature, indent=2, default=repr) + "\n")
        write_text(os.path.join(self.partial_dir, README_FILE), readme_text(signature))
        trained = os.path.join(self.model_dir, resolved_config.FILE_NAME)
        if os.path.isfile(trained):
            shutil.copyfile(trained, os.path.join(self.partial_dir, resolved_config.FILE_NAME))
        return signature

    def _check_saved_model(self, served: keras.Model, path: str, source: dict) -> str:
        """Reloads the SavedModel, compares it with the model; returns the output's signature key."""
        high = source["range"][1]
        batch = np.random.default_rng(0).uniform(0, high, [1] + source["shape"][1:]).astype(np.float32)
        reloaded = tf.saved_model.load(path)
        outputs = reloaded.signatures["serving_default"](**{INPUT_NAME: tf.constant(batch)})
        (name, value), = outputs.items()
        difference = float(np.max(np.abs(value.numpy() - served.predict_on_batch(batch))))
        if not difference <= TOLERANCE:  # also NaN
            raise RuntimeError(f"the exported SavedModel differs from the model by {difference} (a bug)")
        return name

    def _clear_partial(self) -> None:
        """Removes an `export.partial` a killed export left; refuses anything else."""
        if not os.path.lexists(self.partial_dir):
            return
        ours = {SAVED_MODEL_DIR, SIGNATURE_FILE, README_FILE, resolved_config.FILE_NAME}
        names = set(os.listdir(self.partial_dir)) if os.path.isdir(self.partial_dir) else None
        if names is None or not all(n in ours or n.endswith(".keras") for n in names):
            raise DataError(f"{self.partial_dir} is in the way and was not written by an export; move it away")
        shutil.rmtree(self.partial_dir)
        print(f"=== Removed {self.partial_dir}, left by an export that did not finish")

    def _swap_in(self) -> None:
        """Moves an earlier export aside and renames the new one into place."""
        backup = None
        if os.path.isdir(self.export_dir) and not os.path.islink(self.export_dir) \
                and not os.listdir(self.export_dir):
            os.rmdir(self.export_dir)  # empty: Windows cannot rename over it
        elif os.path.lexists(self.export_dir):
            backup = backup_path(self.export_dir, backup_stamp())
            os.replace(self.export_dir, backup)
            print(f"=== Moved the earlier {self.export_dir} to {backup}")
        try:
            os.replace(self.partial_dir, self.export_dir)
        except OSError:
            if backup:
                os.replace(backup, self.export_dir)
            raise

    def _unwritable(self, error: Exception):
        problem = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
        where = getattr(error, "filename", None) or self.partial_dir
        return self.config.error(ConfigParser.TRAIN, "model_dir", f"cannot write {where}: {problem}")


def main(argv: list[str]) -> int:
    return run(lambda config: TensorflowUNetExporter(config).export(), argv, "TensorflowUNetExporter.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
