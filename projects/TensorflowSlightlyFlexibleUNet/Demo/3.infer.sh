#!/bin/sh
# 3.infer: predict masks for [infer] images_dir, as described by ./train_eval_infer.config.
# Runs from this folder. Python: $PYTHON, else the repository's .venv, else python3.
cd "$(dirname "$0")" || exit 1
root=../../..
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON=$root/.venv/bin/python; else PYTHON=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec "$PYTHON" "$root/src/TensorflowUNetInferencer.py" ./train_eval_infer.config "$@"
