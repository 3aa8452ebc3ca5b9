#!/usr/bin/env python3
"""Where a detector loses AP50: per-class and per-size AP50 (pycocotools), recall at IoU 0.5 with and
without class labels, and the false positives above a few score thresholds sorted into kinds:

  wrong class        IoU >= 0.5 with an object of another class
  duplicate          IoU >= 0.5 with an object of its class that a higher score already matched
  poor localisation  best IoU with any object in [0.1, 0.5)
  background         best IoU < 0.1

    .venv/bin/python Tools/analyse_detections.py --annotations .cache/shapes/val/instances.json \
        --detections results.json [--images N]

`results.json` is COCO results format, e.g. from `rcnn eval --output results.json`.
"""
import argparse
import collections
import contextlib
import copy
import io
import json

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def evaluate(gt, dt, image_ids, agnostic=False):
    g, d = copy.deepcopy(gt), copy.deepcopy(dt)
    if agnostic:
        for a in g["annotations"]:
            a["category_id"] = 1
        for a in d:
            a["category_id"] = 1
        g["categories"] = [{"id": 1, "name": "object"}]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = g
        coco.createIndex()
        e = COCOeval(coco, coco.loadRes(d) if d else COCO(), "bbox")
        e.params.imgIds = image_ids
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter + 1e-9)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--detections", required=True)
    ap.add_argument("--images", type=int, default=0, help="only the first N images of the annotations")
    ap.add_argument("--thresholds", default="0.3,0.5,0.8")
    args = ap.parse_args()
    gt = json.load(open(args.annotations))
    dt = json.load(open(args.detections))
    images = gt["images"][: args.images] if args.images else gt["images"]
    ids = [im["id"] for im in images]
    idset = set(ids)
    dt = [d for d in dt if d["image_id"] in idset]
    names = {c["id"]: c["name"] for c in gt["categories"]}

    e = evaluate(gt, dt, ids)
    p = e.eval["precision"][0]  # IoU 0.5: [recall, class, area, maxdet]
    r = e.eval["recall"][0]     # [class, area, maxdet]

    def mean(x):
        x = x[x > -1]
        return float(x.mean()) if x.size else float("nan")

    print(f"{len(ids)} images, {sum(a['image_id'] in idset for a in gt['annotations'])} objects, {len(dt)} detections")
    print(f"AP50 {e.stats[1]:.3f}  (small {mean(p[:, :, 1, 2]):.3f}, medium {mean(p[:, :, 2, 2]):.3f}, large {mean(p[:, :, 3, 2]):.3f})")
    print("AP50 per class: " + ", ".join(f"{names[c]} {mean(p[:, k, 0, 2]):.3f}" for k, c in enumerate(e.params.catIds)))
    agn = evaluate(gt, dt, ids, agnostic=True)
    print(f"recall at IoU 0.5 (100 detections): {mean(r[:, 0, 2]):.3f} with classes, "
          f"{float(agn.eval['recall'][0, 0, 0, 2]):.3f} without; class-agnostic AP50 {agn.stats[1]:.3f}")

    by_image_gt = collections.defaultdict(list)
    for a in gt["annotations"]:
        if a["image_id"] in idset:
            by_image_gt[a["image_id"]].append(a)
    by_image_dt = collections.defaultdict(list)
    for d in dt:
        by_image_dt[d["image_id"]].append(d)
    for th in [float(t) for t in args.thresholds.split(",")]:
        kinds = collections.Counter()
        tp = 0
        for im in ids:
            objects, matched = by_image_gt[im], set()
            for d in sorted(by_image_dt[im], key=lambda d: -d["score"]):
                if d["score"] < th:
                    continue
                best, best_j = 0.5, None
                for j, g in enumerate(objects):
                    if g["category_id"] == d["category_id"] and j not in matched:
                        v = iou(d["bbox"], g["bbox"])
                        if v >= best:
                            best, best_j = v, j
                if best_j is not None:
                    matched.add(best_j)
                    tp += 1
                    continue
                top = max(((iou(d["bbox"], g["bbox"]), g) for g in objects), key=lambda t: t[0], default=(0.0, None))
                if top[0] >= 0.5:
                    kinds["wrong class" if top[1]["category_id"] != d["category_id"] else "duplicate"] += 1
                elif top[0] >= 0.1:
                    kinds["poor localisation"] += 1
                else:
                    kinds["background"] += 1
        print(f"score >= {th}: {tp} true positives; false positives: " +
              ", ".join(f"{k} {kinds[k]}" for k in ["wrong class", "background", "poor localisation", "duplicate"]))


if __name__ == "__main__":
    main()
