#!/usr/bin/env bash
# Reproduce all three models (seed 1) sequentially, evaluate them on the held-out set,
# time them and regenerate the demo / test images.  These are the exact commands that
# produced the committed models (see models/*/model.json -> training.command).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
$PY training/make_heldout.py
$PY training/train.py --model hrnet --seed 1
$PY training/train.py --model cbam_resunet --seed 1 --minutes 0
$PY training/train.py --model unet_spherohq --seed 1 --minutes 0
for m in hrnet cbam_resunet unet_spherohq; do
  $PY training/evaluate.py --model "$m"
done
$PY training/benchmark.py --update
$PY training/make_assets.py --check hrnet
