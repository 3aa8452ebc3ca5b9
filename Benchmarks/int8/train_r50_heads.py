"""ResNet-50 FPN Mask R-CNN with trained heads on the shapes dataset, for the int8 reproduction measure.

No pretrained ResNet-50 can be downloaded here, and random heads rank near-tied proposals and
classes, so on random weights no int8 runtime keeps the float32 detections (Docs/int8.md).
This script takes the damped random backbone of r50_weights.py (batch norms re-estimated, every
residual branch scaled by --residual-gain), freezes its ResNet body, and trains the FPN, the RPN and
the box and mask heads on the synthetic shapes scenes (Tools/make_shapes_dataset.py) for --minutes
on the CPU: AdamW, linear warm-up, cosine decay planned from the measured speed. It then writes the
checkpoint with torch.save, as published checkpoints are, and converts it twice with
Tools/convert_torchvision.py: as maskrcnn_resnet50_fpn (every key) and as fasterrcnn_resnet50_fpn
(the same weights without the mask branch, whose box path is the same modules). Both configs run at
--size (min and max size), with the shapes class names.

    .venv/bin/python Tools/make_shapes_dataset.py --out /tmp/r50shapes --split train --count 2000 --seed 1
    .venv/bin/python Benchmarks/int8/train_r50_heads.py --data /tmp/r50shapes/train --out /tmp/r50t \\
        --minutes 40

then calibrate and compare as the README's int8 section shows (rcnn calibrate, rcnn compare).
"""
import argparse
import importlib.util
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


R50 = _load("r50_weights", os.path.join(HERE, "r50_weights.py"))
FIXTURES = R50.FIXTURES
sys.path.insert(0, os.path.join(ROOT, "Tools"))
TRAIN = _load("train_shapes_model", os.path.join(ROOT, "Tools", "train_shapes_model.py"))
SHAPES = _load("shapes_model", os.path.join(ROOT, "Tools", "shapes_model.py"))


def build(size, residual_gain, seed):
    """maskrcnn_resnet50_fpn for the shapes classes at size x size, damped random ResNet body frozen."""
    torch.manual_seed(seed)
    model = FIXTURES.C.build_model("maskrcnn_resnet50_fpn", SHAPES.NUM_CLASSES)
    FIXTURES.recalibrate_batchnorm(model, [FIXTURES.synth_image(h, w, s) for h, w, s in FIXTURES.CALIBRATION])
    R50.scale_residual_branches(model, residual_gain)
    model.transform.min_size, model.transform.max_size = (size,), size
    model.roi_heads.fg_bg_sampler.batch_size_per_image = 128
    for p in model.backbone.body.parameters():
        p.requires_grad_(False)
    return model


def convert(state, arch, out_dir, size, classes_file):
    if arch == "fasterrcnn_resnet50_fpn":
        state = {k: v for k, v in state.items() if not k.startswith(("roi_heads.mask_head.", "roi_heads.mask_predictor."))}
    ckpt = os.path.join(out_dir, f"{arch}.pth")
    torch.save({"model": state, "note": "train_r50_heads.py"}, ckpt)
    flags = {"box_score_thresh": 0.05, "box_detections_per_img": 100, "min_size": size, "max_size": size}
    try:
        print(FIXTURES.convert_cli(arch, ckpt, out_dir, flags, classes_file), flush=True)
    finally:
        os.remove(ckpt)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a make_shapes_dataset.py split (images/, instances.json)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup-iters", type=int, default=100)
    ap.add_argument("--residual-gain", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.minutes <= 0 or args.batch < 1 or args.size < 64:
        sys.exit("--minutes must be positive, --batch at least 1 and --size at least 64")
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    TRAIN.LOG = open(os.path.join(args.out, "train.log"), "a", encoding="utf-8")
    log = TRAIN.log

    model = build(args.size, args.residual_gain, args.seed)
    data = TRAIN.ShapesDataset(args.data, flip_prob=0.5, seed=args.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    other = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr)
    log(f"train_r50_heads: {len(data)} images, size {args.size}, batch {args.batch}, "
        f"{sum(p.numel() for p in params):,} trained parameters, ResNet body frozen")

    start = time.time()
    deadline = start + 60 * args.minutes
    gen = torch.Generator().manual_seed(args.seed)
    order, at, it, total = torch.randperm(len(data), generator=gen).tolist(), 0, 0, None
    TRAIN.set_train_mode(model)
    while time.time() < deadline:
        if it == 20 or (it > 20 and it % 50 == 0):
            per_iter = (time.time() - start) / it
            total = it + int((deadline - time.time()) / per_iter)
        lr = TRAIN.scheduled_lr(it, args.lr, args.warmup_iters, total)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = []
        for _ in range(args.batch):
            if at == len(order):
                data.epoch += 1
                order, at = torch.randperm(len(data), generator=gen).tolist(), 0
            batch.append(data[order[at]])
            at += 1
        images, targets = TRAIN.collate(batch)
        losses = model(list(images), list(targets))
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            sys.exit(f"iteration {it}: loss is {loss.item()}")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        it += 1
        if it % 25 == 0:
            parts = " ".join(f"{k[5:] if k.startswith('loss_') else k} {v.item():.3f}" for k, v in losses.items())
            log(f"iter {it}/{total} lr {lr:.6f} loss {loss.item():.3f} ({parts}) "
                f"{(time.time() - start) / it:.2f} s/iter")
    model.eval()
    state = model.state_dict()
    torch.save(state, os.path.join(args.out, "checkpoint.pth"))
    classes_file = os.path.join(args.out, "classes.txt")
    with open(classes_file, "w", encoding="utf-8") as f:
        f.write("".join(name + "\n" for name in SHAPES.CLASSES))
    for arch in ("maskrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn"):
        convert(state, arch, args.out, args.size, classes_file)
    log(f"done: {it} iterations in {(time.time() - start) / 60:.1f} min; wrote {args.out}/*.json")


if __name__ == "__main__":
    main()
