#!/bin/sh
# dataset_stat: images (and volumes) per split of ../../../dataset/Pancreas-T1,
# as a table and as ./Pancreas-T1_Statistics.png.
# Runs from this folder. Python: $PYTHON, else the repository's .venv, else python3.
cd "$(dirname "$0")" || exit 1
root=../../..
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$root/.venv/bin/python" ]; then PYTHON=$root/.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" "$root/src/DatasetStatistics.py" "$root/dataset/Pancreas-T1" "$@"
