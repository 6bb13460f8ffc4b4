"""Tiled inference of `[tiledinfer] images_dir`: `4.tiled_infer` (see [tiledinfer] in docs/config.md;
docs/differences.md, TI1–TI8).

Usage: python TensorflowUNetTiledInferencer.py [CONFIG] [--print-config] [--quiet] [--debug]
(CONFIG defaults to ./train_eval_infer.config)

Writes `<[tiledinfer] output_dir>/<file name>` for every image, in the input's
format and at its size (`<stem>.png` class maps for `num_classes` > 1), and
overlays into `[tiledinfer] merged_dir` when it is set.
"""

import sys

from cli import run
from TensorflowUNetInferencer import TensorflowUNetInferencer
from TiledInferencer import TiledInferencer


class TensorflowUNetTiledInferencer(TensorflowUNetInferencer):
    """Runs the trained model of a config tile by tile over a folder of images.

    Args:
        config: a parsed `ConfigParser` or the path of a config file.
    """

    inferencer = TiledInferencer
    reads_volumes = False


def main(argv: list[str]) -> int:
    return run(lambda config: TensorflowUNetTiledInferencer(config).infer(), argv, "TensorflowUNetTiledInferencer.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
