"""Train one segmentation model on synthetic spheroids and export it to ONNX.

    /usr/bin/python3 training/train.py --model hrnet --seed 1 [--minutes 12] [--out models]

Training data is generated on the fly by ``spheroids.generate`` (seeded): a pool
of samples is filled at start and a few fresh samples replace old ones at every
step.  Phase A trains on random 128x128 crops (cheap), phase B on full 256x256
images (the service's input size).  Adam, BCE + soft Dice, warm-up + cosine
learning rate.  The number of steps is fixed per model; ``--minutes`` is a
wall-time budget: when the CPU is slower than planned (e.g. shared with other
jobs) the phase switch and the cosine schedule follow the elapsed fraction of the
budget instead, so the run still ends annealed on time (``training.timeLimited``
is then true and the run is seeded but no longer bit-reproducible).  On an
unloaded 2-core machine the default budgets are not reached and the run is
purely step-based (deterministic).  ``--minutes 0`` forces the step-based mode.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (INPUT, TRAIN_SEED_STRIDE, VAL_COUNT, VAL_SEED_BASE, iou_dice,  # noqa: E402
                    make_sample, normalise_batch)
from models import build  # noqa: E402

# per model: learning rate, phase A (crop 128) steps / batch, phase B (256) steps / batch,
# fresh samples per step, pool size
CONFIGS = {
    "hrnet": dict(lr=3e-3, steps_a=1200, batch_a=16, steps_b=350, batch_b=8, fresh=1, pool=384, minutes=12),
    "cbam_resunet": dict(lr=3e-3, steps_a=900, batch_a=12, steps_b=250, batch_b=6, fresh=2, pool=384,
                         minutes=12),
    # No phase B for the U-Net: its batches of 4 full images made the BatchNorm statistics noisy (validation IoU
    # fell from 0.87 to 0.82 over phase B in the old two-stage recipe); the statistics are re-estimated on full
    # 256 x 256 images at the end instead (bn_recal).
    "unet_spherohq": dict(lr=3e-3, steps_a=1700, batch_a=8, steps_b=0, batch_b=4, fresh=2, pool=384,
                          minutes=15, bn_recal=True),
}


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def load_val():
    xs, ms = [], []
    for i in range(VAL_COUNT):
        f, m = make_sample(VAL_SEED_BASE + i, augment=False)
        xs.append(f)
        ms.append(m)
    return np.stack(xs), np.stack(ms)


@torch.no_grad()
def evaluate(model, vx, vm, batch=8):
    model.eval()
    inter = union = ssum = 0.0
    ious, dices = [], []
    for i in range(0, len(vx), batch):
        x = normalise_batch(vx[i:i + batch]).contiguous(memory_format=torch.channels_last)
        p = model(x)[:, 0].numpy() > 0.5
        for k in range(len(p)):
            iou, dice, a, b, c = iou_dice(p[k], vm[i + k])
            ious.append(iou)
            dices.append(dice)
            inter += a
            union += b
            ssum += c
    model.train()
    return dict(iou=float(np.mean(ious)), dice=float(np.mean(dices)),
                globalIou=inter / union, globalDice=2 * inter / ssum)


@torch.no_grad()
def recalibrate_bn(model, seed, n=128, batch=8):
    """Re-estimate BatchNorm running statistics as exact averages over n fresh full-size
    (256x256) training samples.  Needed for small phase-B batches (4 images of very
    different styles), whose momentum-averaged statistics are too noisy for eval mode."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None          # cumulative moving average
    model.train()
    for i in range(0, n, batch):
        xs = np.stack([make_sample(seed + i + k)[0] for k in range(batch)])
        model(normalise_batch(xs).contiguous(memory_format=torch.channels_last))
    for m in bns:
        m.momentum = 0.1
    model.eval()


