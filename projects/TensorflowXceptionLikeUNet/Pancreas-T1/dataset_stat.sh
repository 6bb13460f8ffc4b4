#!/bin/sh
# dataset_stat: images (and volumes) per split of ../../../dataset/Pancreas-T1,
# as a table and as ./Pancreas-T1_Statistics.png.
cd "$(dirname "$0")" || exit 1
exec sh ../../../scripts/step.sh DatasetStatistics.py ../../../dataset/Pancreas-T1 "$@"
