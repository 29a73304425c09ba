"""Segmentation networks (fully convolutional, sigmoid inside).

All models take ``input`` float32 [N, 3, H, W] (ImageNet-normalised RGB) and
return ``probabilities`` float32 [N, 1, H, W] in [0, 1].  H and W must be
multiples of 32 (the service uses 256 x 256).

* ``hrnet``         - small HRNet: 4 parallel branches (1/4 .. 1/32) with repeated
                      multi-resolution fusion, light 1/2-resolution refinement head.
                      Fewest FLOPs.
* ``cbam_resunet``  - residual U-Net (5 levels) with CBAM channel + spatial
                      attention in every block.  Medium.
* ``unet_spherohq`` - widest U-Net, 5 levels, residual double-conv blocks (no
                      attention).  Slowest.  (A plain, non-residual double-conv version
                      plateaued at ~0.70 validation IoU within the CPU budget.)

Only export-friendly ops are used (Conv, BatchNorm, ReLU, MaxPool, bilinear
Resize to an explicit size, Concat, Add, Mul, ReduceMean/ReduceMax, Sigmoid).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def cbr(cin, cout, k=3, s=1, relu=True):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def up_to(x, ref):
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = cbr(c, c)
        self.c2 = cbr(c, c, relu=False)

    def forward(self, x):
        return F.relu(x + self.c2(self.c1(x)))


# --------------------------------------------------------------------------- HRNet
class Fuse(nn.Module):
    """HRNet exchange unit: every output branch sums all input branches."""

    def __init__(self, chans):
        super().__init__()
        n = len(chans)
        self.ops = nn.ModuleList()
        for i in range(n):
            row = nn.ModuleList()
            for j in range(n):
                if j == i:
                    row.append(nn.Identity())
                elif j > i:  # lower resolution -> 1x1 conv, upsample
                    row.append(cbr(chans[j], chans[i], k=1, relu=False))
                else:  # higher resolution -> strided convs
                    seq = []
                    for t in range(i - j):
                        last = t == i - j - 1
                        seq.append(cbr(chans[j], chans[i] if last else chans[j], s=2, relu=not last))
                    row.append(nn.Sequential(*seq))
            self.ops.append(row)

    def forward(self, xs):
        outs = []
        for i, row in enumerate(self.ops):
            acc = xs[i]
            for j, op in enumerate(row):
                if j == i:
                    continue
                y = op(xs[j])
                if j > i:
                    y = up_to(y, xs[i])
                acc = acc + y
            outs.append(F.relu(acc))
        return outs


class HRModule(nn.Module):
    def __init__(self, chans, blocks=1):
        super().__init__()
        self.branches = nn.ModuleList(
            [nn.Sequential(*[BasicBlock(c) for _ in range(blocks)]) for c in chans])
        self.fuse = Fuse(chans)

    def forward(self, xs):
        return self.fuse([b(x) for b, x in zip(self.branches, xs)])


class HRNetSeg(nn.Module):
    def __init__(self, chans=(24, 40, 64, 96), stem=16):
        super().__init__()
        c1, c2, c3, c4 = chans
        self.stem1 = cbr(3, stem, s=2)            # 1/2
        self.stem2 = nn.Sequential(cbr(stem, 32, s=2), BasicBlock(32))   # 1/4
        self.t1 = nn.ModuleList([cbr(32, c1), cbr(32, c2, s=2)])
        self.s2 = HRModule([c1, c2])
        self.t2 = cbr(c2, c3, s=2)
        self.s3 = nn.ModuleList([HRModule([c1, c2, c3]), HRModule([c1, c2, c3])])
        self.t3 = cbr(c3, c4, s=2)
        self.s4 = HRModule([c1, c2, c3, c4])
        self.head = cbr(c1 + c2 + c3 + c4, 32, k=1)
        self.refine = nn.Sequential(cbr(32 + stem, 16), nn.Conv2d(16, 1, 1))

    def logits(self, x):
        s1 = self.stem1(x)
        s = self.stem2(s1)
        xs = [self.t1[0](s), self.t1[1](s)]
        xs = self.s2(xs)
        xs = xs + [self.t2(xs[-1])]
        for m in self.s3:
            xs = m(xs)
        xs = xs + [self.t3(xs[-1])]
        xs = self.s4(xs)
        f = torch.cat([xs[0]] + [up_to(t, xs[0]) for t in xs[1:]], 1)
        f = self.head(f)
        f = torch.cat([up_to(f, s1), s1], 1)
        logit = self.refine(f)
        return F.interpolate(logit, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


# --------------------------------------------------------------------------- CBAM Res-U-Net
class CBAM(nn.Module):
    def __init__(self, c, red=8):
        super().__init__()
        h = max(4, c // red)
        self.mlp = nn.Sequential(nn.Conv2d(c, h, 1), nn.ReLU(inplace=True), nn.Conv2d(h, c, 1))
        self.spatial = nn.Sequential(nn.Conv2d(2, 1, 7, padding=3, bias=False), nn.BatchNorm2d(1))

    def forward(self, x):
        avg = x.mean(dim=(2, 3), keepdim=True)
        mx = torch.amax(x, dim=(2, 3), keepdim=True)
        x = x * torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        s = torch.cat([x.mean(dim=1, keepdim=True), torch.amax(x, dim=1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(s))


class ResCBAMBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c1 = cbr(cin, cout)
        self.c2 = cbr(cout, cout, relu=False)
        self.att = CBAM(cout)
        self.short = nn.Identity() if cin == cout else cbr(cin, cout, k=1, relu=False)

    def forward(self, x):
        return F.relu(self.short(x) + self.att(self.c2(self.c1(x))))


class CBAMResUNet(nn.Module):
    def __init__(self, chans=(16, 32, 48, 80, 128)):
        super().__init__()
        self.enc = nn.ModuleList()
        cin = 3
        for c in chans:
            self.enc.append(ResCBAMBlock(cin, c))
            cin = c
        self.dec = nn.ModuleList()
        for i in range(len(chans) - 1, 0, -1):
            self.dec.append(ResCBAMBlock(chans[i] + chans[i - 1], chans[i - 1]))
        self.out = nn.Conv2d(chans[0], 1, 1)

    def logits(self, x):
        skips = []
        h = x
        for i, e in enumerate(self.enc):
            if i > 0:
                h = F.max_pool2d(h, 2)
            h = e(h)
            skips.append(h)
        for k, d in enumerate(self.dec):
            s = skips[-2 - k]
            h = d(torch.cat([up_to(h, s), s], 1))
        return self.out(h)

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


# --------------------------------------------------------------------------- U-Net (HQ)
class DoubleConv(nn.Module):
    """Two 3x3 conv-BN-ReLU with a residual (1x1 projection) shortcut."""

    def __init__(self, cin, cout):
        super().__init__()
        self.c1 = cbr(cin, cout)
        self.c2 = cbr(cout, cout, relu=False)
        self.short = nn.Identity() if cin == cout else cbr(cin, cout, k=1, relu=False)

    def forward(self, x):
        return F.relu(self.short(x) + self.c2(self.c1(x)))


class UNetHQ(nn.Module):
    # Narrow at full and half resolution (as narrow as cbam_resunet there), widest of the three below: the deep
    # levels carry the context that large, flat spheroids need, while the cheap top levels let the network train
    # about 1.6 times as many steps per minute as with 24/48 channels there.
    def __init__(self, chans=(16, 32, 96, 160, 256)):
        super().__init__()
        self.enc = nn.ModuleList()
        cin = 3
        for c in chans:
            self.enc.append(DoubleConv(cin, c))
            cin = c
        self.dec = nn.ModuleList()
        for i in range(len(chans) - 1, 0, -1):
            self.dec.append(DoubleConv(chans[i] + chans[i - 1], chans[i - 1]))
        self.out = nn.Conv2d(chans[0], 1, 1)

    def logits(self, x):
        skips = []
        h = x
        for i, e in enumerate(self.enc):
            if i > 0:
                h = F.max_pool2d(h, 2)
            h = e(h)
            skips.append(h)
        for k, d in enumerate(self.dec):
            s = skips[-2 - k]
            h = d(torch.cat([up_to(h, s), s], 1))
        return self.out(h)

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


MODELS = {
    "hrnet": dict(cls=HRNetSeg, displayName="HRNet-Lite (fast)"),
    "cbam_resunet": dict(cls=CBAMResUNet, displayName="CBAM Residual U-Net (balanced)"),
    "unet_spherohq": dict(cls=UNetHQ, displayName="U-Net SpheroHQ (best quality)"),
}


def build(name: str) -> nn.Module:
    return MODELS[name]["cls"]()


if __name__ == "__main__":
    import time
    torch.set_num_threads(2)
    for name in MODELS:
        m = build(name).eval()
        n = sum(p.numel() for p in m.parameters())
        x = torch.randn(4, 3, 256, 256)
        with torch.no_grad():
            m(x)
            t = time.time()
            for _ in range(3):
                y = m(x)
            dt = (time.time() - t) / 3
        m.train()
        xb = torch.randn(8, 3, 256, 256)
        t = time.time()
        for _ in range(2):
            m.zero_grad()
            m(xb).mean().backward()
        tt = (time.time() - t) / 2
        print(f"{name}: {n/1e6:.2f}M params, {dt/4*1000:.1f} ms/img infer b4, train step b8 {tt:.2f}s", tuple(y.shape))
