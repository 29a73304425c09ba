"""Write the demo images (demo/images/) and the test images (tests/assets/).

    /usr/bin/python3 training/make_assets.py [--check hrnet]

Everything comes from ``spheroids.generate`` with fixed seeds, so re-running
reproduces the files bit for bit.  ``--check MODEL`` additionally segments the
test images with the trained torch model (256x256 input, bilinear resize of the
probability map back to 512, threshold 0.5) and prints the area error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from imageio_util import save_image, save_mask  # noqa: E402
from spheroids import generate  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
MAX_DEMO_BYTES = 400_000

# (file stem, size (H, W), kwargs for generate)
DEMO = [
    ("01-single-brightfield", (384, 384), dict(style="brightfield", rgb=False, n_objects=1)),
    ("02-pair-fluorescence-rgb", (448, 448), dict(style="fluorescence", rgb=True, n_objects=2)),
    ("03-cluster-brightfield", (640, 640), dict(style="brightfield", rgb=False, n_objects=6)),
    ("04-ring-brightfield", (512, 512), dict(style="brightfield", rgb=False, n_objects=3,
                                             objects=[dict(kind="spheroid", r=120, cx=230, cy=260,
                                                           ring=True, hole_ratio=0.45)])),
    ("05-many-cells-fluorescence", (768, 768), dict(style="fluorescence", rgb=False, n_objects=10)),
    ("06-grey16-fluorescence", (384, 384), dict(style="fluorescence", rgb=False, n_objects=4,
                                                bit_depth=16)),
    ("07-tinted-brightfield-rgb", (480, 480), dict(style="brightfield", rgb=True, n_objects=4)),
    ("08-large-spheroid", (576, 576), dict(style="brightfield", rgb=False, n_objects=1,
                                           objects=[dict(kind="spheroid", r=190, core=True, ring=False)])),
    ("09-wide-fluorescence-rgb", (384, 576), dict(style="fluorescence", rgb=True, n_objects=5)),
    ("10-touching-brightfield", (512, 512), dict(style="brightfield", rgb=False, n_objects=7)),
    ("11-debris-fluorescence", (640, 640), dict(style="fluorescence", rgb=False, n_objects=3,
                                                debris=True)),
    ("12-tall-brightfield-rgb", (576, 400), dict(style="brightfield", rgb=True, n_objects=8)),
]
DEMO_SEED = 5150


def make_demo():
    out = os.path.join(ROOT, "demo", "images")
    mdir = os.path.join(ROOT, "demo", "masks")
    os.makedirs(out, exist_ok=True)
    os.makedirs(mdir, exist_ok=True)
    entries = []
    for i, (stem, size, kw) in enumerate(DEMO):
        # try successive seeds / lower noise until the PNG fits the size budget
        for attempt in range(12):
            seed = DEMO_SEED + 100 * i + attempt
            diff = 1.0 if attempt < 4 else 0.6
            img, mask, meta = generate(seed, size, difficulty=diff, **kw)
            path = os.path.join(out, stem + ".png")
            save_image(path, img)
            ok = os.path.getsize(path) <= MAX_DEMO_BYTES and meta["n_objects"] == kw["n_objects"]
            if ok:
                break
        else:
            raise RuntimeError(f"could not make {stem} within budget")
        save_mask(os.path.join(mdir, stem + "-mask.png"), mask)
        _, ncomp = ndimage.label(mask)
        entries.append(dict(file=stem + ".png", mask=f"../masks/{stem}-mask.png", seed=seed,
                            width=size[1], height=size[0], channels=3 if meta["rgb"] else 1,
                            bitDepth=meta["bit_depth"], style=meta["style"],
                            objects=meta["n_objects"], connectedComponents=int(ncomp),
                            rings=sum(o["ring"] for o in meta["objects"]),
                            maskArea=int(mask.sum()), bytes=os.path.getsize(path)))
        print(f"demo {stem}: {size[1]}x{size[0]} objs {meta['n_objects']} comps {ncomp} "
              f"{os.path.getsize(path) / 1e3:.0f} KB")
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(dict(generator="training/spheroids.py", script="training/make_assets.py",
                       note="objects = objects drawn by the generator; touching objects can merge "
                            "into fewer connected components of the mask (connectedComponents).",
                       images=entries), fh, indent=2)


def describe(mask, meta, extra):
    ys, xs = np.nonzero(mask)
    o = meta["objects"][0]
    return dict(width=mask.shape[1], height=mask.shape[0], area=int(mask.sum()),
                areaUnit="pixels (count of mask pixels)",
                centre=dict(x=o["cx"], y=o["cy"]),
                centroid=dict(x=float(xs.mean()), y=float(ys.mean())),
                bbox=dict(x=int(xs.min()), y=int(ys.min()), width=int(xs.max() - xs.min() + 1),
                          height=int(ys.max() - ys.min() + 1)),
                equivalentDiameter=float(2 * np.sqrt(mask.sum() / np.pi)),
                seed=meta["seed"], style=meta["style"], bitDepth=8, channels=3, objects=1,
                **extra)


def make_tests():
    out = os.path.join(ROOT, "tests", "assets")
    os.makedirs(out, exist_ok=True)
    img, mask, meta = generate(90210, 512, style="brightfield", rgb=True, n_objects=1, debris=True,
                               objects=[dict(kind="spheroid", r=90, cx=256, cy=256, aspect=1.04,
                                             rough=0.025, ring=False, core=True)])
    save_image(os.path.join(out, "single-spheroid.png"), img)
    save_mask(os.path.join(out, "single-spheroid-mask.png"), mask)
    with open(os.path.join(out, "single-spheroid.json"), "w") as fh:
        json.dump(describe(mask, meta, dict(nominalRadius=90.0, mask="single-spheroid-mask.png")),
                  fh, indent=2)
    print(f"single-spheroid: area {mask.sum()}")
    img, mask, meta = generate(90211, 512, style="brightfield", rgb=True, n_objects=1, debris=True,
                               objects=[dict(kind="spheroid", r=110, cx=256, cy=256, aspect=1.03,
                                             rough=0.02, ring=True, hole_ratio=45 / 110)])
    save_image(os.path.join(out, "ring-spheroid.png"), img)
    save_mask(os.path.join(out, "ring-spheroid-mask.png"), mask)
    filled = ndimage.binary_fill_holes(mask)
    with open(os.path.join(out, "ring-spheroid.json"), "w") as fh:
        json.dump(describe(mask, meta, dict(nominalOuterRadius=110.0, nominalHoleRadius=45.0,
                                            holeArea=int(filled.sum() - mask.sum()),
                                            filledArea=int(filled.sum()),
                                            mask="ring-spheroid-mask.png",
                                            note="area excludes the hole")), fh, indent=2)
    print(f"ring-spheroid: area {mask.sum()} hole {filled.sum() - mask.sum()}")


def check(model_name, seed=1):
    import torch
    from evaluate import load_model, predict
    from imageio_util import load_image, load_mask
    torch.set_num_threads(2)
    model = load_model(model_name, seed)
    res = {}
    for stem in ("single-spheroid", "ring-spheroid"):
        img = load_image(os.path.join(ROOT, "tests", "assets", stem + ".png"))
        gt = load_mask(os.path.join(ROOT, "tests", "assets", stem + "-mask.png"))
        p = predict(model, img) > 0.5
        inter = np.logical_and(p, gt).sum()
        iou = inter / np.logical_or(p, gt).sum()
        err = (p.sum() - gt.sum()) / gt.sum()
        holes = int(ndimage.binary_fill_holes(p).sum() - p.sum())
        print(f"{model_name} {stem}: predicted area {p.sum()} true {gt.sum()} "
              f"error {100 * err:+.2f}% IoU {iou:.4f} hole px {holes}")
        res[stem] = dict(predictedArea=int(p.sum()), trueArea=int(gt.sum()),
                         areaError=float(err), iou=float(iou), predictedHolePixels=holes)
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", default=None)
    ap.add_argument("--only-check", action="store_true")
    args = ap.parse_args()
    if not args.only_check:
        make_tests()
        make_demo()
    if args.check:
        check(args.check)
