"""Shared pre-processing, sampling and metrics for training / evaluation.

Pre-processing contract (what the exported models expect, mirrored by the service):

1. Decode the image.  8-bit: value / 255.  16-bit: min-max stretch over the
   image ``(v - min) / (max - min)``.  Grey is replicated to 3 channels (RGB).
2. Resize to 256 x 256 with **bilinear** interpolation (triangle filter,
   antialiased when shrinking; PIL ``Image.BILINEAR`` on float channels, the same
   kernel as ImageSharp's ``KnownResamplers.Triangle``).  The aspect ratio is not
   kept.  Models are trained with both antialiased and plain (non-antialiased)
   bilinear downscaling so either works.
3. Normalise per channel: ``(v - mean) / std`` with ImageNet mean
   (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225); layout NCHW float32.
4. Output ``probabilities`` [N, 1, 256, 256] -> resize back to the original size
   with bilinear interpolation (``align_corners=False``), threshold 0.5.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from spheroids import generate, to_float_rgb

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
INPUT = 256

TRAIN_SEED_STRIDE = 10_000_000      # train sample i of run seed s: s*STRIDE + i
VAL_SEED_BASE = 900_000_000          # fixed validation set
VAL_COUNT = 48


def resize_pil(f: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear (triangle, antialiased on shrink) resize of float HxW or HxWxC."""
    if f.ndim == 2:
        return np.asarray(Image.fromarray(f.astype(np.float32), "F").resize((w, h), Image.BILINEAR))
    return np.stack([resize_pil(f[..., c], h, w) for c in range(f.shape[2])], -1)


def resize_torch(f: np.ndarray, h: int, w: int) -> np.ndarray:
    """Plain bilinear (no antialias, align_corners=False)."""
    t = torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    t = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0]
    return (t[0] if f.ndim == 2 else t.permute(1, 2, 0)).numpy()


def preprocess(image: np.ndarray, size: int = INPUT) -> np.ndarray:
    """Image array (uint8/uint16, grey/RGB) -> normalised float32 [3, size, size]."""
    f = to_float_rgb(image)
    if f.shape[0] != size or f.shape[1] != size:
        f = resize_pil(f, size, size)
    return ((f - MEAN) / STD).transpose(2, 0, 1).astype(np.float32)


def upsample_prob(prob: np.ndarray, h: int, w: int) -> np.ndarray:
    if prob.shape == (h, w):
        return prob
    return resize_torch(prob, h, w)


def make_sample(seed: int, augment: bool = True):
    """One training/validation example at 256x256: (float RGB HxWx3 in [0,1], bool mask).

    Mirrors the service: ~half of the images are generated at 256, the rest at
    other (possibly non-square) sizes 160..640 and resized to 256.
    """
    rng = np.random.default_rng(seed ^ 0x5EED)
    native = rng.random() < 0.5
    if native:
        H = W = INPUT
    else:
        H = int(rng.integers(160, 641))
        W = H if rng.random() < 0.6 else int(rng.integers(160, 641))
    bit = 16 if rng.random() < 0.15 else 8
    img, mask, meta = generate(seed, (H, W), bit_depth=bit)
    f = to_float_rgb(img)
    if not native:
        if rng.random() < 0.5:
            f = resize_pil(f, INPUT, INPUT)
            m = resize_pil(mask.astype(np.float32), INPUT, INPUT)
        else:
            f = resize_torch(f, INPUT, INPUT)
            m = resize_torch(mask.astype(np.float32), INPUT, INPUT)
        mask = m > 0.5
    if augment:
        if rng.random() < 0.08:           # dark image (e.g. 12-bit data divided by 65535)
            f = f * math.exp(rng.uniform(math.log(0.06), math.log(0.6)))
        if rng.random() < 0.1:            # gamma
            f = np.clip(f, 0, 1) ** rng.uniform(0.6, 1.6)
    return f.astype(np.float32), mask


def normalise_batch(imgs: np.ndarray) -> torch.Tensor:
    """[B, H, W, 3] float in [0, 1] -> normalised [B, 3, H, W] tensor."""
    x = (imgs - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32))


def iou_dice(pred: np.ndarray, gt: np.ndarray):
    inter = float(np.logical_and(pred, gt).sum())
    union = float(np.logical_or(pred, gt).sum())
    s = float(pred.sum() + gt.sum())
    iou = inter / union if union > 0 else 1.0
    dice = 2 * inter / s if s > 0 else 1.0
    return iou, dice, inter, union, s


def otsu_threshold(grey: np.ndarray, bins: int = 256) -> float:
    g = grey.ravel()
    lo, hi = float(g.min()), float(g.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(g, bins=bins, range=(lo, hi))
    p = hist.astype(np.float64) / hist.sum()
    w0 = np.cumsum(p)
    mu = np.cumsum(p * np.arange(bins))
    mt = mu[-1]
    w1 = 1 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        sb = (mt * w0 - mu) ** 2 / (w0 * w1)
    sb[~np.isfinite(sb)] = 0
    k = int(np.argmax(sb))
    return float(edges[k + 1])


def otsu_segment(f_rgb: np.ndarray) -> np.ndarray:
    """Otsu baseline: threshold the grey image, then choose the polarity whose
    foreground is the minority of the border pixels (objects are darker in
    brightfield, brighter in fluorescence)."""
    g = f_rgb.mean(axis=2)
    t = otsu_threshold(g)
    fg = g > t
    border = np.concatenate([fg[0], fg[-1], fg[:, 0], fg[:, -1]])
    if border.mean() > 0.5:
        fg = ~fg
    return fg
