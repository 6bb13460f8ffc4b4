"""A grid of one image/mask pair under every augmentation a config enables,
to check the augmentation sections before a long run.

Usage:
    python AugmentationPreview.py [CONFIG] [--image IMAGE --mask MASK] [--output augmentations.png]
                                  [--print-config] [--quiet]

Without --image/--mask it uses the first training pair of `[train]`. Each
tile shows the augmented image with the augmented mask's outline in green
and the variant's name (its debug file-name prefix) above it; the first
tile is the original.
"""

import argparse
import math
import sys

import cv2
import numpy as np

import resolved_config
from atomic import write_image
from cli import say_default
from ConfigParser import ConfigParser
from errors import UserError
from ImageMaskAugmentor import ImageMaskAugmentor
from ImageMaskDataset import ImageMaskDataset

CAPTION = 18  # pixels above each tile


def tile(image: np.ndarray, mask: np.ndarray, caption: str) -> np.ndarray:
    """An RGB tile: the image, the mask's outline, and a caption."""
    picture = image if image.dtype == np.uint8 else np.clip(image * 255, 0, 255).astype(np.uint8)
    if picture.shape[-1] == 1:
        picture = np.repeat(picture, 3, axis=-1)
    picture = np.ascontiguousarray(picture)
    contours, _ = cv2.findContours(mask[..., 0].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(picture, contours, -1, (0, 255, 0), 1)
    canvas = np.zeros((picture.shape[0] + CAPTION, picture.shape[1], 3), np.uint8)
    canvas[CAPTION:] = picture
    cv2.putText(canvas, caption.rstrip("_") or "original", (2, CAPTION - 5), cv2.FONT_HERSHEY_SIMPLEX,
                0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def preview(config: ConfigParser, augmentor: ImageMaskAugmentor, image_path: str, mask_path: str,
            seed: int = 137) -> np.ndarray:
    """The grid as an RGB array."""
    image, mask = ImageMaskDataset(config).read_pair(image_path, mask_path, normalize=False)
    tiles = []
    for choice in range(augmentor.choices):
        augmented, augmented_mask, prefix = augmentor.augment(
            image, mask, choice, np.random.default_rng([seed, choice])
        )
        tiles.append(tile(augmented, augmented_mask, prefix))
    columns = min(6, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    height, width = tiles[0].shape[:2]
    grid = np.zeros((rows * height, columns * width, 3), np.uint8)
    for index, picture in enumerate(tiles):
        row, column = divmod(index, columns)
        grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = picture
    return grid


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Preview every augmentation a config enables.")
    parser.add_argument("config", nargs="?", default="./train_eval_infer.config")
    parser.add_argument("--image", help="an image file (default: the first training image)")
    parser.add_argument("--mask", help="its mask file")
    parser.add_argument("--output", default="./augmentations.png", help="PNG file to write")
    parser.add_argument("--print-config", action="store_true", help="print every key read, with its source, and exit")
    parser.add_argument("--quiet", action="store_true", help="no line per key that takes its default")
    args = parser.parse_args(argv)
    if bool(args.image) != bool(args.mask):
        parser.error("--image and --mask go together")
    try:
        config = ConfigParser(args.config)
        if args.print_config:
            print("\n".join(resolved_config.lines(config)))
            return 0
        if not args.quiet:
            config.on_default = say_default
        for key in ("image_width", "image_height"):
            config.require(ConfigParser.MODEL, key)
        pair = (args.image, args.mask) if args.image else ImageMaskDataset(config).pairs(ConfigParser.TRAIN)[0]
        augmentor = ImageMaskAugmentor(config)
        grid = preview(config, augmentor, *pair)
        write_image(args.output, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    except (UserError, OSError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    print(f"=== Saved {args.output}: {pair[0]} under {len(augmentor.variants)} augmentations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
