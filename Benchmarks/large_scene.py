#!/usr/bin/env python3
"""Large-scene benchmark for sliced inference: the default model on scenes far larger than its
input, whole-image against sliced, and the same slicing done by SAHI driving torchvision on the
same weights, in one run on this machine.

    .venv/bin/python Benchmarks/large_scene.py --rcnn .build/release/rcnn [--scenes 6] [--seed 9101]
        [--size 448] [--overlap 0.2] [--out /tmp/rcnn-large-scene]

Scenes: a GRID of 320 x 320 cells (default 8 x 6, so 2560 x 1920), about 40% of them holding a
shapes scene (Tools/make_shapes_dataset.py's make_scene: objects at the sizes the default model was
trained on) and the rest its background alone, so that a scene holds fewer than COCO's 100
detections per image; a fresh seed (9101) that no training or validation split uses. Annotations
are COCO instances with RLE masks in scene coordinates, and each shape's four extreme points as
keypoints.

Runs, each in its own process under /usr/bin/time (wall time and peak RSS):
  rcnn-whole    rcnn eval on the whole scenes
  rcnn-sliced   rcnn eval --slice on (tile SIZE, OVERLAP, MERGE by MATCH above 0.5)
  sahi          sahi.get_sliced_prediction with the torchvision model built by Tools/shapes_model.py
                and the shipped weights, same tile size, overlap and merge (greedy: GREEDYNMM,
                nms: NMS; IOU or IOS; 0.5), evaluated by pycocotools
  serve-WxT     (with --server) rcnn serve with W workers of T threads, each scene POSTed alone to
                /v1/detect with slice=on and the same settings; seconds are the requests' latencies
                summed, peak RSS the server's (VmHWM). With 2 x 1 the idle worker runs tiles too.
All use score threshold 0.05 and 2 threads. The default model's keypoint head runs in every run
(SAHI's torchvision model has the branch too); --no-keypoints leaves it out of all of them
(rcnn --no-keypoints / keypoints=false, torchvision built without the branch). Prints a table of
bbox/segm AP, AP-small, seconds and peak RSS, and the ratios of ours to SAHI's.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "Tools"))
import make_shapes_dataset as shapes  # noqa: E402

CELL = 320


def make_scenes(out, count, seed, grid):
    cols, rows = grid
    width, height = cols * CELL, rows * CELL
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    images, annotations = [], []
    for s in range(count):
        scene = np.zeros((height, width, 3), dtype=np.uint8)
        for k in range(cols * rows):
            rng = np.random.default_rng(np.random.SeedSequence([seed, s, k]))
            cy, cx = divmod(k, cols)
            if rng.random() < 0.4:
                cell, instances = shapes.make_scene(rng, CELL)
            else:
                cell, instances = np.clip(shapes.background(rng, CELL), 0, 255).astype(np.uint8), []
            scene[cy * CELL:(cy + 1) * CELL, cx * CELL:(cx + 1) * CELL] = cell
            for ci, vis, whole in instances:
                # The visible mask and the full silhouette (its extreme points are the keypoints)
                # placed in the scene.
                visible = np.zeros((height, width), dtype=bool)
                visible[cy * CELL:(cy + 1) * CELL, cx * CELL:(cx + 1) * CELL] = vis
                silhouette = np.zeros((height, width), dtype=bool)
                silhouette[cy * CELL:(cy + 1) * CELL, cx * CELL:(cx + 1) * CELL] = whole
                ann = shapes.annotation(len(annotations) + 1, s + 1, ci, visible, silhouette)
                annotations.append(ann)
        name = f"scene_{s:03d}.jpg"
        Image.fromarray(scene).save(os.path.join(out, "images", name), quality=92)
        images.append({"id": s + 1, "file_name": name, "width": width, "height": height})
    coco = {"info": {"description": f"large shapes scenes {width}x{height}, seed {seed}"}, "images": images,
            "annotations": annotations,
            "categories": [{"id": k + 1, "name": n, "supercategory": "shape", "keypoints": list(shapes.KEYPOINTS),
                            "skeleton": [list(p) for p in shapes.SKELETON]} for k, n in enumerate(shapes.CLASSES)]}
    with open(os.path.join(out, "instances.json"), "w") as f:
        json.dump(coco, f)
    return len(annotations), width, height


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (stdout, seconds, peak RSS MiB)."""
    start = time.time()
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    seconds = time.time() - start
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{r.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) / 1024
    return r.stdout, seconds, rss


