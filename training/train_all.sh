#!/usr/bin/env bash
# Reproduce all three models (sequentially, ~10-13 min each on 2 CPU cores),
# then evaluate them on the held-out set and regenerate the demo / test images.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
SEED=${SEED:-1}
$PY training/make_heldout.py
for m in hrnet cbam_resunet unet_spherohq; do
  $PY training/train.py --model "$m" --seed "$SEED" --out models
  $PY training/evaluate.py --model "$m" --seed "$SEED"
done
$PY training/make_assets.py --check hrnet
