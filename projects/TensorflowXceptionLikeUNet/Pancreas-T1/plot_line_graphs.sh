#!/bin/sh
# plot_line_graphs: redraw train_losses.png and train_metrics.png from the CSVs in
# [train] eval_dir of ./train_eval_infer.config (also while training runs).
# Python: $PYTHON, else the repository's .venv, else python3 (see scripts/step.sh).
cd "$(dirname "$0")" || exit 1
exec sh ../../../scripts/step.sh LineGraphPlotter.py ./train_eval_infer.config "$@"
