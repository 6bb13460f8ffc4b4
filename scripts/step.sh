#!/bin/sh
# Runs one toolkit script (src/<SCRIPT>) in the current project folder:
#   sh ../../../scripts/step.sh TensorflowUNetTrainer.py ./train_eval_infer.config [--debug]
# Python: $PYTHON, else the repository's .venv/bin/python when it exists, else python3.
root=$(cd "$(dirname "$0")/.." && pwd)
script=$1
shift
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON=$root/.venv/bin/python; else PYTHON=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec "$PYTHON" "$root/src/$script" "$@"
