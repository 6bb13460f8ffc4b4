"""Every family builds without TensorFlow: under Keras's numpy backend, with `import tensorflow` blocked.

Two checks. The import closure of the model modules imports TensorFlow at no
module's top level (read from the source, always runs). And every registered
family, at the small size of its own test module, builds in a subprocess
(so that the blocked import stays there) with the parameter count the
tensorflow backend gives. Keras's numpy backend computes convolutions with
jax.lax, so that subprocess needs jax: it runs under `$BACKEND_FREE_PYTHON`
(an interpreter with keras, numpy and jax, e.g. a venv without TensorFlow),
by default this one, and skips, saying so, where that has no jax.
"""

import ast
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO
from test_model_zoo import build, small_section

from ModelRegistry import MODELS

SRC = os.path.join(REPO, "src")
ROOTS = ("TensorflowModel", "ModelRegistry", "losses", "ConfigParser", *MODELS)

# Run as `python -c`: blocks TensorFlow before anything imports it, builds each
# [model] section read from stdin, prints {name: count or error} as JSON.
BUILD_ALL = r"""
import importlib.util, json, os, sys, traceback
if importlib.util.find_spec("jax") is None:
    sys.exit(3)  # Keras's numpy backend needs jax (keras/src/backend/numpy/nn.py)
sys.modules["tensorflow"] = None
os.environ["KERAS_BACKEND"] = "numpy"
import keras
from ConfigParser import ConfigParser
from ModelRegistry import create_model
assert keras.backend.backend() == "numpy"
counts = {}
for name, section in json.load(sys.stdin).items():
    text = "[model]\n" + "".join(f"{key} = {value!r}\n" for key, value in section.items())
    try:
        counts[name] = create_model(ConfigParser.from_string(text)).model.count_params()
    except Exception:
        counts[name] = traceback.format_exc(limit=-3)
print(json.dumps(counts))
"""


def _module_file(name: str) -> str | None:
    """The file of src/ module `name` (dotted), None for a module outside src/."""
    base = os.path.join(SRC, *name.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def _top_level_imports(tree: ast.Module):
    """Module names imported at import time: not in functions, classes or `if TYPE_CHECKING:`."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)  # `from blocks import encoders`
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                pending += node.body + node.orelse
        elif isinstance(node, (ast.Try, ast.With)):
            pending += node.body + getattr(node, "handlers", []) + getattr(node, "orelse", [])
            pending += getattr(node, "finalbody", [])
        elif isinstance(node, ast.ExceptHandler):
            pending += node.body


def test_no_model_module_imports_tensorflow_at_import_time():
    seen, pending, offenders = set(), list(ROOTS), []
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        if "." in name:  # a package's __init__ runs first
            pending.append(name.rsplit(".", 1)[0])
        with open(path) as f:
            imported = list(_top_level_imports(ast.parse(f.read(), path)))
        offenders += [f"{os.path.relpath(path, REPO)}: {m}" for m in imported if m.split(".")[0] == "tensorflow"]
        pending += imported
    assert len(seen) > len(ROOTS)  # the walk followed imports into blocks/ and config_schema/
    assert offenders == []


def test_every_family_builds_under_the_numpy_backend_without_tensorflow():
    sections = {name: small_section(name) for name in MODELS}
    python = os.environ.get("BACKEND_FREE_PYTHON", sys.executable)
    env = {**os.environ, "PYTHONPATH": SRC, "KERAS_BACKEND": "numpy"}
    run = subprocess.run([python, "-c", BUILD_ALL], input=json.dumps(sections), env=env,
                         capture_output=True, text=True, timeout=300)
    if run.returncode == 3:
        pytest.skip(f"{python} has no jax, which Keras's numpy backend needs; set BACKEND_FREE_PYTHON "
                    "to an interpreter with keras and jax")
    assert run.returncode == 0, run.stderr[-3000:]
    built = json.loads(run.stdout.splitlines()[-1])
    failed = {name: value for name, value in built.items() if isinstance(value, str)}
    assert failed == {}, "\n".join(f"{name}:\n{error}" for name, error in failed.items())
    # The same configs under this process's tensorflow backend.
    assert built == {name: build(name).model.count_params() for name in MODELS}
