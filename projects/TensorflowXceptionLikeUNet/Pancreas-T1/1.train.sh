#!/bin/sh
# 1.train: train the model, as ./train_eval_infer.config describes.
# Python: $PYTHON, else the repository's .venv, else python3 (see scripts/step.sh).
cd "$(dirname "$0")" || exit 1
exec sh ../../../scripts/step.sh TensorflowUNetTrainer.py ./train_eval_infer.config "$@"
