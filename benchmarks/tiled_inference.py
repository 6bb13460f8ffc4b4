"""Peak memory and time of tiled inference (`4.tiled_infer`) of one large image.

For each --sizes S, writes an S×S RGB PNG (a smooth gradient with a bright
disc and mild noise) and runs TiledInferencer over it in a fresh process, so
that each peak RSS is that size's own: a registry TensorflowUNet at
--model-size px (random weights), or with --model pointwise a fixed 1×1
convolution, windows of split_size + 2·overlapping = model size, the
whole-image pass of bitwise_blending on, and --blending. Prints a Markdown
table: the image's own bytes (S·S·3), peak RSS, seconds of `infer()` (model
built, TensorFlow imported), and windows.

Usage:
    python benchmarks/tiled_inference.py [--sizes 1024 4096 8192] [--model-size 256] [--model unet|pointwise]
    python benchmarks/tiled_inference.py --child 8192 --model pointwise --model-size 128   # one JSON line
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POINTWISE = ((0.012, -0.008, 0.01), -0.5)  # 1×1 conv weights (r, g, b) and bias: soft, unsaturated outputs


def write_image(path: str, size: int) -> None:
    """A smooth S×S RGB PNG (compresses well, so the file read adds little to memory)."""
    import cv2
    import numpy as np

    ramp = np.linspace(40, 120, size, dtype=np.float32)
    image = np.empty((size, size, 3), np.uint8)
    image[..., 0] = ramp[np.newaxis, :]
    image[..., 1] = ramp[:, np.newaxis]
    image[..., 2] = 60
    cv2.circle(image, (size // 2, size // 3), size // 5, (200, 210, 190), -1)
    image[::7, ::5] += 9  # a sparse pattern, not flat colour
    cv2.imwrite(path, image)


def config_text(folder: str, args) -> str:
    model = {"unet": 'model = "TensorflowUNet"\nbase_filters = 8\nnum_layers = 5\n'
                     'dropout_rate = 0.05\nlearning_rate = 0.001\nloss = "bce_dice_loss"\nmetrics = ["dice_coef"]\n',
             "pointwise": 'model = "TensorflowUNet"\nnum_layers = 3\n'}[args.model]
    return (
        f"[model]\n{model}image_width = {args.model_size}\nimage_height = {args.model_size}\n"
        f"image_channels = 3\nnum_classes = 1\n\n"
        f"[tiledinfer]\nimages_dir = {os.path.join(folder, 'images')!r}\n"
        f"output_dir = {os.path.join(folder, 'out')!r}\n"
        f"split_size = {args.model_size - 2 * args.overlapping}\noverlapping = {args.overlapping}\n"
        f"blending = {args.blending!r}\nbitwise_blending = True\n"
        + (f"merged_dir = {os.path.join(folder, 'merged')!r}\n" if args.merged else "")
    )


def pointwise_model(size: int):
    """Input → Conv2D(1, 1) with POINTWISE's fixed weights → sigmoid."""
    import keras
    import numpy as np

    inputs = keras.Input((size, size, 3))
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inputs, conv(inputs))
    weights, bias = POINTWISE
    conv.set_weights([np.array(weights, np.float32).reshape(1, 1, 3, 1), np.array([bias], np.float32)])
    return model


def child(args) -> None:
    """Runs in the fresh process: one tiled inference, then one JSON line of figures."""
    sys.path.insert(0, os.path.join(REPO, "src"))
    from ConfigParser import ConfigParser
    from ModelRegistry import create_model
    from TiledInferencer import TiledInferencer, tiled_target

    config = ConfigParser.from_string(config_text(args.folder, args), "tiled_benchmark.config")
    model = pointwise_model(args.model_size) if args.model == "pointwise" else create_model(config).model
    inferencer = TiledInferencer(model, config, tiled_target(config).quiet())
    started = time.perf_counter()
    written = inferencer.infer()
    seconds = time.perf_counter() - started
    from peak_memory import peak_rss_mib

    peak_mib = peak_rss_mib()
    from PIL import Image

    windows = len(range(0, args.child, inferencer.split)) ** 2
    sizes = [list(Image.open(path).size) for path in written]  # reads the header only
    print(json.dumps({"size": args.child, "peak_rss_mib": peak_mib, "seconds": seconds,
                      "windows": windows, "output_sizes": sizes}))


def measure(size: int, args) -> dict:
    """One size, in its own process."""
    with tempfile.TemporaryDirectory() as folder:
        os.makedirs(os.path.join(folder, "images"))
        for i in range(args.count):
            write_image(os.path.join(folder, "images", f"{size}_{i}.png"), size)
        command = [sys.executable, os.path.abspath(__file__), "--child", str(size), "--folder", folder,
                   "--model", args.model, "--model-size", str(args.model_size),
                   "--overlapping", str(args.overlapping), "--blending", args.blending,
                   "--count", str(args.count)]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run(command + (["--merged"] if args.merged else []), capture_output=True,
                                text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(result.stdout[-2000:] + result.stderr[-2000:])
        return json.loads(result.stdout.strip().splitlines()[-1])


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 8192])
    parser.add_argument("--model", choices=("unet", "pointwise"), default="unet")
    parser.add_argument("--model-size", type=int, default=256)
    parser.add_argument("--overlapping", type=int, default=16)
    parser.add_argument("--blending", choices=("paste", "gaussian"), default="gaussian")
    parser.add_argument("--count", type=int, default=1, help="images of each size in the folder")
    parser.add_argument("--merged", action="store_true", help="also write [tiledinfer] merged_dir overlays")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    if args.child:
        child(args)
        return 0
    split = args.model_size - 2 * args.overlapping
    print(f"{args.model} model at {args.model_size} px, split_size {split}, overlapping {args.overlapping}, "
          f"{args.blending} blending, bitwise_blending on{', merged_dir' if args.merged else ''}; "
          f"{os.cpu_count()} CPUs\n")
    print(f"{args.count} image(s) of each size in the folder\n" if args.count > 1 else "", end="")
    print("| image | image bytes (MiB) | peak RSS (MiB) | seconds | windows |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        figures = measure(size, args)
        print(f"| {size}×{size} | {size * size * 3 / 2**20:.0f} | {figures['peak_rss_mib']:.0f} | "
              f"{figures['seconds']:.1f} | {figures['windows']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
