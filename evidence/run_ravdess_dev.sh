#!/usr/bin/env bash
# Runs the "Real speech" table of README.md on ../shared/ravdess_dev (RAVDESS actors 11-24):
# 7 folds x 3 seeds x {mmtl, mtl, cnn_lstm}, the ravdess preset. Every command resumes: finished
# folds are skipped (their results.json and config.json are committed under evidence/), an
# interrupted fold continues from its checkpoints. Run from the repository root:
#   bash evidence/run_ravdess_dev.sh [SEEDS...]       (default: 0 1 2)
# then: python -m mmtl_tf.report evidence/ravdess_dev/* --output_dir=evidence/ravdess_dev-report
set -euo pipefail
corpus_dir="${RAVDESS_DIR:-../shared/ravdess_dev}"
tfrecord_dir=tfrecords/ravdess_dev
python -m mmtl_tf.prepare --preset=ravdess --corpus=ravdess \
    --corpus_dir="$corpus_dir" --tfrecord_dir="$tfrecord_dir"
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(0 1 2)
for seed in "${seeds[@]}"; do
  for model in mmtl cnn_lstm mtl; do
    python -m mmtl_tf.main --preset=ravdess --tfrecord_dir="$tfrecord_dir" \
        --model="$model" --aux=a --fold=all --seed="$seed" \
        --run_dir="evidence/ravdess_dev/$model-seed$seed"
  done
done
