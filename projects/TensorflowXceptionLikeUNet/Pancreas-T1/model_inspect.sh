#!/bin/sh
# model_inspect: write the model of ./train_eval_infer.config as ./summary.txt and
# ./model.png (the picture needs Graphviz).
# Python: $PYTHON, else the repository's .venv, else python3 (see scripts/step.sh).
cd "$(dirname "$0")" || exit 1
exec sh ../../../scripts/step.sh TensorflowUNetModelInspector.py ./train_eval_infer.config "$@"
