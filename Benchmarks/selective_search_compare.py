#!/usr/bin/env python3
"""Selective search, ours (Swift) against OpenCV's ximgproc, on the same images.

For every image: ours in "fast" mode (the paper's / R-CNN's: HSV+Lab, k in {50, 100},
C+T+S+F and T+S+F, the paper's ranking), ours in "fastOpenCV" mode (OpenCV's configuration:
k in {150, 300, 450}, 100-pixel minimum segment, OpenCV's level ranking; see
Sources/Detection/Proposals/SelectiveSearch) and OpenCV's
createSelectiveSearchSegmentation() + switchToSelectiveSearchFast() (its defaults: HSV+Lab,
k in {150, 300, 450}, the same two similarity combinations), both single-threaded.
All ranked lists are truncated to the same length per image, min(N, shortest list),
for each N in --tops, and recall of the COCO ground-truth boxes at IoU 0.5 and 0.7 is reported
with the number of boxes actually compared and the median seconds per image (the median over
images of each image's median over --repeats runs after one warm-up).

What it does not measure: decoding (ours is timed inside the Swift process around
SelectiveSearch.proposals only; OpenCV around setBaseImage + switchToSelectiveSearchFast +
process, with the BGR image already in memory), multi-threaded speed, or detection mAP.

Ours runs as `rcnn proposals` (a release build of this package), which writes proposals as JSON:

    .venv/bin/python Benchmarks/selective_search_compare.py [--package-path .] [--max-val 50]
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ground_truth(instances_files):
    boxes = {}
    for path in instances_files:
        if not os.path.exists(path):
            continue
        data = json.load(open(path))
        names = {im["id"]: im["file_name"] for im in data["images"]}
        for a in data["annotations"]:
            x, y, w, h = a["bbox"]
            boxes.setdefault(os.path.basename(names[a["image_id"]]), []).append([x, y, x + w, y + h])
    return {k: np.array(v, dtype=np.float64) for k, v in boxes.items()}


def iou_matrix(gt, boxes):
    if len(boxes) == 0:
        return np.zeros((len(gt), 0))
    x1 = np.maximum(gt[:, None, 0], boxes[None, :, 0])
    y1 = np.maximum(gt[:, None, 1], boxes[None, :, 1])
    x2 = np.minimum(gt[:, None, 2], boxes[None, :, 2])
    y2 = np.minimum(gt[:, None, 3], boxes[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    area_b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area_g[:, None] + area_b[None, :] - inter)


def run_ours(package, images, repeats, mode, build):
    """Our selective search through `rcnn proposals` (release build of the package at `package`)."""
    if build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "rcnn", "--package-path", package], check=True)
    binary = os.path.join(package, ".build", "release", "rcnn")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.json")
        # "MODE@T": our MODE with near-duplicate suppression at IoU T (rcnn proposals --near-duplicate-iou).
        name, _, dedup = mode.partition("@")
        extra = ["--near-duplicate-iou", dedup] if dedup else []
        subprocess.run([binary, "proposals", "--mode", name, "--repeats", str(repeats), "--output", out] + extra
                       + [os.path.abspath(p) for p in images], check=True, stdout=subprocess.DEVNULL)
        data = json.load(open(out))
    result = {}
    for item in data["images"]:
        result[os.path.abspath(item["path"])] = (np.array(item["boxes"], dtype=np.float64).reshape(-1, 4),
                                                 statistics.median(item["seconds"]))
    return result


def run_opencv(images, repeats):
    import cv2
    cv2.setNumThreads(1)
    result = {}
    for path in images:
        img = cv2.imread(path)
        times = []
        for r in range(repeats + 1):
            start = time.perf_counter()
            ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
            ss.setBaseImage(img)
            ss.switchToSelectiveSearchFast()
            rects = ss.process()
            if r > 0:
                times.append(time.perf_counter() - start)
        boxes = np.array(rects, dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # (x, y, w, h) -> (x1, y1, x2, y2), exclusive ends
        result[os.path.abspath(path)] = (boxes, statistics.median(times))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package-path", default=REPO, help="the rcnn Swift package (built in release)")
    parser.add_argument("--max-val", type=int, default=50, help="images taken from .cache/shapes/val/images")
    parser.add_argument("--tops", default="100,300,500,2000", help="proposal counts N to compare at")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="fast,fastOpenCV",
                        help="our modes, comma-separated (single, fast, fastOpenCV)")
    parser.add_argument("--no-build", action="store_true", help="reuse the release build")
    parser.add_argument("--json", help="also write the table here")
    args = parser.parse_args()

    images = sorted(glob.glob(os.path.join(REPO, "Samples", "*.jpg")))
    images += sorted(glob.glob(os.path.join(REPO, ".cache/shapes/val/images/*.jpg")))[:args.max_val]
    truth = ground_truth([os.path.join(REPO, "Samples/instances_samples.json"),
                          os.path.join(REPO, ".cache/shapes/val/instances.json")])
    images = [p for p in images if os.path.basename(p) in truth]
    if not images:
        sys.exit("no images with ground truth")
    modes = args.modes.split(",")
    ours_by_mode = {}
    for i, mode in enumerate(modes):
        ours_by_mode[mode] = run_ours(args.package_path, images, args.repeats, mode, i == 0 and not args.no_build)
    theirs = run_opencv(images, args.repeats)
    # The common length per image: the shortest list of any method, capped at N.
    shortest = {os.path.abspath(p): min(len(r[os.path.abspath(p)][0]) for r in [theirs, *ours_by_mode.values()])
                for p in images}

    n_objects = sum(len(truth[os.path.basename(p)]) for p in images)
    print(f"{len(images)} images, {n_objects} ground-truth boxes; both single-threaded, same N per image")
    rows = []
    header = f"{'method':<22}{'N':>6}{'boxes/img':>11}{'R@0.5':>8}{'R@0.7':>8}{'ms/img (median)':>17}"
    print(header)
    print("-" * len(header))
    for top in [int(t) for t in args.tops.split(",")]:
        methods = [(f"ours ({m})", r) for m, r in ours_by_mode.items()] + [("opencv (fast)", theirs)]
        for name, result in methods:
            hits5 = hits7 = used = 0
            for p in images:
                gt = truth[os.path.basename(p)]
                n = min(top, shortest[os.path.abspath(p)])
                best = iou_matrix(gt, result[os.path.abspath(p)][0][:n]).max(axis=1, initial=0)
                hits5 += int((best >= 0.5).sum())
                hits7 += int((best >= 0.7).sum())
                used += n
            ms = 1000 * statistics.median(result[os.path.abspath(p)][1] for p in images)
            row = dict(method=name, top=top, boxes_per_image=used / len(images), recall_50=hits5 / n_objects,
                       recall_70=hits7 / n_objects, ms_per_image=ms)
            rows.append(row)
            print(f"{name:<22}{top:>6}{row['boxes_per_image']:>11.1f}{row['recall_50']:>8.3f}"
                  f"{row['recall_70']:>8.3f}{ms:>17.1f}")
    print("uncapped (each method's whole list):")
    full = {}
    for name, result in methods:
        hits5 = hits7 = 0
        for p in images:
            best = iou_matrix(truth[os.path.basename(p)], result[os.path.abspath(p)][0]).max(axis=1, initial=0)
            hits5 += int((best >= 0.5).sum())
            hits7 += int((best >= 0.7).sum())
        full[name] = dict(boxes_per_image=statistics.mean(len(result[os.path.abspath(p)][0]) for p in images),
                          recall_50=hits5 / n_objects, recall_70=hits7 / n_objects)
        print(f"{name:<22}{'all':>6}{full[name]['boxes_per_image']:>11.1f}{full[name]['recall_50']:>8.3f}"
              f"{full[name]['recall_70']:>8.3f}")
    if args.json:
        json.dump(dict(images=len(images), objects=n_objects, rows=rows, uncapped=full), open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
