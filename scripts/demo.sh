#!/bin/sh
# The whole toolkit end to end on a synthetic dataset, offline (`make demo`):
# synthetic T1 phantom volumes (NIfTI) -> 2-D slices -> patient-level split ->
# 1.train, 2.evaluate, 3.infer in projects/TensorflowSlightlyFlexibleUNet/Demo.
# The dataset is made once, under dataset/ (never committed); rerunning only
# retrains, and the previous run's results are moved aside, not deleted.
set -eu
cd "$(dirname "$0")/.."
sh scripts/env.sh
root=$(pwd)
python=$root/.venv/bin/python
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
data=dataset/Demo-T1
project=projects/TensorflowSlightlyFlexibleUNet/Demo
started=$(date +%s)

if [ ! -f "$data/split.csv" ]; then
    # Build in a staging folder of our own, then move it into place whole, so
    # an interrupted demo never leaves a half-made dataset behind.
    stage=dataset/.Demo-T1.staging
    rm -rf "$stage"
    "$python" generator/synthetic_phantoms.py "$stage/nifti" --count 36 --seed 137
    "$python" generator/ImageMaskDatasetGenerator.py "$stage/nifti/imagesTr" "$stage/nifti/labelsTr" "$stage/master"
    "$python" generator/split_master.py "$stage/master" "$stage/split" --seed 137
    mv "$stage/nifti" dataset/Demo-T1-nifti
    mv "$stage/master" dataset/Demo-T1-master
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
echo "    per-epoch masks   epoch_change_infer/Epoch_<n>_<image>.jpg"
echo "    evaluation        evaluation.csv"
echo "    predicted masks   mini_test_output/<image>.jpg"
echo "    dataset chart     Demo-T1_Statistics.png"
echo "test dice_coef: $(sed -n 's/^dice_coef,//p' evaluation.csv)"
