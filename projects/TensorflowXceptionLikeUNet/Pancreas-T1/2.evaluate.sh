#!/bin/sh
# 2.evaluate: evaluate the best model on [test] into ./evaluation.csv, as ./train_eval_infer.config describes.
# Python: $PYTHON, else the repository's .venv, else python3 (see scripts/step.sh).
cd "$(dirname "$0")" || exit 1
exec sh ../../../scripts/step.sh TensorflowUNetEvaluator.py ./train_eval_infer.config "$@"
