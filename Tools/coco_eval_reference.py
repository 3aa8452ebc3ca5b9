#!/usr/bin/env python3
"""pycocotools' COCOeval on a COCO annotations file and a results file; prints the twelve stats for
each IoU type as JSON: {"bbox": [...12], "segm": [...12]}.

    .venv/bin/python Tools/coco_eval_reference.py --annotations instances.json --results results.json [--segm]
"""
import argparse
import contextlib
import io
import json

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--segm", action="store_true", help="also evaluate segm")
    p.add_argument("--image-ids", default=None, help="comma-separated subset of image ids")
    args = p.parse_args()
    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(args.annotations)
        results = json.load(open(args.results))
        for iou_type in ["bbox", "segm"] if args.segm else ["bbox"]:
            res = [dict(r) for r in results]
            if iou_type == "bbox":
                for r in res:
                    r.pop("segmentation", None)
            dt = gt.loadRes(res) if res else COCO()
            e = COCOeval(gt, dt, iou_type)
            if args.image_ids:
                e.params.imgIds = [int(i) for i in args.image_ids.split(",")]
            e.evaluate()
            e.accumulate()
            e.summarize()
            out[iou_type] = [float(v) for v in e.stats]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
