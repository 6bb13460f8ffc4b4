"""Redraws the training curves of a run from its CSVs.

Usage: python LineGraphPlotter.py [CONFIG] [--print-config] [--quiet] [--debug]
(CONFIG defaults to ./train_eval_infer.config)

Reads `train_losses.csv` and `train_metrics.csv` in `[train] eval_dir` and
writes `train_losses.png` and `train_metrics.png` next to them, drawn as the
trainer draws them. It works during training too: the epochs finished so far
are drawn.
"""

import csv
import os
import sys

from cli import run
from ConfigParser import ConfigParser, load_config
from errors import DataError
from LineGraph import LineGraph

CURVES = ("train_losses", "train_metrics")


class LineGraphPlotter:
    """Draws the curves in the `eval_dir` of a config.

    Args:
        config: a parsed `ConfigParser` or the path of a config file.
    """

    def __init__(self, config):
        self.config: ConfigParser = load_config(config)
        self.eval_dir = self.config.require(ConfigParser.TRAIN, "eval_dir")

    def plot(self) -> list[str]:
        """Writes the PNGs whose CSV holds an epoch; returns their paths.

        Raises:
            DataError: a CSV is missing, holds no epoch yet or cannot be read
                (the other one is still drawn).
        """
        written, problems = [], []
        for name in CURVES:
            csv_path = os.path.join(self.eval_dir, name + ".csv")
            try:
                png_path = self.plot_one(csv_path)
            except DataError as e:
                problems.append(str(e))
                continue
            print(f"=== Saved {png_path}")
            written.append(png_path)
        if problems:
            raise DataError("; ".join(problems))
        return written

    def plot_one(self, csv_path: str) -> str:
        if not os.path.isfile(csv_path):
            raise DataError(f"{csv_path} not found: no training curves in [train] eval_dir "
                            f"{self.eval_dir!r} yet (train first)")
        with open(csv_path, newline="") as f:
            rows = [row for row in csv.reader(f) if row]
        if len(rows) < 2:
            raise DataError(f"{csv_path} holds no epoch yet (header only): "
                            "plot again after the first epoch")
        try:
            return LineGraph().plot(csv_path)
        except FileNotFoundError:  # a new run moved the folder aside meanwhile
            raise DataError(f"{csv_path} disappeared while it was read: plot again") from None
        except (ValueError, IndexError) as e:
            raise DataError(f"{csv_path}: not a training-curve CSV ({e})") from None


def main(argv: list[str]) -> int:
    return run(lambda config: LineGraphPlotter(config).plot(), argv, "LineGraphPlotter.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
