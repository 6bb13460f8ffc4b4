#!/bin/sh
# export: write the trained model of ./train_eval_infer.config for serving, as
# <model_dir>/export/ (a SavedModel, a .keras file and the input contract).
# Python: $PYTHON, else the repository's .venv, else python3 (see scripts/step.sh).
cd "$(dirname "$0")" || exit 1
exec sh ../../../scripts/step.sh TensorflowUNetExporter.py ./train_eval_infer.config "$@"
