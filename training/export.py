"""ONNX export, model.json and reference.json writer.

Re-export a trained checkpoint without retraining:

    /usr/bin/python3 training/export.py --model hrnet --seed 1
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import INPUT, MEAN, STD  # noqa: E402
from models import MODELS, build  # noqa: E402
from spheroids import generate  # noqa: E402

OPSET = 13
VERSION = "1.0.0"
HERE = os.path.dirname(os.path.abspath(__file__))

# Fixed reference pixels (y, x) whose probabilities are recorded in reference.json.
REF_PIXELS = [[0, 0], [0, 255], [255, 0], [255, 255], [128, 128], [64, 64], [64, 192],
              [192, 64], [192, 192], [110, 100], [110, 60], [30, 128], [128, 30], [220, 128]]


def reference_image() -> np.ndarray:
    """The fixed 256x256 8-bit RGB reference image (several objects, one ring)."""
    img, _, _ = generate(20240611, INPUT, style="brightfield", rgb=True, n_objects=6,
                         objects=[dict(kind="spheroid", r=46, cx=100, cy=110, ring=True,
                                       hole_ratio=0.45, rough=0.04)])
    return img


def load_reference_input(path: str) -> torch.Tensor:
    """Exactly the documented pre-processing: RGB 8-bit PNG -> /255 -> normalise -> NCHW."""
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    assert a.shape == (INPUT, INPUT, 3)
    x = (a - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32))


def measure_ms(model, batch=4, repeats=7) -> float:
    x = torch.randn(batch, 3, INPUT, INPUT)
    with torch.no_grad():
        model(x)
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            ts.append(time.perf_counter() - t)
    return float(np.min(ts)) / batch * 1000  # min: robust to other processes sharing the CPU


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_model(name: str, model: torch.nn.Module, record: dict, out_root: str):
    model = model.to(memory_format=torch.contiguous_format).eval()
    out = os.path.join(out_root, name)
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "model.onnx")
    dummy = torch.randn(1, 3, INPUT, INPUT)
    torch.onnx.export(model, dummy, onnx_path, opset_version=OPSET, input_names=["input"],
                      output_names=["probabilities"], do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL,
                      dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                                    "probabilities": {0: "batch", 2: "height", 3: "width"}})
    import onnx
    m = onnx.load(onnx_path)
    # torch's shape inference loses the (constant) channel dimension of the output: set it to 1
    odim = m.graph.output[0].type.tensor_type.shape.dim[1]
    odim.Clear()
    odim.dim_value = 1
    m.doc_string = f"CellSeg {name} segmentation model: input [N,3,H,W] ImageNet-normalised RGB, " \
                   "output probabilities [N,1,H,W] (sigmoid applied)"
    onnx.save(m, onnx_path)
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"[export] {onnx_path}: {os.path.getsize(onnx_path) / 1e6:.2f} MB, ops {ops}", flush=True)

    # reference input / output
    ref_png = os.path.join(out, "reference-input.png")
    Image.fromarray(reference_image()).save(ref_png)
    x = load_reference_input(ref_png)
    with torch.no_grad():
        p = model(x)[0, 0].double().numpy()
    ort_check = None
    try:
        import onnxruntime as ort  # optional
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        q = sess.run(["probabilities"], {"input": x.numpy()})[0][0, 0]
        ort_check = float(np.abs(q - p).max())
        print(f"[export] onnxruntime max |diff| vs torch: {ort_check:.2e}", flush=True)
    except ImportError:
        print("[export] onnxruntime not installed: torch vs ONNX not compared here", flush=True)
    reference = {
        "model": name,
        "image": "reference-input.png",
        "preprocessing": ("Read the PNG as 8-bit RGB (it is already 256x256: no resize); "
                          "value/255; per channel (v-mean)/std with mean [0.485,0.456,0.406] "
                          "std [0.229,0.224,0.225]; NCHW float32 [1,3,256,256]."),
        "inputShape": [1, 3, INPUT, INPUT],
        "inputSum": float(x.double().sum()),
        "outputShape": [1, 1, INPUT, INPUT],
        "outputSum": float(p.sum()),
        "outputMean": float(p.mean()),
        "outputMin": float(p.min()),
        "outputMax": float(p.max()),
        "foregroundPixelsAt0_5": int((p > 0.5).sum()),
        "pixels": [{"y": y, "x": xx, "value": float(p[y, xx])} for y, xx in REF_PIXELS],
        "tolerance": {"pixelAbs": 1e-4, "meanAbs": 1e-4, "sumRelative": 1e-4,
                      "foregroundPixelsAbs": 20},
        "producedWith": f"torch {torch.__version__}",
    }
    if ort_check is not None:
        reference["onnxruntimeMaxAbsDiff"] = ort_check
    with open(os.path.join(out, "reference.json"), "w") as fh:
        json.dump(reference, fh, indent=2)

    torch.set_num_threads(2)
    ms = measure_ms(model)
    n_params = sum(t.numel() for t in model.parameters())
    info = {
        "name": name,
        "displayName": MODELS[name]["displayName"],
        "version": VERSION,
        "file": "model.onnx",
        "inputWidth": INPUT,
        "inputHeight": INPUT,
        "channels": 3,
        "mean": [round(float(v), 6) for v in MEAN],
        "std": [round(float(v), 6) for v in STD],
        "inputName": "input",
        "outputName": "probabilities",
        "inputShape": ["batch", 3, INPUT, INPUT],
        "outputShape": ["batch", 1, INPUT, INPUT],
        "outputKind": "probabilities",
        "defaultThreshold": 0.5,
        "resize": "bilinear",
        "preferredBatch": 4,
        "maxBatch": 8,
        "costPerImageMs": round(ms, 1),
        "costMeasuredWith": "torch CPU, 2 threads, batch 4, 256x256, best of 7 runs",
        "parameters": int(n_params),
        "opset": OPSET,
        "onnxBytes": os.path.getsize(onnx_path),
        "training": dict(record, sha256=sha256(onnx_path)),
    }
    info["training"].pop("history", None)
    info["training"]["validationHistory"] = record.get("history", [])
    with open(os.path.join(out, "model.json"), "w") as fh:
        json.dump(info, fh, indent=2)
    print(f"[export] {name}: {ms:.1f} ms/image (batch 4), {n_params / 1e6:.2f} M params", flush=True)
    return info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=list(MODELS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    cache = os.path.join(HERE, ".cache")
    model = build(args.model)
    model.load_state_dict(torch.load(os.path.join(cache, f"{args.model}-seed{args.seed}.pt")))
    with open(os.path.join(cache, f"{args.model}-seed{args.seed}.json")) as fh:
        record = json.load(fh)
    export_model(args.model, model, record, args.out)


if __name__ == "__main__":
    main()
