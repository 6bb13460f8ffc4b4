#!/bin/sh
# 3.infer: predict masks for [infer] images_dir, as ./train_eval_infer.config describes.
# Python: $PYTHON, else the repository's .venv, else python3 (see scripts/step.sh).
cd "$(dirname "$0")" || exit 1
exec sh ../../../scripts/step.sh TensorflowUNetInferencer.py ./train_eval_infer.config "$@"
