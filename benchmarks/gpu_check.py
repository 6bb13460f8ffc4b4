"""GPU check: training speed, peak memory and NaNs per model family and dtype policy, under JAX, no TensorFlow.

For a GPU machine with JAX (and PyTorch) but no TensorFlow. From the repository root:

    KERAS_BACKEND=jax python benchmarks/gpu_check.py            # 3 families x 3 policies at 512 px
    KERAS_BACKEND=jax python benchmarks/gpu_check.py --quick    # tiny models; about a minute on a CPU
    KERAS_BACKEND=jax python benchmarks/gpu_check.py --families TensorflowUNet --policies mixed_bfloat16 --batch 4

Each model is built by the toolkit's own ModelRegistry / TensorflowModel from the `[model]` section of
`projects/<family>/Pancreas-T1/train_eval_infer.config` (TensorflowUNet: the SlightlyFlexibleUNet one), at
--size px, with pretrained weights off. Each (family, policy) runs in a subprocess of its own, so that its peak
memory is its own and an out-of-memory error ends only its row. It trains --warmup steps (compilation), then
--steps timed steps with `train_on_batch` on random images and random 0/1 masks, and prints one table row:
images/s from the median step, peak device memory (`memory_stats()["peak_bytes_in_use"]`), the final loss and
whether any loss was NaN. Needs keras >= 3.15, jax, numpy and h5py.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["KERAS_BACKEND"] = "jax"  # before keras is imported, here and in each row's subprocess
sys.modules["tensorflow"] = None  # proves the toolkit builds and trains without it
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "src"))

DEFAULT_FAMILIES = ("TensorflowUNet", "TensorflowAttentionUNet", "TensorflowSwinUNet")
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
PRETRAINED = {"TensorflowEfficientUNet", "TensorflowEfficientNetB7UNet", "TensorflowDeepLabV3Plus",
              "TensorflowTransUNet"}
# --quick: [model] overrides that make each default family small enough for a CPU.
QUICK = {
    "TensorflowUNet": {"num_layers": 4, "base_filters": 8, "base_kernels": (3, 3), "dilation": (1, 1)},
    "TensorflowAttentionUNet": {"num_layers": 3, "base_filters": 8},
    "TensorflowSwinUNet": {"filter_num_begin": 16, "depth": 2, "stack_num_up": 1, "num_heads": [2, 4],
                           "window_size": [4, 2], "num_mlp": 32},
}


def config_text(family: str, size: int, quick: bool) -> str:
    """INI text: the family's Pancreas-T1 [model] section at `size` px, and [train] jit_compile."""
    from ConfigParser import ConfigParser

    folder = "TensorflowSlightlyFlexibleUNet" if family == "TensorflowUNet" else family
    path = os.path.join(REPO, "projects", folder, "Pancreas-T1", "train_eval_infer.config")
    model = ConfigParser(path).to_dict()["model"]
    model.update(image_width=size, image_height=size, show_summary=False)
    if family in PRETRAINED:
        model["weights"] = None  # no download; the same graph
    if quick:
        model.update(QUICK.get(family, {}))
    lines = ["[model]"] + [f"{key} = {value!r}" for key, value in model.items()]
    # Under JAX, jit_compile = False would run every step eagerly, op by op: XLA is JAX's only compiler.
    return "\n".join(lines + ["", "[train]", "jit_compile = True", ""])


def peak_memory() -> str:
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return f"{peak / 2**30:.2f} GiB" if peak is not None else "n/a"


def run_row(family: str, policy: str, args) -> dict:
    """Builds the family under `policy`, trains, and returns its table row."""
    import keras
    import numpy as np

    from ConfigParser import ConfigParser
    from ModelRegistry import create_model

    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(policy)
    try:
        config = ConfigParser.from_string(config_text(family, args.size, args.quick), f"<{family}>")
        model = create_model(config).model
    finally:
        keras.config.set_dtype_policy("float32")
    channels = config.get(ConfigParser.MODEL, "image_channels")
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, args.size, args.size, channels), np.float32)
    y = (rng.random((args.batch, args.size, args.size, 1)) > 0.5).astype(np.float32)
    targets = y if len(model.outputs) == 1 else [y] * len(model.outputs)  # BASNet: one per side output

    def step() -> float:
        result = model.train_on_batch(x, targets)  # returns host floats: the step has finished
        return float(result[0] if isinstance(result, (list, tuple)) else result)

    losses = [step() for _ in range(args.warmup)]
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - start)
    return {"family": family, "policy": policy, "size": args.size, "batch": args.batch,
            "images/s": f"{args.batch / statistics.median(times):.1f}", "peak memory": peak_memory(),
            "final loss": f"{losses[-1]:.4f}", "NaN": "yes" if any(np.isnan(losses)) else "no",
            "params": model.count_params(), "header": header()}


def header() -> str:
    import jax
    import keras

    device = jax.devices()[0]
    return (f"keras {keras.__version__} (backend {keras.backend.backend()}), jax {jax.__version__}, "
            f"device {device.platform}: {device.device_kind} (x{jax.device_count()})")


def print_table(rows: list[dict]) -> None:
    columns = ["family", "policy", "size", "batch", "images/s", "peak memory", "final loss", "NaN", "params"]
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    for row in rows:
        if "error" in row:
            print(f"{row['family']} {row['policy']}: {row['error']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps after warm-up (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps, compilation included")
    parser.add_argument("--batch", type=int, default=2, help="images per step (default 2, Pancreas-T1's)")
    parser.add_argument("--size", type=int, default=512, help="image width and height (default 512)")
    parser.add_argument("--families", nargs="+", default=list(DEFAULT_FAMILIES))
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    parser.add_argument("--quick", action="store_true", help="64 px, small models, 3 steps: a CPU smoke test")
    parser.add_argument("--row", nargs=2, metavar=("FAMILY", "POLICY"), help=argparse.SUPPRESS)  # a subprocess
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.steps, args.warmup = 64, 3, 1
    if args.row:
        print("ROW " + json.dumps(run_row(*args.row, args)), flush=True)
        return 0
    # This process never touches the device: JAX would preallocate most of its memory for the whole run.
    passed = list(argv if argv is not None else sys.argv[1:])
    # Rows share one persistent XLA cache: rebuilding per policy repeats every initializer's compilation.
    cache = tempfile.mkdtemp(prefix="gpu_check_xla_")
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": cache, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    rows = []
    for family in args.families:
        for policy in args.policies:
            started = time.perf_counter()
            run = subprocess.run([sys.executable, os.path.abspath(__file__), *passed, "--row", family, policy],
                                 capture_output=True, text=True, env=env)
            found = [line[4:] for line in run.stdout.splitlines() if line.startswith("ROW ")]
            if found:
                rows.append(json.loads(found[-1]))
                if len([row for row in rows if "header" in row]) == 1:
                    print(rows[-1]["header"], flush=True)
            else:
                last = (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[-1]
                rows.append({"family": family, "policy": policy, "size": args.size, "batch": args.batch,
                             "error": last})
            print(f"  {family} {policy}: {time.perf_counter() - started:.0f} s", flush=True)
    shutil.rmtree(cache, ignore_errors=True)
    print_table(rows)
    return 0 if all("error" not in row for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
