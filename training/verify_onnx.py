"""Check an exported model: onnx.checker, graph I/O, and (optionally) ONNX Runtime vs torch.

    /usr/bin/python3 training/verify_onnx.py --model hrnet [--ortcheck /path/to/ortcheck.dll]

Writes the reference input (batch 1) and a batch-3 input built from generator
images, with the torch outputs, as raw little-endian float32 files to
training/.cache/.  When onnxruntime for Python is installed it compares
directly; otherwise, with ``--ortcheck`` it runs a small .NET console program
(ONNX Runtime from NuGet) given as ``dotnet ortcheck.dll model input N H W
expected`` that prints the max |difference|.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import INPUT, preprocess  # noqa: E402
from evaluate import load_model  # noqa: E402
from export import load_reference_input  # noqa: E402
from spheroids import generate  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--models", default=os.path.join(HERE, "..", "models"))
    ap.add_argument("--ortcheck", default=None)
    args = ap.parse_args()
    torch.set_num_threads(2)
    d = os.path.join(args.models, args.model)
    onnx_path = os.path.join(d, "model.onnx")
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)

    def dims(v):
        return [x.dim_param or x.dim_value for x in v.type.tensor_type.shape.dim]
    print("inputs:", [(i.name, dims(i)) for i in m.graph.input])
    print("outputs:", [(o.name, dims(o)) for o in m.graph.output])
    print("opset:", [(o.domain, o.version) for o in m.opset_import])

    model = load_model(args.model, args.seed)
    cache = os.path.join(HERE, ".cache")
    x1 = load_reference_input(os.path.join(d, "reference-input.png"))
    imgs = [generate(s, sz)[0] for s, sz in ((11, 300), (12, 256), (13, 512))]
    x3 = torch.from_numpy(np.stack([preprocess(i, INPUT) for i in imgs]))
    with open(os.path.join(d, "reference.json")) as fh:
        ref = json.load(fh)
    for tag, x in (("b1", x1), ("b3", x3)):
        with torch.no_grad():
            y = model(x).numpy()
        if tag == "b1":
            print(f"torch sum {y.sum():.6f} vs reference.json {ref['outputSum']:.6f}")
        xi = os.path.join(cache, f"{args.model}-{tag}-input.bin")
        yo = os.path.join(cache, f"{args.model}-{tag}-torch.bin")
        x.numpy().astype("<f4").tofile(xi)
        y.astype("<f4").tofile(yo)
        try:
            import onnxruntime as ort
            s = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
            q = s.run(None, {"input": x.numpy()})[0]
            print(f"{tag}: onnxruntime max |diff| {np.abs(q - y).max():.3e}")
        except ImportError:
            if args.ortcheck:
                out = subprocess.run(["dotnet", args.ortcheck, onnx_path, xi, str(x.shape[0]), str(INPUT),
                                      str(INPUT), yo], capture_output=True, text=True)
                print(f"{tag}: {out.stdout.strip()} {out.stderr.strip()}")
            else:
                print(f"{tag}: onnxruntime unavailable; inputs/outputs written to {cache}")


if __name__ == "__main__":
    main()
