"""Images per split of a dataset: a bar chart and a table (docs/differences.md, S3).

Usage: python DatasetStatistics.py DATASET_DIR

For each split folder of DATASET_DIR (sorted; plain files are ignored) the
bar `<split>/images` counts the image files of its sub-folders other than
`masks`. The chart is saved as `./<dataset name>_Statistics.png`; the table
also counts the volumes (patients) of each split, and warns when a volume
appears in more than one split (unless the names carry no volume ids).
"""

import os
import sys

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from atomic import atomic_path
from errors import DataError
from ImagePreprocessor import is_image_file
from volume_ids import grouping, volume_id


class DatasetStatistics:
    """Counts and plots the images of each split of a dataset folder."""

    def __init__(self, dataset_dir: str):
        if not os.path.isdir(dataset_dir):
            raise FileNotFoundError(f"{dataset_dir} does not exist")
        self.dataset_dir = dataset_dir
        self.name = os.path.basename(os.path.normpath(os.path.abspath(dataset_dir)))

    def count(self) -> dict[str, list[str]]:
        """split → image file names (outside `masks/`)."""
        splits = {}
        for split in sorted(os.listdir(self.dataset_dir)):
            folder = os.path.join(self.dataset_dir, split)
            if not os.path.isdir(folder):
                continue
            names = []
            for sub in sorted(os.listdir(folder)):
                path = os.path.join(folder, sub)
                if sub != "masks" and os.path.isdir(path):
                    names += [n for n in os.listdir(path) if is_image_file(n)]
            splits[split] = names
        return splits

    def plot(self, splits: dict[str, list[str]], output_dir: str = ".") -> str:
        figure = Figure()
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        labels = [f"{split}/images" for split in splits]
        counts = [len(names) for names in splits.values()]
        axes.bar(labels, counts)
        for x, count in enumerate(counts):
            axes.text(x, count, str(count), ha="center", va="bottom")
        axes.set_title(self.name)
        axes.set_ylabel("Number of Images")
        path = os.path.join(output_dir, f"{self.name}_Statistics.png")
        with atomic_path(path) as tmp:
            figure.savefig(tmp)
        return path

    def table(self, splits: dict[str, list[str]]) -> str:
        try:
            unit = grouping([n for names in splits.values() for n in names])
        except DataError as e:
            unit = f"WARNING: {e}"
        if unit != "volume":
            # No patients to count (2-D images, or names that mix conventions).
            lines = [f"{'split':<10}{'images':>8}"] + [f"{s:<10}{len(n):>8}" for s, n in splits.items()]
            lines.append(f"{'total':<10}{sum(map(len, splits.values())):>8}")
            note = "the file names carry no volume ids: every image is its own unit"
            return "\n".join(lines + [note if unit == "file" else unit])
        volumes = {split: {volume_id(n) for n in names} for split, names in splits.items()}
        lines = [f"{'split':<10}{'images':>8}{'volumes':>9}"]
        lines += [f"{split:<10}{len(names):>8}{len(volumes[split]):>9}" for split, names in splits.items()]
        lines.append(f"{'total':<10}{sum(map(len, splits.values())):>8}{len(set().union(*volumes.values())):>9}")
        shared = sorted(v for v in set().union(*volumes.values()) if sum(v in s for s in volumes.values()) > 1)
        if shared:
            lines.append(f"WARNING: {len(shared)} volumes are in more than one split (e.g. {shared[0]}): "
                         "the splits leak patients")
        return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: DatasetStatistics.py DATASET_DIR", file=sys.stderr)
        return 2
    try:
        statistics = DatasetStatistics(argv[0])
    except FileNotFoundError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    splits = statistics.count()
    print(statistics.table(splits))
    print(f"=== Saved {statistics.plot(splits)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
