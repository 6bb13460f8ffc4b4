"""Predicts masks for `[infer] images_dir`: `3.infer` (see [infer] in docs/config.md; docs/differences.md, I2–I10).

Usage: python TensorflowUNetInferencer.py [CONFIG] [--print-config] [--quiet] [--debug]
(CONFIG defaults to ./train_eval_infer.config)

Writes `<[infer] output_dir>/<stem>.jpg` for every image (`<stem>.png` class
maps for `num_classes` > 1), at the image's own size, overlays into
`[infer] merged_dir` when it is set, and pictures in class colours into
`[infer] colorized_dir` with `mask_colorize = True`. With `[infer] volumes_dir`
it also writes `<output_dir>/<name>_mask.nii.gz` for every NIfTI volume there
(VolumeInferencer.py); `images_dir` may then be left unset.
"""

import sys

from cli import run
from ConfigParser import ConfigParser, load_config
from Inferencer import Inferencer
from ModelRegistry import create_model
from TensorflowModelLoader import load_best_weights
from VolumeInferencer import VolumeInferencer


class TensorflowUNetInferencer:
    """Runs the trained model of a config over a folder of images.

    Args:
        config: a parsed `ConfigParser` or the path of a config file.
    """

    inferencer = Inferencer  # TensorflowUNetTiledInferencer: TiledInferencer
    reads_volumes = True  # [infer] volumes_dir is 3.infer's: tiled inference has no volumes

    def __init__(self, config):
        self.config: ConfigParser = load_config(config)

    def infer(self) -> list[str]:
        """Writes the masks (3.infer: also those of `[infer] volumes_dir`); returns their paths."""
        model = create_model(self.config).model
        inferencer = self.inferencer(model, self.config)
        volumes = None
        if self.reads_volumes and self.config.get(ConfigParser.INFER, "volumes_dir") is not None:
            volumes = VolumeInferencer(inferencer, self.config)  # checks every volume before any work
        load_best_weights(model, self.config)
        written = []
        if inferencer.target.images_dir is not None:
            written = inferencer.infer()
            print(f"=== Wrote {len(written)} masks to {inferencer.output_dir}")
        if volumes is not None:
            masks = volumes.infer()
            print(f"=== Wrote {len(masks)} volume masks to {volumes.output_dir}")
            written += masks
        return written


def main(argv: list[str]) -> int:
    return run(lambda config: TensorflowUNetInferencer(config).infer(), argv, "TensorflowUNetInferencer.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
