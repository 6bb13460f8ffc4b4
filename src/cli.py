"""What every entry point shares: argument handling, errors and exit codes.

`run(body, argv)` reads the config named on the command line (default
`./train_eval_infer.config`), calls `body(config)`, and turns a `UserError`
into one line on stderr and a non-zero exit. A traceback is shown only for
bugs, or for user errors when `--debug` is given or TFSEG_DEBUG=1 is set.

Flags, in any position: `--print-config` prints every key the run would
read, with its value and source, and exits; `--quiet` hides the line printed
for each key that takes its default; `--debug` as above.
"""

import os
import sys
import traceback
import warnings
from typing import Callable

import resolved_config
from ConfigParser import ConfigParser
from errors import ToolkitWarning, UserError

DEFAULT_CONFIG = "./train_eval_infer.config"
FLAGS = ("--print-config", "--quiet", "--debug")
USAGE_EXIT = 2
OUT_OF_MEMORY = (
    "out of memory: reduce [train] batch_size (or [eval] batch_size), the image size, "
    "base_filters or num_layers"
)


def run(body: Callable[[ConfigParser], None], argv: list[str], prog: str) -> int:
    """Runs one step of the workflow and returns its exit code."""
    debug = "--debug" in argv or os.environ.get("TFSEG_DEBUG", "") not in ("", "0")
    args = [a for a in argv if a not in FLAGS]
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print(f"usage: {prog} [CONFIG] {' '.join(f'[{f}]' for f in FLAGS)}  (default {DEFAULT_CONFIG})",
              file=sys.stderr)
        return USAGE_EXIT
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            config = ConfigParser(args[0] if args else DEFAULT_CONFIG)
            if "--print-config" in argv:
                print("\n".join(resolved_config.lines(config)))
                return 0
            if "--quiet" not in argv:
                config.on_default = say_default
            body(config)
        except UserError as e:
            return _fail(e, e.exit_code, debug)
        except OSError as e:  # a full disk, a read-only folder: the message names the file
            return _fail(e, 1, debug)
        except KeyboardInterrupt:
            print("\nInterrupted.", file=sys.stderr)
            return 130
        except Exception as e:
            if type(e).__name__ == "ResourceExhaustedError":  # TensorFlow's out of memory
                return _fail(OUT_OF_MEMORY, 1, debug)
            raise
    return 0


def say_default(section: str, key: str, value) -> None:
    # The original's "=== WARNING: Not found [section] key, return default value v", short.
    print(f"-- default [{section}] {key} = {value!r}")


def _fail(error: Exception, code: int, debug: bool) -> int:
    sys.stdout.flush()
    if debug:
        traceback.print_exc()
    print(f"ERROR: {error}", file=sys.stderr)
    return code


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, ToolkitWarning):
        print(f"WARNING: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")
