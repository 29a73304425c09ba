"""Evaluate a trained model on the held-out set (torch), with an Otsu baseline.

    /usr/bin/python3 training/evaluate.py --model hrnet [--seed 1]

Pipeline per image (same as the service): read PNG/TIFF (8- or 16-bit) ->
float RGB (8-bit /255, 16-bit min-max stretch, grey replicated) -> bilinear
resize to 256x256 -> ImageNet normalisation -> model -> probability map
resized back to the original size (bilinear) -> threshold 0.5 -> compare with the
mask at the original resolution.

Reports mean per-image IoU / Dice, pixel-aggregated (global) IoU / Dice and the
same figures for an Otsu-threshold baseline (``otsu_iou``).  Results go to
stdout and to ``models/<name>/heldout.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import INPUT, iou_dice, otsu_segment, preprocess, upsample_prob  # noqa: E402
from imageio_util import load_image, load_mask  # noqa: E402
from models import build  # noqa: E402
from spheroids import to_float_rgb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def load_model(name, seed):
    m = build(name)
    m.load_state_dict(torch.load(os.path.join(HERE, ".cache", f"{name}-seed{seed}.pt")))
    return m.eval()


@torch.no_grad()
def predict(model, img: np.ndarray) -> np.ndarray:
    """Probability map at the image's original resolution."""
    x = torch.from_numpy(preprocess(img, INPUT))[None]
    p = model(x)[0, 0].numpy()
    return upsample_prob(p, img.shape[0], img.shape[1])


def summarize(rows, key):
    inter = sum(r[key]["inter"] for r in rows)
    union = sum(r[key]["union"] for r in rows)
    s = sum(r[key]["sum"] for r in rows)
    return dict(iou=float(np.mean([r[key]["iou"] for r in rows])),
                dice=float(np.mean([r[key]["dice"] for r in rows])),
                globalIou=inter / union, globalDice=2 * inter / s,
                minIou=float(min(r[key]["iou"] for r in rows)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--heldout", default=os.path.join(HERE, "heldout"))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = load_model(args.model, args.seed)
    with open(os.path.join(args.heldout, "manifest.json")) as fh:
        manifest = json.load(fh)
    rows = []
    for e in manifest["images"]:
        img = load_image(os.path.join(args.heldout, e["image"]))
        gt = load_mask(os.path.join(args.heldout, e["mask"]))
        pred = predict(model, img) > 0.5
        otsu = otsu_segment(to_float_rgb(img))
        row = dict(image=e["image"])
        for key, p in (("model", pred), ("otsu", otsu)):
            iou, dice, a, b, c = iou_dice(p, gt)
            row[key] = dict(iou=iou, dice=dice, inter=a, union=b, sum=c)
        rows.append(row)
        print(f"{e['image']:>9} {e['width']}x{e['height']} {e['bitDepth']:>2}bit "
              f"{e['style']:>12} objs {e['objects']:>2}  IoU {row['model']['iou']:.4f}  "
              f"Dice {row['model']['dice']:.4f}  otsu IoU {row['otsu']['iou']:.4f}")
    m = summarize(rows, "model")
    o = summarize(rows, "otsu")
    res = dict(model=args.model, images=len(rows), iou=round(m["iou"], 4), dice=round(m["dice"], 4),
               globalIou=round(m["globalIou"], 4), globalDice=round(m["globalDice"], 4),
               minIou=round(m["minIou"], 4), otsu_iou=round(o["iou"], 4), otsu_dice=round(o["dice"], 4),
               otsu_globalIou=round(o["globalIou"], 4),
               perImage=[dict(image=r["image"], iou=round(r["model"]["iou"], 4),
                              dice=round(r["model"]["dice"], 4), otsu_iou=round(r["otsu"]["iou"], 4))
                         for r in rows])
    print(f"\n{args.model}: held-out mean IoU {res['iou']:.4f}  Dice {res['dice']:.4f}  "
          f"global IoU {res['globalIou']:.4f}  min IoU {res['minIou']:.4f}  |  "
          f"otsu_iou {res['otsu_iou']:.4f}  otsu_dice {res['otsu_dice']:.4f}")
    out = os.path.join(args.out, args.model)
    if os.path.isdir(out):
        with open(os.path.join(out, "heldout.json"), "w") as fh:
            json.dump(res, fh, indent=2)
        mj = os.path.join(out, "model.json")
        if os.path.exists(mj):
            with open(mj) as fh:
                info = json.load(fh)
            info["evaluation"] = {k: res[k] for k in ("images", "iou", "dice", "globalIou", "globalDice",
                                                      "minIou", "otsu_iou", "otsu_dice")}
            info["evaluation"]["set"] = "training/heldout (seeds 777000000+)"
            with open(mj, "w") as fh:
                json.dump(info, fh, indent=2)


if __name__ == "__main__":
    main()
