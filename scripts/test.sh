#!/bin/sh
# Runs the test suite (`make test`); extra arguments go to pytest.
set -eu
cd "$(dirname "$0")/.."
sh scripts/env.sh
.venv/bin/python -c 'import pytest' 2>/dev/null || .venv/bin/python -m pip install --quiet 'pytest>=8,<10'
# Tests run in one process per core (see below): most of a test's time is one-threaded (TensorFlow's import,
# graph tracing, a subprocess's start), so two processes on 2 cores finish the suite sooner than one.
.venv/bin/python -c 'import xdist' 2>/dev/null || .venv/bin/python -m pip install --quiet 'pytest-xdist==3.8.0'
# The reference that tests/test_segmentation_metrics.py checks src/segmentation_metrics.py against.
.venv/bin/python -c 'import medpy' 2>/dev/null || .venv/bin/python -m pip install --quiet 'medpy==0.5.2'
# A second Keras backend, for tests/test_backend_free_models.py (every family builds without TensorFlow;
# Keras's numpy backend borrows jax's convolutions). It adds no other package.
.venv/bin/python -c 'import jax' 2>/dev/null || .venv/bin/python -m pip install --quiet 'jax[cpu]==0.10.2'
# The browser tests/test_evaluation_report.py renders the report with (skipped without one): as root, quietly.
command -v chromium >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
    apt-get install -y chromium >/dev/null 2>&1 || true; }
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# At most 4: each process runs TensorFlow on every core and holds its own copy of it.
processes="${TEST_PROCESSES:-$(nproc 2>/dev/null || echo 1)}"
[ "$processes" -gt 4 ] && processes=4
# --dist loadfile: a file's tests share one process, so a module's fixtures are built once.
# --durations: the slowest tests in every log, so that a test that grows shows in CI's.
exec .venv/bin/python -m pytest -n "$processes" --dist loadfile --durations=15 "$@"
