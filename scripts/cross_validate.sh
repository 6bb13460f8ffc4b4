#!/bin/sh
# Cross-validation by patient (src/CrossValidator.py), from any folder:
#   sh scripts/cross_validate.sh PROJECT/train_eval_infer.config K [DATA_ROOT] [--debug]
# DATA_ROOT: the folder `generator/split_master.py MASTER DATA_ROOT --folds K` wrote.
# Python: $PYTHON, else the repository's .venv/bin/python when it exists, else python3 (scripts/step.sh).
exec sh "$(dirname "$0")/step.sh" CrossValidator.py "$@"
