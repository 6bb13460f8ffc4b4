"""Line plot of a training CSV, as the original draws it: 8×6 inches, column 1
green and column 2 red, both dashed with circle markers, titled with the file
name before its first ".", grid on, legend at the upper left.

Row 0 gives the x label (column 0) and the labels of the two series
(columns 1 and 2, kept verbatim); later rows give the values. The plot is
saved next to the CSV with `.csv` replaced by `.png`.

Usage: python LineGraph.py eval/train_losses.csv
"""

import csv
import os
import sys

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from atomic import atomic_path


class LineGraph:
    """Draws `train_losses.csv`/`train_metrics.csv` style files."""

    def plot(self, csv_path: str) -> str:
        """Writes `<csv without .csv>.png` and returns its path."""
        with open(csv_path, newline="") as f:
            rows = [row for row in csv.reader(f) if row]
        header, values = rows[0], [[float(v) for v in row[:3]] for row in rows[1:]]
        # The object API, not pyplot: no global figure state, no GUI backend.
        figure = Figure(figsize=(8, 6))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        x = [row[0] for row in values]
        axes.plot(x, [row[1] for row in values], "o--", color="green", label=header[1])
        axes.plot(x, [row[2] for row in values], "o--", color="red", label=header[2])
        axes.set_title(os.path.basename(csv_path).split(".")[0], fontsize=20)
        axes.set_xlabel(header[0])
        axes.set_ylabel(header[1])
        axes.grid(True)
        axes.legend(loc="upper left", frameon=True)
        png_path = csv_path[: -len(".csv")] + ".png" if csv_path.endswith(".csv") else csv_path + ".png"
        with atomic_path(png_path) as tmp:
            figure.savefig(tmp)
        return png_path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: LineGraph.py CSV_FILE", file=sys.stderr)
        return 2
    try:
        print(f"=== Saved {LineGraph().plot(argv[0])}")
    except (OSError, ValueError, IndexError) as e:
        print(f"ERROR: {argv[0]}: cannot plot ({e})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
