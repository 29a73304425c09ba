"""Measure CPU cost (ms/image, torch, batch 4, 256x256, 2 threads) of all trained models.

    /usr/bin/python3 training/benchmark.py [--update]

Models are timed in interleaved rounds and the best round is kept, so that a
CPU shared with other jobs disturbs every model alike.  ``--update`` writes the
figures into ``models/<name>/model.json`` (``costPerImageMs``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from evaluate import load_model  # noqa: E402
from models import MODELS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--models", default=os.path.join(HERE, "..", "models"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    nets = {}
    for name in MODELS:
        if os.path.exists(os.path.join(HERE, ".cache", f"{name}-seed1.pt")):
            nets[name] = load_model(name, 1)
    x = torch.randn(args.batch, 3, 256, 256)
    best = {n: float("inf") for n in nets}
    with torch.no_grad():
        for n, m in nets.items():
            m(x)
        for _ in range(args.rounds):
            for n, m in nets.items():
                t = time.perf_counter()
                m(x)
                best[n] = min(best[n], (time.perf_counter() - t) / args.batch * 1000)
    for n, ms in best.items():
        print(f"{n:>14}: {ms:6.1f} ms/image (batch {args.batch}, best of {args.rounds})")
        mj = os.path.join(args.models, n, "model.json")
        if args.update and os.path.exists(mj):
            with open(mj) as fh:
                info = json.load(fh)
            info["costPerImageMs"] = round(ms, 1)
            info["costMeasuredWith"] = (f"torch {torch.__version__} CPU, 2 threads, batch {args.batch}, "
                                        f"256x256, best of {args.rounds} interleaved rounds "
                                        "(training/benchmark.py)")
            with open(mj, "w") as fh:
                json.dump(info, fh, indent=2)


if __name__ == "__main__":
    main()
