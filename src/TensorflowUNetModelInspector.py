"""Writes the model a config describes as text and as a picture.

Usage: python TensorflowUNetModelInspector.py [CONFIG] [--print-config] [--quiet] [--debug]
(CONFIG defaults to ./train_eval_infer.config)

Builds the `[model]` network (no data is read, no weights are loaded) and
writes `[inspect] summary` (default ./summary.txt), the Keras model summary,
and `[inspect] model_graph` (default ./model.png), the layer graph with
shapes. The picture needs Graphviz's `dot` program; without it only the
summary is written and a line says how to install Graphviz.
"""

import contextlib
import os
import shutil
import sys

import keras

from atomic import atomic_path, write_text
from cli import run
from ConfigParser import ConfigParser, load_config
from ModelRegistry import create_model

GRAPHVIZ_HELP = (
    "apt install graphviz / brew install graphviz / conda install graphviz, "
    "or https://graphviz.org/download/"
)


class TensorflowUNetModelInspector:
    """Writes the summary and the graph of the model of a config.

    Args:
        config: a parsed `ConfigParser` or the path of a config file.
    """

    def __init__(self, config):
        self.config: ConfigParser = load_config(config)
        self.summary_path = self.config.get(ConfigParser.INSPECT, "summary")
        self.graph_path = self.config.get(ConfigParser.INSPECT, "model_graph")

    def inspect(self) -> list[str]:
        """Writes the files and returns the paths written."""
        model = create_model(self.config).model
        written = [self.write_summary(model)]
        graph = self.write_graph(model)
        if graph:
            written.append(graph)
        return written

    def write_summary(self, model: keras.Model) -> str:
        lines: list[str] = []
        with _wide_console():
            model.summary(print_fn=lambda text, *args, **kwargs: lines.append(text))
        _make_parent(self.summary_path)
        write_text(self.summary_path, "\n".join(lines).rstrip("\n") + "\n")
        print(f"=== Saved {self.summary_path}")
        return self.summary_path

    def write_graph(self, model: keras.Model) -> str | None:
        """Writes the graph picture; None (and a line saying why) without Graphviz."""
        path = self.graph_path
        problem = None
        if shutil.which("dot") is None:
            problem = "Graphviz's dot program was not found"
        else:
            _make_parent(path)
            try:
                with atomic_path(path) as tmp:
                    keras.utils.plot_model(model, to_file=tmp, show_shapes=True)
                    if not os.path.exists(tmp):  # Keras only prints why in a notebook
                        raise ImportError("plot_model wrote nothing")
            # ImportError: no pydot; OSError: dot cannot run; AssertionError:
            # pydot's report of a dot that failed (a broken Graphviz install).
            except (ImportError, OSError, AssertionError) as e:
                problem = f"Graphviz could not draw it ({_one_line(e)})"
        if problem:
            print(f"=== Skipped {path}: {problem}; to draw it install Graphviz: {GRAPHVIZ_HELP}")
            return None
        print(f"=== Saved {path}")
        return path


@contextlib.contextmanager
def _wide_console():
    """Keras fits the summary table to the terminal; a file gets its full width."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def _make_parent(path: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)


def _one_line(error: Exception, limit: int = 300) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: list[str]) -> int:
    return run(lambda config: TensorflowUNetModelInspector(config).inspect(), argv,
               "TensorflowUNetModelInspector.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
