#!/bin/sh
# The whole toolkit end to end on a synthetic dataset, offline:
#   sh scripts/demo.sh             (`make demo`): pancreas, one class
#   sh scripts/demo.sh multiclass  (`make demo-multiclass`): pancreas = 1, kidneys = 2
# synthetic T1 phantom volumes (NIfTI) -> 2-D slices -> patient-level split ->
# 1.train, 2.evaluate, 3.infer in projects/TensorflowSlightlyFlexibleUNet/Demo
# (or Demo-MultiClass). The dataset is made once, under dataset/ (never
# committed); rerunning only retrains, and the previous run's results are
# moved aside, not deleted.
set -eu
cd "$(dirname "$0")/.."
case "${1:-}" in
    "") name=Demo-T1; project=Demo; phantom_flags=""; converter_flags="" ;;
    multiclass) name=Demo-T1-MultiClass; project=Demo-MultiClass; phantom_flags=--kidneys; converter_flags=--multi-class ;;
    *) echo "usage: sh scripts/demo.sh [multiclass]" >&2; exit 2 ;;
esac
sh scripts/env.sh
root=$(pwd)
python=$root/.venv/bin/python
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
data=dataset/$name
project=projects/TensorflowSlightlyFlexibleUNet/$project
started=$(date +%s)

if [ ! -f "$data/split.csv" ]; then
    # Build in a staging folder of our own, then move it into place whole, so
    # an interrupted demo never leaves a half-made dataset behind.
    stage=dataset/.$name.staging
    rm -rf "$stage" "dataset/$name-nifti" "dataset/$name-master"
    "$python" generator/synthetic_phantoms.py "$stage/nifti" --count 36 --seed 137 $phantom_flags
    "$python" generator/ImageMaskDatasetGenerator.py "$stage/nifti/imagesTr" "$stage/nifti/labelsTr" "$stage/master" $converter_flags
    "$python" generator/split_master.py "$stage/master" "$stage/split" --seed 137
    mv "$stage/nifti" "dataset/$name-nifti"
    mv "$stage/master" "dataset/$name-master"
    mv "$stage/split" "$data"
    rmdir "$stage"
fi

cd "$project"
if [ -z "$(ls mini_test/images 2>/dev/null)" ]; then
    mkdir -p mini_test/images
    cp "$root/$data"/test/images/* mini_test/images/
fi
"$python" "$root/src/DatasetStatistics.py" "$root/$data"
./1.train.sh
./2.evaluate.sh
./3.infer.sh

elapsed=$(( $(date +%s) - started ))
echo
echo "=== Demo finished in $((elapsed / 60)) min $((elapsed % 60)) s. Results in $project/:"
echo "    training curves   eval/train_losses.csv, eval/train_metrics.csv and their .png plots"
echo "    history           history.json"
echo "    best model        models/best_model.weights.h5"
if [ -z "$converter_flags" ]; then
    echo "    per-epoch masks   epoch_change_infer/Epoch_<n>_<image>.jpg"
    echo "    evaluation        evaluation.csv"
    echo "    predicted masks   mini_test_output/<image>.jpg"
else
    echo "    per-epoch masks   epoch_change_infer/Epoch_<n>_<image>.png (class colours)"
    echo "    evaluation        evaluation.csv (dice_coef_class1: pancreas, dice_coef_class2: kidneys)"
    echo "    predicted masks   mini_test_output/<image>.png (0 background, 1 pancreas, 2 kidneys)"
    echo "    in class colours  mini_test_colorized/<image>.png"
fi
echo "    dataset chart     ${name}_Statistics.png"
sed -n 's/^\(dice_coef[a-z0-9_]*\),/test \1: /p' evaluation.csv
