"""Small PNG/TIFF read/write helpers (8- and 16-bit, grey and RGB) using PIL."""
from __future__ import annotations

import numpy as np
from PIL import Image


def save_image(path: str, arr: np.ndarray, **kw) -> None:
    if arr.dtype == np.uint16:
        if arr.ndim != 2:
            raise ValueError("16-bit output is grey only")
        im = Image.fromarray(arr, "I;16")
    elif arr.ndim == 2:
        im = Image.fromarray(arr, "L")
    else:
        im = Image.fromarray(arr, "RGB")
    im.save(path, optimize=True, **kw) if path.endswith(".png") else im.save(path, **kw)


def load_image(path: str) -> np.ndarray:
    """uint8 (H,W) / (H,W,3) or uint16 (H,W)."""
    im = Image.open(path)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(im).astype(np.uint16)
    if im.mode == "L":
        return np.asarray(im)
    return np.asarray(im.convert("RGB"))


def save_mask(path: str, mask: np.ndarray) -> None:
    Image.fromarray(mask.astype(np.uint8) * 255, "L").save(path, optimize=True)


def load_mask(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L")) > 127
