#!/usr/bin/env python3
"""Parity fixtures for the embedded default model (Config/models/shapes_mask_rcnn.json): torchvision
runs the shipped weights on the held-out sample images (Samples/*.jpg) and the intermediates are
written in the same layout as make_fixtures.py, under OUT/default/.

    .venv/bin/python Tests/Parity/make_default_model_fixture.py --out .cache/fixtures

The thresholds are lowered (score 0.001, up to 100 detections) so that many detections per image are
compared, not only the handful a trained model keeps at its default threshold. Cached: nothing is
redone while this script, the converter and the weights are unchanged.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "Tools"))

import make_fixtures as MF  # noqa: E402
import shapes_model  # noqa: E402

C = MF.C
CONFIG = os.path.join(ROOT, "Config", "models", "shapes_mask_rcnn.json")
SAMPLES = os.path.join(ROOT, "Samples")
SCORE_THRESH = 0.001
DETECTIONS = 100


def fingerprint(weights):
    digest = hashlib.sha256()
    for path in (os.path.abspath(__file__), MF.CONVERTER, weights):
        with open(path, "rb") as f:
            digest.update(f.read())
    digest.update(f"{torch.__version__}".encode())
    return digest.hexdigest()


def fast_proposals(boxes, h, w, rng, jitter=8, random_boxes=400):
    """Client proposals: each ground-truth box, 8 jittered copies, and random boxes (image pixels).
    The random boxes give the low-scoring detections that keep at least 50 per image to compare
    once the trained model is confident on the objects themselves (150 left 46 on one sample)."""
    out = []
    for x1, y1, x2, y2 in boxes:
        out.append([x1, y1, x2, y2])
        bw, bh = x2 - x1, y2 - y1
        for _ in range(jitter):
            d = rng.normal(0, 0.1, 4) * [bw, bh, bw, bh]
            out.append([x1 + d[0], y1 + d[1], x2 + d[2], y2 + d[3]])
    for _ in range(random_boxes):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        bw, bh = np.exp(rng.uniform(np.log(8), np.log(w / 2), 2))
        out.append([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
    clipped = []
    for x1, y1, x2, y2 in out:
        x1, x2 = float(np.clip(x1, 0, w)), float(np.clip(x2, 0, w))
        y1, y2 = float(np.clip(y1, 0, h)), float(np.clip(y2, 0, h))
        if x2 - x1 > 1 and y2 - y1 > 1:
            clipped.append([x1, y1, x2, y2])
    return clipped


def fast_rcnn_reference(model, image, proposals):
    """torchvision's RoI heads applied to `proposals` (original pixels) instead of the RPN's."""
    from torchvision.models.detection.transform import resize_boxes
    x = MF.to_input(image)
    with torch.no_grad():
        images, _ = model.transform([x])
        features = model.backbone(images.tensors)
        props = resize_boxes(torch.tensor(proposals, dtype=torch.float32), image.shape[:2], images.image_sizes[0])
        dets, _ = model.roi_heads(features, [props], images.image_sizes)
        dets = model.transform.postprocess(dets, images.image_sizes, [image.shape[:2]])
    return dets[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    args = p.parse_args()
    with open(CONFIG, encoding="utf-8") as f:
        cfg = json.load(f)
    weights = os.path.normpath(os.path.join(os.path.dirname(CONFIG), cfg["weights"]))
    out_dir = os.path.join(args.out, "default")
    manifest_path = os.path.join(out_dir, "manifest.json")
    fp = fingerprint(weights)
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            if json.load(f).get("fingerprint") == fp:
                print(f"{manifest_path}: up to date")
                return 0
    torch.set_num_threads(2)
    shutil.rmtree(out_dir, ignore_errors=True)
    arch_dir = os.path.join(out_dir, cfg["name"])
    os.makedirs(arch_dir)

    model = shapes_model.build_model(keypoints="keypoint_predictor" in cfg)
    C.load_state_dict_strict(model, load_file(weights), weights)
    model.roi_heads.score_thresh = SCORE_THRESH
    model.roi_heads.detections_per_img = DETECTIONS
    model.eval()
    # The test's config: the shipped one with the lowered thresholds, pointing at the shipped weights.
    test_cfg = dict(cfg)
    test_cfg["box_score_thresh"] = SCORE_THRESH
    test_cfg["box_detections_per_img"] = DETECTIONS
    test_cfg["weights"] = os.path.relpath(weights, arch_dir)
    with open(os.path.join(arch_dir, f"{cfg['name']}.json"), "w", encoding="utf-8") as f:
        f.write(C.dumps_config(test_cfg) + "\n")

    with open(os.path.join(SAMPLES, "instances_samples.json"), encoding="utf-8") as f:
        gt = json.load(f)
    gt_boxes = {}
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        gt_boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
    file_ids = {im["file_name"]: im["id"] for im in gt["images"]}
    rng = np.random.default_rng(7)

    images = []
    for name in sorted(n for n in os.listdir(SAMPLES) if n.endswith(".jpg")):
        image = np.asarray(Image.open(os.path.join(SAMPLES, name)).convert("RGB"))
        tensors, info, out = MF.run_reference(model, image)
        # Fast R-CNN with client proposals: the ground-truth boxes, jittered copies of them and
        # random boxes, through torchvision's own RoI heads on the same features.
        props = fast_proposals(gt_boxes.get(file_ids[name], []), image.shape[0], image.shape[1], rng)
        fast = fast_rcnn_reference(model, image, props)
        tensors["fast.proposals"] = torch.tensor(props, dtype=torch.float32)
        tensors["fast.det.boxes"] = fast["boxes"]
        tensors["fast.det.scores"] = fast["scores"]
        tensors["fast.det.labels"] = fast["labels"].to(torch.int64)
        stem = os.path.splitext(name)[0]
        C.write_safetensors(os.path.join(arch_dir, f"{stem}.safetensors"), tensors, {"image": name})
        with open(os.path.join(arch_dir, f"{stem}.json"), "w", encoding="utf-8") as f:
            json.dump(MF.detections_json(image, out, cfg["classes"], info), f, indent=1)
        images.append({"name": stem, "tensors": f"{cfg['name']}/{stem}.safetensors", "detections": f"{cfg['name']}/{stem}.json",
                       "count": int(out["boxes"].shape[0])})
        print(f"  {name}: {int(out['boxes'].shape[0])} detections, top score {float(out['scores'][0]) if len(out['scores']) else 0:.3f}; "
              f"fast R-CNN on {len(props)} client proposals: {int(fast['boxes'].shape[0])} detections")
    manifest = {"fingerprint": fp, "weights_sha256": cfg["weights_sha256"],
                "archs": [{"arch": cfg["name"], "config": f"{cfg['name']}/{cfg['name']}.json", "task": cfg["task"],
                           "images": images}]}
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
