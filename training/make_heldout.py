"""Write the held-out evaluation set to training/heldout/.

    /usr/bin/python3 training/make_heldout.py

24 images, 256..400 px (some non-square), seeds HELDOUT_SEED_BASE + i (disjoint
from the training seeds ``s*10_000_000 + i`` for small s, and from the
validation seeds 900_000_000+).  Mostly 8-bit PNG (grey and RGB); 3 are 16-bit
grey PNG and 1 is a 16-bit grey TIFF.  Masks are 8-bit PNG (0 / 255).
manifest.json lists every file with its metadata.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from imageio_util import save_image, save_mask  # noqa: E402
from spheroids import generate  # noqa: E402

HELDOUT_SEED_BASE = 777_000_000
COUNT = 24
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    out = os.path.join(HERE, "heldout")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(4242)
    entries = []
    for i in range(COUNT):
        seed = HELDOUT_SEED_BASE + i
        H = int(rng.integers(256, 401))
        W = H if rng.random() < 0.7 else int(rng.integers(256, 401))
        bit16 = i in (5, 11, 17, 23)
        rgb = False if bit16 else bool(i % 4 == 0)
        img, mask, meta = generate(seed, (H, W), rgb=rgb, bit_depth=16 if bit16 else 8)
        ext = "tif" if i == 23 else "png"
        name = f"h{i:02d}.{ext}"
        save_image(os.path.join(out, name), img, **({"compression": "tiff_deflate"} if ext == "tif" else {}))
        save_mask(os.path.join(out, f"h{i:02d}_mask.png"), mask)
        _, ncomp = ndimage.label(mask)
        entries.append(dict(image=name, mask=f"h{i:02d}_mask.png", seed=seed, width=W, height=H,
                            channels=3 if rgb else 1, bitDepth=16 if bit16 else 8,
                            style=meta["style"], objects=meta["n_objects"],
                            connectedComponents=int(ncomp), maskArea=int(mask.sum()),
                            rings=sum(o["ring"] for o in meta["objects"])))
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(dict(seedBase=HELDOUT_SEED_BASE, images=entries), fh, indent=2)
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"wrote {COUNT} images to {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
