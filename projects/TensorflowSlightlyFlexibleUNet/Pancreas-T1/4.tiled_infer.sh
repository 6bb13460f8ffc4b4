#!/bin/sh
# 4.tiled_infer: predict masks for [tiledinfer] images_dir tile by tile, as ./train_eval_infer.config describes.
# Python: $PYTHON, else the repository's .venv, else python3 (see scripts/step.sh).
cd "$(dirname "$0")" || exit 1
exec sh ../../../scripts/step.sh TensorflowUNetTiledInferencer.py ./train_eval_infer.config "$@"
