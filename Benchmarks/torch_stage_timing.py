#!/usr/bin/env python3
"""Times torchvision's Mask/Faster R-CNN per stage on one input, for comparison with `rcnn bench`.

    .venv/bin/python Benchmarks/torch_stage_timing.py --config Config/models/NAME.json \
        --size 1088x800 --threads 2 --runs 5

Loads the same converted weights (the safetensors file the config names) into the torchvision
model, feeds the same synthetic test card `rcnn bench` uses, and prints per-stage medians. It does
not measure model loading or image decoding.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tools"))
import convert_torchvision as C  # noqa: E402


def test_card(w, h):
    """The same image as `rcnn bench`'s synthetic card."""
    img = np.zeros((h, w, 3), np.uint8)
    xs = np.arange(w)[None, :]
    ys = np.arange(h)[:, None]
    img[..., 0] = (xs * 255 // max(1, w - 1)).astype(np.uint8)
    img[..., 1] = (ys * 255 // max(1, h - 1)).astype(np.uint8)
    img[..., 2] = ((xs + ys) % 256).astype(np.uint8)
    img[h // 8:h // 2, w // 8:w // 3] = (220, 30, 30)
    img[h // 3:h * 7 // 8, w // 2:w * 7 // 8] = (30, 40, 200)
    return img


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--size", default="1088x800")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = json.load(open(args.config))
    state = load_file(os.path.join(os.path.dirname(args.config), cfg["weights"]))
    num_classes = len(cfg["classes"])
    kwargs = dict(box_score_thresh=cfg["box_score_thresh"], box_nms_thresh=cfg["box_nms_thresh"],
                  box_detections_per_img=cfg["box_detections_per_img"])
    model = C.build_model(cfg["architecture"], num_classes, **kwargs)
    model.load_state_dict(state, strict=False)
    model.eval()
    w, h = (int(v) for v in args.size.lower().split("x"))
    x = torch.from_numpy(test_card(w, h)).permute(2, 0, 1).float() / 255

    stages = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            stages.setdefault(name, []).append((time.perf_counter() - t) * 1000)
            return out
        return wrapper

    model.transform.forward = timed("preprocess", model.transform.forward)
    model.backbone.forward = timed("backbone", model.backbone.forward)
    model.rpn.forward = timed("rpn", model.rpn.forward)
    model.roi_heads.forward = timed("roi_heads", model.roi_heads.forward)
    model.transform.postprocess = timed("postprocess", model.transform.postprocess)
    totals = []
    with torch.no_grad():
        for i in range(args.warmup + args.runs):
            if i == args.warmup:
                stages.clear()
            t = time.perf_counter()
            out = model([x])
            if i >= args.warmup:
                totals.append((time.perf_counter() - t) * 1000)
    print(f"torch {torch.__version__} {cfg['architecture']} on {w}x{h}, {args.threads} threads, "
          f"{args.runs} runs; {len(out[0]['boxes'])} detections")
    for name, v in stages.items():
        print(f"{name:14s} {statistics.median(v):10.1f} ms (min {min(v):.1f}, max {max(v):.1f})")
    print(f"{'total':14s} {statistics.median(totals):10.1f} ms (min {min(totals):.1f}, max {max(totals):.1f})")


if __name__ == "__main__":
    main()
