#!/usr/bin/env python3
"""Seconds per image for the four R-CNN generations on one set of weights, beside the papers' figures.

    python3 Benchmarks/pipeline_table.py [--rcnn .build/release/rcnn] [--threads 2]
        [--vgg .cache/fixtures/fasterrcnn_vgg16/fasterrcnn_vgg16.json]

Runs `rcnn bench --format json --pipeline P` (median of --runs after one warm-up; the R-CNN
pipeline, which takes minutes with VGG-16, once after no warm-up) for:
  * the embedded default model (MobileNetV3-FPN Mask R-CNN, 448 px input) on Samples/shapes_val_0000.jpg:
    rcnn, fast (selective search), faster, mask;
  * the VGG-16 Faster R-CNN of the parity fixtures (random weights: the timings do not depend on
    them) on a 500x375 synthetic image (PASCAL VOC's typical size, resized to 600 px as the papers
    do): rcnn, fast (selective search), fast with truncated SVD (fc6 1024, fc7 256), faster.
Prints a Markdown table with the per-stage medians. The papers' figures are on GPUs (K40 / M40)
except where noted, and exclude or include proposal time as the note says; they are context, not
a like-for-like comparison.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PAPER = {
    "rcnn": "R-CNN (Girshick et al. 2014): 13 s/image on a GPU, 53 s/image on a CPU (AlexNet, proposals excluded); 47 s/image with VGG-16 on a K40 (Fast R-CNN, Table 4)",
    "fast": "Fast R-CNN (Girshick 2015): 0.32 s/image with VGG-16 on a K40, selective search excluded; selective search + Fast R-CNN 1.83 s/image (Faster R-CNN, Table 5)",
    "fast_svd": "Fast R-CNN with truncated SVD: 0.22 s/image (Table 4)",
    "faster": "Faster R-CNN (Ren et al. 2015): 0.198 s/image with VGG-16 on a K40, proposals included (Table 5)",
    "mask": "Mask R-CNN (He et al. 2017): 0.195 s/image, ResNet-101-FPN on a Tesla M40, plus 15 ms CPU to paste masks",
}


def bench(rcnn, config, pipeline, threads, runs, warmup, image=None, size=None, extra=()):
    cmd = [rcnn, "bench", "--format", "json", "--pipeline", pipeline, "--threads", str(threads),
           "--runs", str(runs), "--warmup", str(warmup)]
    if config:
        cmd += ["--config", config]
    cmd += ["--image", image] if image else ["--size", size]
    cmd += list(extra)
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr}")
    return json.loads(res.stdout)


def row(label, key, out):
    stages = {s["stage"]: s["median_ms"] for s in out["stages"]}
    total = stages.pop("total")
    detail = ", ".join(f"{k} {v / 1000:.2f}" if v >= 100 else f"{k} {v:.0f} ms" for k, v in stages.items() if v >= 0.5)
    return f"| {label} | {total / 1000:.2f} | {detail} | {PAPER[key]} |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rcnn", default=os.path.join(ROOT, ".build/release/rcnn"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--vgg", default=os.path.join(ROOT, ".cache/fixtures/fasterrcnn_vgg16/fasterrcnn_vgg16.json"))
    args = ap.parse_args()
    sample = os.path.join(ROOT, "Samples/shapes_val_0000.jpg")
    rows = []
    for p in ("rcnn", "fast", "faster", "mask"):
        out = bench(args.rcnn, None, p, args.threads, args.runs, 1, image=sample)
        rows.append(row(f"default model, {p}", p, out))
        print(rows[-1], file=sys.stderr, flush=True)
    if os.path.exists(args.vgg):
        plan = (("rcnn", "rcnn", 1, 0, ()), ("fast", "fast", args.runs, 1, ()),
                ("fast", "fast_svd", args.runs, 1, ("--svd-rank", "1024,256")),
                ("faster", "faster", args.runs, 1, ()))
        for p, key, runs, warmup, extra in plan:
            out = bench(args.rcnn, args.vgg, p, args.threads, runs, warmup, size="500x375", extra=extra)
            label = f"VGG-16, {p}" + (" + SVD 1024/256" if extra else "")
            rows.append(row(label, key, out))
            print(rows[-1], file=sys.stderr, flush=True)
    else:
        print(f"note: {args.vgg} not found (run Tests/Parity/make_fixtures.py); VGG-16 rows skipped", file=sys.stderr)
    print(f"| model, pipeline | s/image | stages (s, median of {args.runs}) | paper |")
    print("| --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