def serve_run(args, workers, threads, gt_path, results_path):
    """Starts rcnn serve (workers x threads), POSTs every scene sliced; writes COCO results and
    returns (seconds summed over requests, peak RSS MiB, tile threads seen)."""
    import socket
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, RCNN_THREADS=str(threads), RCNN_MAX_IMAGE_PIXELS=str(64 << 20))
    server = subprocess.Popen([args.rcnn, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if urllib.request.urlopen(base + "/readyz", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("rcnn serve did not become ready")
        gt = json.load(open(gt_path))
        query = (f"score_threshold=0.05&masks=rle&slice=on&slice_size={args.size}"
                 f"&keypoints={'false' if args.no_keypoints else 'true'}"
                 f"&slice_overlap={args.overlap}&slice_merge={args.merge}&slice_match={args.match}")
        results, seconds, threads_seen = [], 0.0, set()
        import urllib.error
        for image in gt["images"]:
            body = open(os.path.join(args.out, "images", image["file_name"]), "rb").read()
            req = urllib.request.Request(f"{base}/v1/detect?{query}", data=body, headers={"Content-Type": "image/jpeg"})
            start = time.time()
            try:
                doc = json.load(urllib.request.urlopen(req, timeout=600))
            except urllib.error.HTTPError as e:
                sys.exit(f"rcnn serve answered {e.code}: {e.read()[:500]!r}")
            seconds += time.time() - start
            threads_seen.add(doc["slicing"]["threads"])
            for d in doc["detections"]:
                x1, y1, x2, y2 = d["box"]
                results.append({"image_id": image["id"], "category_id": d["class_id"], "score": d["score"],
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "segmentation": d["mask"]})
        with open(f"/proc/{server.pid}/status") as f:
            rss = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024
        with open(results_path, "w") as f:
            json.dump(results, f)
        return seconds, rss, sorted(threads_seen)
    finally:
        server.terminate()
        server.wait(timeout=30)


def coco_stats(gt_path, results_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        out = {}
        results = json.load(open(results_path))
        dt = gt.loadRes(results) if results else None
        for kind in ("bbox", "segm"):
            if dt is None:
                out[kind] = [0.0] * 12
                continue
            e = COCOeval(gt, dt, kind)
            e.evaluate()
            e.accumulate()
            e.summarize()
            out[kind] = [float(v) for v in e.stats]
    return out


def sahi_worker(args):
    """Runs in its own process: SAHI over the scenes, COCO results to args.results."""
    import torch
    from safetensors.torch import load_file
    from sahi import AutoDetectionModel
    from sahi.predict import get_sliced_prediction
    import shapes_model
    torch.set_num_threads(2)
    state = load_file(os.path.join(ROOT, "Weights", "shapes_mask_rcnn.safetensors"))
    if args.no_keypoints:
        state = {k: v for k, v in state.items() if not shapes_model.is_keypoint_parameter(k)}
    model = shapes_model.build_model(keypoints=any(shapes_model.is_keypoint_parameter(k) for k in state))
    model.load_state_dict(state)
    model.roi_heads.score_thresh = 0.05
    model.eval()
    mapping = {str(k + 1): n for k, n in enumerate(shapes.CLASSES)}
    detector = AutoDetectionModel.from_pretrained(model_type="torchvision", model=model, confidence_threshold=0.05,
                                                  category_mapping=mapping, device="cpu", load_at_init=True)
    gt = json.load(open(os.path.join(args.out, "instances.json")))
    results = []
    for info in gt["images"]:
        image = np.asarray(Image.open(os.path.join(args.out, "images", info["file_name"])).convert("RGB"))
        pred = get_sliced_prediction(image, detector, slice_height=args.size, slice_width=args.size,
                                     overlap_height_ratio=args.overlap, overlap_width_ratio=args.overlap,
                                     perform_standard_pred=False,
                                     postprocess_type="GREEDYNMM" if args.merge == "greedy" else "NMS",
                                     postprocess_match_metric=args.match.upper(), postprocess_match_threshold=0.5, verbose=0)
        for o in pred.object_prediction_list:
            b = o.bbox
            r = {"image_id": info["id"], "category_id": int(o.category.id), "score": float(o.score.value),
                 "bbox": [float(b.minx), float(b.miny), float(b.maxx - b.minx), float(b.maxy - b.miny)]}
            if o.mask is not None:
                rle = mask_utils.encode(np.asfortranarray(o.mask.bool_mask.astype(np.uint8)))
                rle["counts"] = rle["counts"].decode("ascii")
                r["segmentation"] = rle
            results.append(r)
    with open(args.results, "w") as f:
        json.dump(results, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rcnn", default=os.path.join(ROOT, ".build", "release", "rcnn"))
    ap.add_argument("--scenes", type=int, default=6)
    ap.add_argument("--seed", type=int, default=9101)
    ap.add_argument("--grid", default="8x6")
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--overlap", type=float, default=0.2)
    ap.add_argument("--out", default="/tmp/rcnn-large-scene")
    ap.add_argument("--merge", default="greedy", choices=["greedy", "nms"])
    ap.add_argument("--match", default="iou", choices=["iou", "ios"])
    ap.add_argument("--skip-sahi", action="store_true")
    ap.add_argument("--no-keypoints", action="store_true", help="leave the keypoint head out of every run")
    ap.add_argument("--skip-cli", action="store_true", help="leave out the rcnn eval runs")
    ap.add_argument("--server", action="store_true", help="also time sliced requests to rcnn serve (2x1, 1x2, 1x1)")
    ap.add_argument("--sahi-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--results", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sahi_worker:
        return sahi_worker(args)

    grid = tuple(int(v) for v in args.grid.split("x"))
    n, w, h = make_scenes(args.out, args.scenes, args.seed, grid)
    print(f"{args.scenes} scenes {w}x{h}, {n} instances, seed {args.seed}; tile {args.size}, overlap {args.overlap}, "
          f"merge {args.merge} by {args.match} > 0.5")
    gt = os.path.join(args.out, "instances.json")
    rows = {}
    env = dict(os.environ, OMP_NUM_THREADS="2")
    for name, extra in () if args.skip_cli else (("rcnn-whole", []), ("rcnn-sliced", ["--slice", "on", "--slice-size", str(args.size),
                                                              "--slice-overlap", str(args.overlap),
                                                              "--slice-merge", args.merge, "--slice-match", args.match])):
        results = os.path.join(args.out, f"{name}.json")
        _, seconds, rss = timed([args.rcnn, "eval", "--annotations", gt, "--images", os.path.join(args.out, "images"),
                                 "--score-threshold", "0.05", "--threads", "2", "--json", "--output", results] + extra
                                + (["--no-keypoints"] if args.no_keypoints else []), env)
        rows[name] = (coco_stats(gt, results), seconds, rss)
    if args.server:
        for workers, threads in ((2, 1), (1, 2), (1, 1)):
            name = f"serve-{workers}x{threads}"
            results = os.path.join(args.out, f"{name}.json")
            seconds, rss, seen = serve_run(args, workers, threads, gt, results)
            print(f"{name}: tile threads per request {seen}")
            rows[name] = (coco_stats(gt, results), seconds, rss)
    if not args.skip_sahi:
        results = os.path.join(args.out, "sahi.json")
        _, seconds, rss = timed([sys.executable, os.path.abspath(__file__), "--sahi-worker", "--out", args.out,
                                 "--size", str(args.size), "--overlap", str(args.overlap), "--merge", args.merge,
                                 "--match", args.match, "--results", results]
                                + (["--no-keypoints"] if args.no_keypoints else []), env)
        rows["sahi"] = (coco_stats(gt, results), seconds, rss)

    print("| run | bbox AP | bbox AP-small | segm AP | segm AP-small | seconds | s/scene | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, (stats, seconds, rss) in rows.items():
        print(f"| {name} | {stats['bbox'][0]:.3f} | {stats['bbox'][3]:.3f} | {stats['segm'][0]:.3f} | {stats['segm'][3]:.3f} "
              f"| {seconds:.1f} | {seconds / args.scenes:.2f} | {rss:.0f} |")
    if "sahi" in rows and "rcnn-sliced" in rows:
        (ours, t1, m1), (theirs, t2, m2) = rows["rcnn-sliced"], rows["sahi"]
        print(f"rcnn-sliced / sahi: time {t1 / t2:.2f}x, peak RSS {m1 / m2:.2f}x, "
              f"bbox AP {ours['bbox'][0] - theirs['bbox'][0]:+.3f}, segm AP {ours['segm'][0] - theirs['segm'][0]:+.3f}")


if __name__ == "__main__":
    sys.exit(main())