def loss_fn(logits, target):
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    den = p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    dice = 1 - (2 * inter + 1) / (den + 1)
    return bce + dice.mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=list(CONFIGS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=None,
                    help="wall-time budget (default per model; 0 = none, purely step-based)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    ap.add_argument("--steps-scale", type=float, default=1.0, help="multiply the step counts (debug)")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--recal-only", action="store_true",
                    help="only redo the BatchNorm re-calibration + export of the cached weights")
    ap.add_argument("--stage2", action="store_true",
                    help="continue training from the cached stage-1 weights of this model/seed "
                         "(fresh data seeds, new warm-up + cosine schedule; see --steps-a/-b, --lr)")
    ap.add_argument("--steps-a", type=int, default=None)
    ap.add_argument("--steps-b", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = dict(CONFIGS[args.model])
    if args.minutes is None:
        args.minutes = cfg["minutes"]
    if args.lr is not None:
        cfg["lr"] = args.lr
    if args.steps_a is not None:
        cfg["steps_a"] = args.steps_a
    if args.steps_b is not None:
        cfg["steps_b"] = args.steps_b
    steps_a = int(round(cfg["steps_a"] * args.steps_scale))
    steps_b = int(round(cfg["steps_b"] * args.steps_scale))
    data_base = args.seed * TRAIN_SEED_STRIDE + (5_000_000 if args.stage2 else 0)
    total = steps_a + steps_b
    rng = np.random.default_rng(args.seed)

    t_start = time.time()
    if args.recal_only:
        cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache")
        model = build(args.model)
        model.load_state_dict(torch.load(os.path.join(cache, f"{args.model}-seed{args.seed}-nobnrecal.pt")))
        with open(os.path.join(cache, f"{args.model}-seed{args.seed}-nobnrecal.json")) as fh:
            record = json.load(fh)
        vx, vm = load_val()
        model = model.to(memory_format=torch.channels_last)
        finish(args, cfg, model, record, vx, vm, cache)
        return
    vx, vm = load_val()
    log(f"validation set ready ({len(vx)} images)")
    next_id = 0
    pool_x, pool_m = [], []
    for _ in range(cfg["pool"]):
        f, m = make_sample(data_base + next_id)
        next_id += 1
        pool_x.append(f)
        pool_m.append(m)
    log(f"pool filled ({len(pool_x)} samples) in {time.time() - t_start:.0f}s")

    cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache")
    os.makedirs(cache, exist_ok=True)
    model = build(args.model)
    stage1 = None
    if args.stage2:
        s1 = os.path.join(cache, f"{args.model}-seed{args.seed}-stage1.pt")
        if not os.path.exists(s1):
            import shutil
            shutil.copy(os.path.join(cache, f"{args.model}-seed{args.seed}.pt"), s1)
            shutil.copy(os.path.join(cache, f"{args.model}-seed{args.seed}.json"),
                        os.path.join(cache, f"{args.model}-seed{args.seed}-stage1.json"))
        model.load_state_dict(torch.load(s1))
        with open(os.path.join(cache, f"{args.model}-seed{args.seed}-stage1.json")) as fh:
            stage1 = json.load(fh)
        log(f"stage 2: starting from {s1}")
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    warm = 40

    def lr_at(step, time_frac=0.0):
        if step < warm:
            return cfg["lr"] * (step + 1) / warm
        t = max((step - warm) / max(1, total - warm), min(1.0, time_frac))
        return cfg["lr"] * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

    t_train = time.time()
    # time budget for the optimisation itself (minus set-up so far and ~1 min for export)
    budget_s = max(60.0, args.minutes * 60 - (t_train - t_start) - 60) if args.minutes > 0 else float("inf")
    frac_a = steps_a / total
    time_limited = False
    in_phase_b = False
    steps_in_a = 0
    running = 0.0
    step = 0
    history = []
    while step < total:
        time_frac = (time.time() - t_train) / budget_s
        if time_frac >= 1.0:
            time_limited = True
            log(f"time budget reached at step {step}: schedule was compressed to fit")
            break
        if time_frac > (step / total) + 0.01 and not time_limited:
            time_limited = True
            log(f"slower than planned (CPU shared?): schedule follows the time budget from step {step}")
        # refresh pool
        for _ in range(cfg["fresh"]):
            k = int(rng.integers(len(pool_x)))
            pool_x[k], pool_m[k] = make_sample(data_base + next_id)
            next_id += 1
        if not in_phase_b and (step >= steps_a or time_frac >= frac_a):
            in_phase_b = True
            steps_in_a = step
            log(f"phase B (full 256x256 images) from step {step}")
        phase_a = not in_phase_b
        bs = cfg["batch_a"] if phase_a else cfg["batch_b"]
        crop = 128 if phase_a else INPUT
        xs = np.empty((bs, crop, crop, 3), np.float32)
        ms = np.empty((bs, crop, crop), np.float32)
        for b in range(bs):
            k = int(rng.integers(len(pool_x)))
            f, m = pool_x[k], pool_m[k]
            if crop < INPUT:
                y0, x0 = rng.integers(0, INPUT - crop + 1, 2)
                f = f[y0:y0 + crop, x0:x0 + crop]
                m = m[y0:y0 + crop, x0:x0 + crop]
            r = int(rng.integers(4))
            f, m = np.rot90(f, r), np.rot90(m, r)
            if rng.random() < 0.5:
                f, m = f[:, ::-1], m[:, ::-1]
            if rng.random() < 0.5:   # channel permutation (colour variety)
                f = f[..., rng.permutation(3)]
            xs[b] = f
            ms[b] = m
        x = normalise_batch(xs).contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(ms)[:, None]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, time_frac)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model.logits(x), y)
        loss.backward()
        opt.step()
        running = 0.98 * running + 0.02 * float(loss) if step else float(loss)
        if (step + 1) % 50 == 0:
            log(f"step {step + 1}/{total} loss {running:.4f} lr {lr_at(step, time_frac):.2e} "
                f"{(time.time() - t_train) / (step + 1):.2f}s/step")
        if (step + 1) % args.eval_every == 0 and step + 1 < total:
            v = evaluate(model, vx, vm)
            history.append(dict(step=step + 1, **v))
            log(f"  val iou {v['iou']:.4f} dice {v['dice']:.4f} global iou {v['globalIou']:.4f}")
        step += 1
    steps_done = step
    if not in_phase_b:
        steps_in_a = step
    train_minutes = (time.time() - t_start) / 60
    v = evaluate(model, vx, vm)
    history.append(dict(step=steps_done, **v))
    log(f"final val iou {v['iou']:.4f} dice {v['dice']:.4f} global iou {v['globalIou']:.4f} "
        f"({train_minutes:.1f} min)")

    record = dict(seed=args.seed, steps=steps_done, stepsPlanned=total, phaseASteps=steps_in_a,
                  phaseBSteps=steps_done - steps_in_a, timeLimited=time_limited,
                  minutesBudget=args.minutes, batchA=cfg["batch_a"], batchB=cfg["batch_b"], crop=128,
                  learningRate=cfg["lr"], samplesGenerated=next_id, minutes=round(train_minutes, 2),
                  validationImages=VAL_COUNT,
                  validationSeeds=f"{VAL_SEED_BASE}..{VAL_SEED_BASE + VAL_COUNT - 1}",
                  validationIou=round(v["iou"], 4), validationDice=round(v["dice"], 4),
                  validationGlobalIou=round(v["globalIou"], 4),
                  validationGlobalDice=round(v["globalDice"], 4),
                  history=[{k: (round(x, 4) if isinstance(x, float) else x) for k, x in h.items()}
                           for h in history],
                  command=f"/usr/bin/python3 training/train.py --model {args.model} --seed {args.seed} "
                          f"--minutes {args.minutes:g}",
                  torch=torch.__version__)
    if stage1 is not None:
        stage1.pop("history", None)
        record["command"] = stage1["command"] + " && " + record["command"] + \
            f" --stage2 --steps-a {steps_a} --steps-b {steps_b} --lr {cfg['lr']:g}"
        record["stage1"] = stage1
        record["steps"] = stage1["steps"] + steps_done
        record["minutes"] = round(stage1["minutes"] + record["minutes"], 2)
        with open(os.path.join(cache, f"{args.model}-seed{args.seed}.json"), "w") as fh:
            json.dump(record, fh, indent=2)
    finish(args, cfg, model, record, vx, vm, cache)


