"""Seeded synthetic microscopy generator for spheroid / cell segmentation.

    image, mask, meta = generate(seed, size=256)

* ``image``: ``uint8`` or ``uint16`` array, shape ``(H, W)`` (grey) or ``(H, W, 3)`` (RGB).
* ``mask``: ``bool`` array ``(H, W)``, the exact foreground (union of all objects).
* ``meta``: dict describing the image and each object.

Everything is a deterministic function of the seed (and the explicit keyword
overrides): the only randomness is ``numpy.random.default_rng(seed)``.

What is drawn
-------------
* Two styles: ``brightfield`` (bright background, darker absorbing objects with a
  dark rim, optional dark necrotic core, bright phase halo around the border) and
  ``fluorescence`` (dark background, bright objects, optional dim core, faint
  glow halo).  Grey or RGB (tinted brightfield, or one/two coloured channels for
  fluorescence).
* Objects: ``spheroid`` (large, roundish, textured, often a dark core) and
  ``cell`` (smaller, more elongated, lighter texture).  1..12 per image, radius
  from ``max(8, S/40)`` px to ``0.35*S`` px (``S = min(H, W)``).  Borders are
  perturbed ellipses: ``R(theta) = r*(1 + sum_k a_k cos(k*theta + phi_k))`` for
  k = 2..7 (low-frequency radial noise) on top of a random aspect ratio and
  rotation.  About a third of the objects are placed touching a previous one.
  Objects may be cut by the image border.
* Ring objects (``ring=True``): a hole in the middle (the hole is background and
  is NOT in the mask), hole radius 30..60 % of the outer radius, itself perturbed.
* Debris: small blobs of radius 1 .. ``S/80 + 0.5`` px (always less than half
  the smallest allowed object radius), faint or moderately contrasted.
  **Debris is never part of the mask.**
* Halos are outside the object border and are never part of the mask.
* Uneven illumination (linear gradient + quadratic vignetting), Gaussian blur
  (sigma 0.4..1.8 px), Poisson (shot) noise and Gaussian read noise.
* Output depth 8 bit (``0..255``) or 16 bit (camera ranges 12, 14 or 16 bit:
  maximum 4095, 16383 or 65535).

Mask definition: pixel (y, x) (centre at integer coordinates) is foreground iff
for some object ``d(y, x) < R(theta(y, x))`` and, for rings,
``d >= R_hole(theta)``.  The rendered object uses the same border (anti-aliased
over ~1 px, then blurred), so the mask is the exact boundary of the drawn
objects.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["generate", "to_float_rgb", "r_min_for", "STYLES"]

STYLES = ("brightfield", "fluorescence")


def r_min_for(size: int) -> float:
    """Smallest object radius (px) for an image whose smaller side is ``size``."""
    return max(8.0, size / 40.0)


def _debris_r_max(size: int) -> float:
    return size / 80.0 + 0.5


def _smooth_noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """Unit-variance smooth noise field (Gaussian-filtered white noise)."""
    h, w = shape
    if sigma >= 3.0:
        # generate on a coarser grid and upsample: much faster for large sigma
        f = int(sigma // 1.5)
        hs, ws = h // f + 3, w // f + 3
        n = rng.standard_normal((hs, ws)).astype(np.float32)
        n = ndimage.gaussian_filter(n, sigma / f, mode="wrap")
        n = ndimage.zoom(n, f, order=1)[:h, :w]
    else:
        n = rng.standard_normal((h, w)).astype(np.float32)
        n = ndimage.gaussian_filter(n, sigma, mode="wrap")
    s = float(n.std()) + 1e-8
    return (n - n.mean()) / s


def _sample_objects(rng, H, W, n, overrides):
    S = min(H, W)
    rmin = r_min_for(S)
    rmax = 0.35 * S
    # large objects become rarer when there are many of them
    r_hi = max(rmin * 1.3, min(rmax, 0.62 * S / math.sqrt(n)))
    objs: list[dict[str, Any]] = []
    for i in range(n):
        ov = overrides[i] if overrides is not None and i < len(overrides) else {}
        kind = ov.get("kind", "spheroid" if rng.random() < 0.6 else "cell")
        if "r" in ov:
            r = float(ov["r"])
        else:
            hi = r_hi if kind == "spheroid" else max(rmin * 1.2, min(r_hi, 0.18 * S))
            r = float(math.exp(rng.uniform(math.log(rmin), math.log(hi))))
        aspect = float(ov.get("aspect", rng.uniform(1.0, 1.25) if kind == "spheroid" else rng.uniform(1.0, 1.9)))
        angle = float(ov.get("angle", rng.uniform(0, math.pi)))
        rough = float(ov.get("rough", rng.uniform(0.01, 0.09) if kind == "spheroid" else rng.uniform(0.01, 0.06)))
        ks = np.arange(2, 8)
        amps = (rough * rng.standard_normal(6) / ks ** 0.9).astype(np.float64)
        phases = rng.uniform(0, 2 * math.pi, 6)
        ring = bool(ov.get("ring", kind == "spheroid" and r >= 15 and rng.random() < 0.12))
        hole = float(ov.get("hole_ratio", rng.uniform(0.3, 0.6))) if ring else 0.0
        hole_amps = (0.5 * rough * rng.standard_normal(6) / ks).astype(np.float64)
        hole_phases = rng.uniform(0, 2 * math.pi, 6)
        core = bool(ov.get("core", kind == "spheroid" and not ring and rng.random() < 0.55))
        core_ratio = float(rng.uniform(0.3, 0.7))
        # placement
        placed = False
        for attempt in range(40):
            if "cx" in ov and "cy" in ov:
                cx, cy = float(ov["cx"]), float(ov["cy"])
                placed = True
                break
            touch = objs and rng.random() < 0.35
            if touch:
                j = int(rng.integers(len(objs)))
                a = rng.uniform(0, 2 * math.pi)
                dist = (objs[j]["r"] + r) * rng.uniform(0.9, 1.02)
                cx = objs[j]["cx"] + dist * math.cos(a)
                cy = objs[j]["cy"] + dist * math.sin(a)
            else:
                m = 0.2 * r
                cx = rng.uniform(m, W - 1 - m)
                cy = rng.uniform(m, H - 1 - m)
            if not (0 <= cx < W and 0 <= cy < H):
                continue
            ok = True
            for o in objs:
                dd = math.hypot(cx - o["cx"], cy - o["cy"])
                lim = 0.88 * (r + o["r"]) if touch else (r + o["r"]) * 1.05 + 2
                if dd < lim:
                    ok = False
                    break
            if ok:
                placed = True
                break
        if not placed:
            continue
        objs.append(dict(kind=kind, cx=cx, cy=cy, r=r, aspect=aspect, angle=angle, rough=rough,
                         amps=amps, phases=phases, ring=ring, hole_ratio=hole, hole_amps=hole_amps,
                         hole_phases=hole_phases, core=core, core_ratio=core_ratio))
    return objs


def _object_geometry(o, yy, xx):
    """rho (d/R), R (px), hole info on a local grid."""
    dx = xx - o["cx"]
    dy = yy - o["cy"]
    ca, sa = math.cos(o["angle"]), math.sin(o["angle"])
    sq = math.sqrt(o["aspect"])
    u = (dx * ca + dy * sa) / sq
    v = (-dx * sa + dy * ca) * sq
    d = np.hypot(u, v)
    th = np.arctan2(v, u)
    R = np.ones_like(d)
    for k in range(6):
        R += o["amps"][k] * np.cos((k + 2) * th + o["phases"][k])
    R = o["r"] * np.maximum(R, 0.4)
    Rh = None
    if o["ring"]:
        Rh = np.ones_like(d)
        for k in range(6):
            Rh += o["hole_amps"][k] * np.cos((k + 2) * th + o["hole_phases"][k])
        Rh = o["r"] * o["hole_ratio"] * np.maximum(Rh, 0.5)
    return d, R, Rh


def generate(seed: int, size: int | tuple[int, int] = 256, *, style: str | None = None,
             rgb: bool | None = None, bit_depth: int | None = None, n_objects: int | None = None,
             objects: list[dict] | None = None, debris: bool | None = None,
             difficulty: float = 1.0):
    """Generate one synthetic microscopy image.

    Parameters
    ----------
    seed: the only source of randomness.
    size: ``S`` (square) or ``(H, W)``.
    style: ``"brightfield"`` / ``"fluorescence"`` (random if None).
    rgb: 3-channel output (random if None, ~50 %).
    bit_depth: 8 or 16 (8 if None).
    n_objects: number of objects (random 1..12 if None; fewer may be placed when
        the image is crowded).
    objects: optional list of per-object overrides (keys: kind, r, cx, cy, aspect,
        angle, rough, ring, hole_ratio, core).  Its length sets n_objects when
        n_objects is None.
    debris: draw debris (random ~75 % if None).
    difficulty: scales noise / low-contrast ranges (1.0 = the training range).
    """
    rng = np.random.default_rng(seed)
    if isinstance(size, (tuple, list)):
        H, W = int(size[0]), int(size[1])
    else:
        H = W = int(size)
    S = min(H, W)
    if style is None:
        style = "brightfield" if rng.random() < 0.55 else "fluorescence"
    if rgb is None:
        rgb = bool(rng.random() < 0.5)
    if bit_depth is None:
        bit_depth = 8
    if n_objects is None:
        if objects is not None:
            n_objects = len(objects)
        else:
            # skewed towards few objects
            n_objects = int(min(12, 1 + math.floor(rng.exponential(3.0))))
    if debris is None:
        debris = bool(rng.random() < 0.75)

    objs = _sample_objects(rng, H, W, n_objects, objects)

    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    tex_fine = _smooth_noise(rng, (H, W), rng.uniform(0.8, 1.6))
    tex_coarse = _smooth_noise(rng, (H, W), rng.uniform(3.0, 7.0) * max(1.0, S / 384))

    mask = np.zeros((H, W), bool)
    cover = np.zeros((H, W), np.float32)     # anti-aliased union coverage 0..1
    body = np.zeros((H, W), np.float32)      # object "signal" strength 0..1.5 (absorption or emission)
    halo = np.zeros((H, W), np.float32)      # halo strength outside objects

    fluo = style == "fluorescence"
    for o in objs:
        r = o["r"]
        hw = 0.3 * r + 6 + r * 0.12
        ext = r * (1 + 6 * o["rough"]) * math.sqrt(o["aspect"]) + hw
        x0, x1 = max(0, int(o["cx"] - ext)), min(W, int(o["cx"] + ext) + 2)
        y0, y1 = max(0, int(o["cy"] - ext)), min(H, int(o["cy"] + ext) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        sl = (slice(y0, y1), slice(x0, x1))
        d, R, Rh = _object_geometry(o, yy[sl], xx[sl])
        m = d < R
        a = np.clip(R - d + 0.5, 0.0, 1.0)
        if Rh is not None:
            m &= d >= Rh
            a *= np.clip(d - Rh + 0.5, 0.0, 1.0)
        o["area"] = int(m.sum())
        mask[sl] |= m
        rho = d / R
        # per-object body profile
        if fluo:
            base = rng.uniform(0.35, 1.0)
            tex_amp = rng.uniform(0.05, 0.35) if o["kind"] == "spheroid" else rng.uniform(0.03, 0.2)
            prof = base * (1 + tex_amp * (0.6 * tex_coarse[sl] + 0.4 * tex_fine[sl]))
            if o["core"]:
                cr = o["core_ratio"]
                prof *= 1 - rng.uniform(0.2, 0.6) * np.clip((cr - rho) / 0.15, 0, 1)
            # slightly brighter edge for cells
            prof *= 1 + rng.uniform(0, 0.3) * np.exp(-((1 - rho) * R / 3.0) ** 2)
        else:
            base = rng.uniform(0.12, 0.55)
            tex_amp = rng.uniform(0.1, 0.5) if o["kind"] == "spheroid" else rng.uniform(0.05, 0.3)
            prof = base * (1 + tex_amp * (0.6 * tex_coarse[sl] + 0.4 * tex_fine[sl]))
            if o["core"]:
                cr = o["core_ratio"]
                prof = prof + rng.uniform(0.15, 0.45) * np.clip((cr - rho) / 0.2, 0, 1)
            # dark rim
            prof = prof + rng.uniform(0.0, 0.35) * np.exp(-((1 - rho) * R / rng.uniform(1.5, 4.0)) ** 2)
            if Rh is not None:
                prof = prof + rng.uniform(0.0, 0.3) * np.exp(-((d - Rh) / 2.5) ** 2)
        body[sl] = np.maximum(body[sl], a * np.clip(prof, 0, 1.5))
        cover[sl] = np.maximum(cover[sl], a)
        # halo outside the border (never in the mask)
        if rng.random() < 0.7:
            hwid = rng.uniform(2.0, 3.0 + 0.08 * r)
            hamp = rng.uniform(0.05, 0.35) if not fluo else rng.uniform(0.03, 0.2)
            out = np.clip(d - R, 0, None)
            h = hamp * np.exp(-out / hwid) * (d >= R)
            halo[sl] = np.maximum(halo[sl], h.astype(np.float32))

    # debris: small blobs never part of the mask
    n_deb = int(rng.integers(0, 25 + S // 20)) if debris else 0
    deb_r_max = _debris_r_max(S)
    for _ in range(n_deb):
        rr = rng.uniform(1.0, deb_r_max)
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        ext = int(rr * 3 + 3)
        x0, x1 = max(0, int(cx - ext)), min(W, int(cx + ext) + 1)
        y0, y1 = max(0, int(cy - ext)), min(H, int(cy + ext) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        sl = (slice(y0, y1), slice(x0, x1))
        dd = np.hypot(xx[sl] - cx, yy[sl] - cy)
        amp = rng.uniform(0.05, 0.6) if rng.random() < 0.3 else rng.uniform(0.02, 0.2)
        blob = amp * np.clip(rr - dd + 0.5, 0, 1)
        body[sl] = np.maximum(body[sl], blob.astype(np.float32))

    halo *= 1.0 - cover

    # illumination field
    gx, gy = rng.uniform(-0.35, 0.35, 2) * difficulty
    vc = rng.uniform(0.0, 0.35) * difficulty
    vx, vy = rng.uniform(0.2, 0.8, 2)
    xn, yn = xx / max(W - 1, 1), yy / max(H - 1, 1)
    illum = 1 + gx * (xn - 0.5) + gy * (yn - 0.5) - vc * ((xn - vx) ** 2 + (yn - vy) ** 2)
    illum = np.clip(illum, 0.3, 1.6).astype(np.float32)

    bg_tex = 0.03 * rng.uniform(0, 1) * tex_coarse
    if fluo:
        bg = rng.uniform(0.02, 0.15)
        gain = rng.uniform(0.35, 0.95)
        img = (bg * (1 + bg_tex) + gain * (body + halo)) * illum
    else:
        bg = rng.uniform(0.45, 0.85)
        img = bg * illum * (1 + bg_tex) * (1 - np.clip(body, 0, 0.97)) * (1 + halo)

    sigma = rng.uniform(0.4, 1.8)
    img = ndimage.gaussian_filter(img.astype(np.float32), sigma)
    img = np.clip(img, 0, None)

    # noise: Poisson (shot) + Gaussian (read)
    peak = math.exp(rng.uniform(math.log(40), math.log(3000)) - (difficulty - 1.0))
    gauss = rng.uniform(0.002, 0.03) * difficulty

    if rgb:
        if fluo:
            choice = rng.integers(4)
            weights = [np.array([0.15, 1.0, 0.15]), np.array([1.0, 0.2, 0.15]),
                       np.array([0.3, 0.5, 1.0]), np.array([1.0, 0.9, 0.2])][choice]
            weights = weights * rng.uniform(0.85, 1.1, 3)
        else:
            weights = np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.12, 0.12, 3)
        chans = []
        for c in range(3):
            ch = img * weights[c]
            ch = rng.poisson(np.clip(ch, 0, 4) * peak).astype(np.float32) / peak
            ch += gauss * rng.standard_normal((H, W)).astype(np.float32)
            chans.append(ch)
        out = np.stack(chans, -1)
    else:
        out = rng.poisson(img * peak).astype(np.float32) / peak
        out += gauss * rng.standard_normal((H, W)).astype(np.float32)

    if bit_depth == 16:
        maxv = int(rng.choice([4095, 16383, 65535]))
        stretch = rng.uniform(0.5, 1.0)
        arr = np.clip(out * stretch * maxv, 0, maxv).round().astype(np.uint16)
    else:
        maxv = 255
        stretch = rng.uniform(0.75, 1.05)
        arr = np.clip(out * stretch * 255, 0, 255).round().astype(np.uint8)

    meta = {
        "seed": int(seed), "height": H, "width": W, "style": style, "rgb": bool(rgb),
        "bit_depth": int(bit_depth), "max_value": maxv, "n_debris": n_deb,
        "blur_sigma": float(sigma), "objects": [
            {"kind": o["kind"], "cx": float(o["cx"]), "cy": float(o["cy"]), "r": float(o["r"]),
             "aspect": float(o["aspect"]), "ring": bool(o["ring"]), "core": bool(o["core"]),
             "area": int(o.get("area", 0))} for o in objs],
        "mask_area": int(mask.sum()),
    }
    meta["n_objects"] = len(meta["objects"])
    return arr, mask, meta


def to_float_rgb(image: np.ndarray) -> np.ndarray:
    """Convert a generator/PNG image to float32 RGB in [0, 1], shape (H, W, 3).

    uint8: divide by 255.  uint16: min-max stretch over the image (what the
    models were trained on for 16-bit input; they also tolerate ``/65535``-style
    dark images thanks to gain augmentation, but stretching is recommended).
    Grey images are replicated to 3 channels.
    """
    if image.dtype == np.uint8:
        f = image.astype(np.float32) / 255.0
    else:
        f = image.astype(np.float32)
        lo, hi = float(f.min()), float(f.max())
        f = (f - lo) / max(hi - lo, 1.0)
    if f.ndim == 2:
        f = np.repeat(f[..., None], 3, axis=2)
    return f


if __name__ == "__main__":  # quick visual smoke test
    import sys
    import time
    from PIL import Image

    t = time.time()
    n = 50
    for s in range(n):
        generate(s, 256)
    print(f"{(time.time() - t) / n * 1000:.1f} ms/image at 256")
    t = time.time()
    for s in range(20):
        generate(s, 512)
    print(f"{(time.time() - t) / 20 * 1000:.1f} ms/image at 512")
    if len(sys.argv) > 1:
        out = sys.argv[1]
        for s in range(16):
            im, m, meta = generate(s, 256, bit_depth=8)
            Image.fromarray(im).convert("RGB").save(f"{out}/g{s:02d}.png")
            Image.fromarray((m * 255).astype(np.uint8)).save(f"{out}/g{s:02d}_m.png")