def finish(args, cfg, model, record, vx, vm, cache):
    if cfg.get("bn_recal"):
        model = model.to(memory_format=torch.contiguous_format).eval()
        torch.save(model.state_dict(), os.path.join(cache, f"{args.model}-seed{args.seed}-nobnrecal.pt"))
        with open(os.path.join(cache, f"{args.model}-seed{args.seed}-nobnrecal.json"), "w") as fh:
            json.dump(record, fh, indent=2)
        model = model.to(memory_format=torch.channels_last)
        recalibrate_bn(model, args.seed * TRAIN_SEED_STRIDE + 8_000_000)
        v = evaluate(model, vx, vm)
        log(f"after BatchNorm re-calibration: val iou {v['iou']:.4f} dice {v['dice']:.4f} "
            f"global iou {v['globalIou']:.4f}")
        record.update(bnRecalibrated=True, validationIouBeforeBnRecalibration=record["validationIou"],
                      validationIou=round(v["iou"], 4), validationDice=round(v["dice"], 4),
                      validationGlobalIou=round(v["globalIou"], 4),
                      validationGlobalDice=round(v["globalDice"], 4))
    model = model.to(memory_format=torch.contiguous_format).eval()
    torch.save(model.state_dict(), os.path.join(cache, f"{args.model}-seed{args.seed}.pt"))
    with open(os.path.join(cache, f"{args.model}-seed{args.seed}.json"), "w") as fh:
        json.dump(record, fh, indent=2)
    from export import export_model
    export_model(args.model, model, record, args.out)


if __name__ == "__main__":
    main()
