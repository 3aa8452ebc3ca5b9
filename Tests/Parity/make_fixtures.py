#!/usr/bin/env python3
"""Whole-model parity fixtures: torchvision's Faster/Mask R-CNN outputs, stage by stage.

    .venv/bin/python Tests/Parity/make_fixtures.py --out .cache/fixtures [--archs a,b] [--force]

For each architecture: build the torchvision model with random weights, make it realistic
(batch-norm statistics re-estimated on natural-looking images, the predictor layers scaled so that
scores and boxes are spread out), save the state_dict, convert it with the converter CLI
(Tools/convert_torchvision.py, run as a subprocess with lowered thresholds), rebuild the model from
the converted JSON + safetensors, and record everything it computes on three synthetic images.
The file layout and every tensor key are documented in Tests/Parity/README.md.

Deterministic (seeded); cached: if OUT/manifest.json carries the same fingerprint (this script +
the converter + the arch list) nothing is recomputed.
"""
import argparse
import collections
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw, ImageFilter
from pycocotools import mask as mask_util
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONVERTER = os.path.join(ROOT, "Tools", "convert_torchvision.py")


def _load_converter():
    spec = importlib.util.spec_from_file_location("convert_torchvision", CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


C = _load_converter()

# Per architecture: classes (91 = COCO names; otherwise a --classes file is written and passed),
# the converter flags, and optionally the class-logit / RPN dw,dh spread. Most keep torchvision's
# cap of 100 detections with the score threshold lowered to 0.05, so the cap, not the threshold,
# decides (>= 100 candidates survive NMS on every image). The 320 model keeps its 150 proposals,
# gets peakier class scores and a threshold that leaves fewer detections than its raised cap (and
# <= 1000 NMS candidates, so batched_nms takes its coordinate-offset path): the threshold decides
# there. How close each cut-off came to a tie is written into the per-image JSON ("reference").
ARCHS = collections.OrderedDict([
    ("fasterrcnn_resnet50_fpn", {"num_classes": 91, "flags": {
        "box_score_thresh": 0.05, "box_detections_per_img": 100}}),
    ("maskrcnn_resnet50_fpn", {"num_classes": 91, "flags": {
        "box_score_thresh": 0.05, "box_detections_per_img": 100}}),
    ("fasterrcnn_resnet50_fpn_v2", {"num_classes": 11, "flags": {
        "box_score_thresh": 0.05, "box_detections_per_img": 100}}),
    ("maskrcnn_resnet50_fpn_v2", {"num_classes": 11, "flags": {
        "box_score_thresh": 0.05, "box_detections_per_img": 100}}),
    ("fasterrcnn_mobilenet_v3_large_fpn", {"num_classes": 91, "rpn_delta_wh": (0.45, 0.0), "flags": {
        "box_score_thresh": 0.05, "box_detections_per_img": 100}}),
    ("fasterrcnn_mobilenet_v3_large_320_fpn", {"num_classes": 91, "class_logit_std": 3.0,
                                               "rpn_delta_wh": (0.45, 0.0), "flags": {
        "box_score_thresh": 0.2, "box_detections_per_img": 300}}),
    # VGG-16 Faster R-CNN (Tools/vgg16_faster_rcnn.py): one stride-16 map, 9 anchors, RoI max pooling.
    ("fasterrcnn_vgg16", {"num_classes": 21, "rpn_delta_wh": (0.45, 0.0), "flags": {
        "box_score_thresh": 0.05, "box_detections_per_img": 100}}),
    # Keypoint R-CNN: one foreground class (person) and COCO's 17 keypoints. Proposals keep
    # anchor-like shapes (dw, dh spread 0.45, no stretch) so that detections are boxes of tens to
    # hundreds of pixels, whose heatmaps are resized up as a person's are, not slivers.
    ("keypointrcnn_resnet50_fpn", {"num_classes": 2, "rpn_delta_wh": (0.45, 0.0), "flags": {
        "box_score_thresh": 0.05, "box_detections_per_img": 100}}),
])

# name, height, width, seed. "wide" is wider than 1333/800 so that max_size binds (for min/max
# 800/1333 and 320/640 alike); "small" is upscaled; "portrait" has h > w.
IMAGES = (
    ("small", 240, 320, 101),
    ("portrait", 600, 400, 102),
    ("wide", 720, 1520, 103),
)
CALIBRATION = ((320, 448, 201), (480, 360, 202), (400, 400, 203))
# The calibration passes run at a reduced input size (statistics need not match the test scale
# exactly, only be realistic) to keep the script fast on two cores.
CALIBRATION_MIN_SIZE, CALIBRATION_MAX_SIZE = 288, 512

# Standard deviations the predictor outputs are scaled to (measured on a calibration image).
TARGET_STD = {
    "rpn_objectness": 1.0,   # logits (mean -1): the top-k sit at sigmoid 0.6-0.95, not
                             # saturated near 1 where float32 scores would tie
    "rpn_delta_xy": 0.15,    # RPN box coder weights are 1
    # RPN dw/dh: (std, mean). With one anchor size per level the finest level supplies most
    # proposals; exp(N(0.8, 0.9)) stretches them over ~0.4x-10x their anchor so that RoIs map to
    # every FPN level. MobileNet archs have five anchor sizes per level already (see ARCHS).
    "rpn_delta_wh": (0.9, 0.8),
    "class_logits": 1.2,     # default; ARCHS[arch]["class_logit_std"] overrides
    "box_delta_xy": 1.5,     # divided by 10 in the box coder
    "box_delta_wh": 1.5,     # divided by 5
    "mask_logits": 4.0,
    "keypoint_logits": 2.0,  # heatmap logits: peaks around 5-8, as a trained head's visible keypoints
}


# ----------------------------------------------------------------------------------------------
# images

def synth_image(height, width, seed):
    """A deterministic natural-looking RGB8 image: gradients, textures, shapes, noise."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    yy /= max(height - 1, 1)
    xx /= max(width - 1, 1)
    corners = rng.uniform(20, 235, size=(4, 3))
    img = ((1 - yy)[..., None] * (1 - xx)[..., None] * corners[0] + (1 - yy)[..., None] * xx[..., None] * corners[1]
           + yy[..., None] * (1 - xx)[..., None] * corners[2] + yy[..., None] * xx[..., None] * corners[3])
    for _ in range(3):  # low-frequency waves (lighting, hills)
        fx, fy = rng.uniform(0.5, 3.0, size=2)
        amp = rng.uniform(5, 20, size=3)
        phase = rng.uniform(0, 2 * np.pi)
        img += amp * np.sin(2 * np.pi * (fx * xx + fy * yy) + phase)[..., None]
    # textured regions: stripes, checkers and noise patches
    for _ in range(4):
        h = rng.randint(height // 8, height // 3)
        w = rng.randint(width // 8, width // 3)
        y0 = rng.randint(0, height - h)
        x0 = rng.randint(0, width - w)
        ys, xs = np.mgrid[0:h, 0:w]
        kind = rng.randint(3)
        period = rng.uniform(4, 16)
        if kind == 0:
            angle = rng.uniform(0, np.pi)
            pattern = np.sin(2 * np.pi * (xs * np.cos(angle) + ys * np.sin(angle)) / period)
        elif kind == 1:
            pattern = np.sign(np.sin(np.pi * xs / period) * np.sin(np.pi * ys / period))
        else:
            small = rng.normal(size=(h // 4 + 2, w // 4 + 2))
            pattern = np.kron(small, np.ones((4, 4)))[:h, :w]
        colour = rng.uniform(-60, 60, size=3)
        img[y0:y0 + h, x0:x0 + w] += pattern[..., None] * colour
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.randint(9, 15)):
        size = rng.uniform(0.05, 0.45) * min(height, width)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        fill = tuple(int(v) for v in rng.randint(0, 256, size=3))
        outline = tuple(int(v) for v in rng.randint(0, 256, size=3))
        kind = rng.randint(4)
        aspect = rng.uniform(0.5, 2.0)
        bbox = [cx - size * aspect / 2, cy - size / aspect / 2, cx + size * aspect / 2, cy + size / aspect / 2]
        if kind == 0:
            draw.ellipse(bbox, fill=fill, outline=outline, width=rng.randint(1, 4))
        elif kind == 1:
            draw.rectangle(bbox, fill=fill, outline=outline, width=rng.randint(1, 4))
        else:
            n = 3 if kind == 2 else rng.randint(5, 9)
            angles = np.sort(rng.uniform(0, 2 * np.pi, size=n))
            radii = size / 2 * rng.uniform(0.5, 1.0, size=n)
            pts = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a, r in zip(angles, radii)]
            draw.polygon(pts, fill=fill, outline=outline)
    canvas = canvas.filter(ImageFilter.GaussianBlur(radius=0.8))
    out = np.asarray(canvas).astype(np.float64) + rng.normal(0, 4, size=(height, width, 3))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def to_input(image):
    """RGB8 HxWx3 -> float32 3xHxW in [0, 1] (what torchvision detection models take)."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).to(torch.float32) / 255


# ----------------------------------------------------------------------------------------------
# making a random model realistic

def recalibrate_batchnorm(model, images):
    """Re-estimates every BatchNorm2d's running stats on `images` (cumulative average)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return 0
    t = model.transform
    saved = (t.min_size, t.max_size, model.roi_heads.score_thresh, model.rpn._post_nms_top_n["testing"])
    t.min_size, t.max_size = (CALIBRATION_MIN_SIZE,), CALIBRATION_MAX_SIZE
    # score_thresh 0: keep detections flowing into the mask head (its BNs need a batch).
    model.roi_heads.score_thresh = 0.0
    model.rpn._post_nms_top_n["testing"] = 200
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        for image in images:
            model([to_input(image)])
    model.eval()
    t.min_size, t.max_size, model.roi_heads.score_thresh, model.rpn._post_nms_top_n["testing"] = saved
    return len(bns)


def _capture_inputs(model, image, modules):
    """Runs the model on `image` and returns the inputs each of `modules` received."""
    seen = {}
    hooks = [m.register_forward_pre_hook(lambda mod, inp, key=key: seen.setdefault(key, []).append(inp[0]))
             for key, m in modules.items()]
    t = model.transform
    saved = (t.min_size, t.max_size, model.roi_heads.score_thresh)
    t.min_size, t.max_size = (CALIBRATION_MIN_SIZE,), CALIBRATION_MAX_SIZE
    model.roi_heads.score_thresh = 0.0
    try:
        with torch.no_grad():
            model([to_input(image)])
    finally:
        for h in hooks:
            h.remove()
        t.min_size, t.max_size, model.roi_heads.score_thresh = saved
    return seen


def _rescale(layer, outputs, channel_groups, generator):
    """Scales `layer`'s weight and re-draws its bias so each channel group's output is spread out.

    `outputs`: the layer's output (N, C) on the captured inputs; `channel_groups`: list of
    (channel indices, target std, target mean, std of a random per-channel offset). The offsets
    give classes / anchor shapes different priors.
    """
    with torch.no_grad():
        for idx, target_std, target_mean, offset_std in channel_groups:
            sub = outputs[:, idx]
            factor = target_std / max(float(sub.std()), 1e-12)
            layer.weight[idx] *= factor
            if layer.bias is not None:
                centred = (sub - layer.bias[idx]).mean(0) * factor
                layer.bias[idx] = target_mean - centred + offset_std * torch.randn(len(idx), generator=generator)


def scale_predictors(model, image, generator, class_logit_std, rpn_delta_wh):
    """Scales the RPN head's and the RoI heads' last layers so that outputs are spread out."""
    rpn = model.rpn.head
    rh = model.roi_heads
    modules = {"rpn_cls": rpn.cls_logits, "box": rh.box_predictor.cls_score}
    if rh.has_mask():
        modules["mask"] = rh.mask_predictor.mask_fcn_logits
    if rh.has_keypoint():
        modules["keypoint"] = rh.keypoint_predictor.kps_score_lowres
    seen = _capture_inputs(model, image, modules)
    with torch.no_grad():
        # RPN: 1x1 convs on every level; gather all positions of all levels.
        feats = seen["rpn_cls"]
        logits = torch.cat([rpn.cls_logits(f).permute(0, 2, 3, 1).reshape(-1, rpn.cls_logits.out_channels)
                            for f in feats])
        deltas = torch.cat([rpn.bbox_pred(f).permute(0, 2, 3, 1).reshape(-1, rpn.bbox_pred.out_channels)
                            for f in feats])
        a = rpn.cls_logits.out_channels
        _rescale(rpn.cls_logits, logits, [(torch.arange(a), TARGET_STD["rpn_objectness"], -1.0, 0.3)], generator)
        xy = torch.tensor([i for i in range(4 * a) if i % 4 < 2])
        wh = torch.tensor([i for i in range(4 * a) if i % 4 >= 2])
        _rescale(rpn.bbox_pred, deltas, [(xy, TARGET_STD["rpn_delta_xy"], 0.0, 0.0),
                                         (wh, rpn_delta_wh[0], rpn_delta_wh[1], 0.1)], generator)
        # Box predictor (input: the box head's representation).
        x = seen["box"][0].flatten(1)
        pred = rh.box_predictor
        nc = pred.cls_score.out_features
        _rescale(pred.cls_score, pred.cls_score(x), [(torch.arange(nc), class_logit_std, 0.0, 0.5 * class_logit_std)],
                 generator)
        reg = pred.bbox_pred(x)
        xy = torch.tensor([i for i in range(4 * nc) if i % 4 < 2])
        wh = torch.tensor([i for i in range(4 * nc) if i % 4 >= 2])
        _rescale(pred.bbox_pred, reg, [(xy, TARGET_STD["box_delta_xy"], 0.0, 0.0),
                                       (wh, TARGET_STD["box_delta_wh"], 0.0, 0.0)], generator)
        if "mask" in seen:
            layer = rh.mask_predictor.mask_fcn_logits
            out = layer(seen["mask"][0]).permute(0, 2, 3, 1).reshape(-1, layer.out_channels)
            _rescale(layer, out, [(torch.arange(layer.out_channels), TARGET_STD["mask_logits"], 0.0, 1.0)], generator)
        if "keypoint" in seen:
            layer = rh.keypoint_predictor.kps_score_lowres
            out = layer(seen["keypoint"][0]).permute(0, 2, 3, 1).reshape(-1, layer.out_channels)
            _rescale(layer, out, [(torch.arange(layer.out_channels), TARGET_STD["keypoint_logits"], 0.0, 1.0)], generator)


# ----------------------------------------------------------------------------------------------
# running the reference and recording every stage

class Recorder:
    """Hooks on a torchvision GeneralizedRCNN that keep every intermediate of one forward."""

    def __init__(self, model):
        self.model = model
        self.data = {}
        self.nms_calls = []  # (number of boxes in, scores kept in order) per batched_nms call
        self._hooks = []
        self._orig_filter = model.rpn.filter_proposals
        self._orig_nms = torchvision.ops.boxes.batched_nms

    def __enter__(self):
        m, d = self.model, self.data

        def keep(key):
            def hook(module, inputs, output):
                d[key] = output
            return hook

        self._hooks = [
            m.transform.register_forward_hook(keep("transform")),
            m.backbone.register_forward_hook(keep("features")),
            m.rpn.head.register_forward_hook(keep("rpn_head")),
            m.roi_heads.box_predictor.register_forward_hook(keep("box_predictor")),
            *([m.roi_heads.keypoint_predictor.register_forward_hook(keep("keypoint_logits"))]
              if m.roi_heads.has_keypoint() else []),
            m.roi_heads.register_forward_hook(
                lambda mod, inp, out: d.__setitem__("roi_heads", [{k: v.clone() for k, v in r.items()}
                                                                  for r in out[0]])),
        ]

        def filter_proposals(*args, **kwargs):
            boxes, scores = self._orig_filter(*args, **kwargs)
            d["proposals"] = (boxes, scores)
            return boxes, scores
        m.rpn.filter_proposals = filter_proposals

        def batched_nms(boxes, scores, idxs, iou_threshold):
            keep = self._orig_nms(boxes, scores, idxs, iou_threshold)
            self.nms_calls.append((int(boxes.shape[0]), scores[keep].clone()))
            return keep
        torchvision.ops.boxes.batched_nms = batched_nms
        return self

    def __exit__(self, *exc):
        for h in self._hooks:
            h.remove()
        del self.model.rpn.filter_proposals
        torchvision.ops.boxes.batched_nms = self._orig_nms


def run_reference(model, image):
    """One forward on `image`; returns (tensors for IMG.safetensors, info dict, final output)."""
    x = to_input(image)
    with Recorder(model) as rec, torch.no_grad():
        out = model([x])[0]
    d = rec.data
    image_list = d["transform"][0]
    tensors = collections.OrderedDict()
    tensors["image"] = np.ascontiguousarray(image)
    tensors["input"] = image_list.tensors
    tensors["image_size"] = torch.tensor(list(image_list.image_sizes[0]), dtype=torch.int64)
    for name, f in d["features"].items():
        tensors[f"features.{name}"] = f
    logits, deltas = d["rpn_head"]
    for i, (o, r) in enumerate(zip(logits, deltas)):
        tensors[f"rpn.objectness.{i}"] = o
        tensors[f"rpn.deltas.{i}"] = r
    boxes, scores = d["proposals"]
    tensors["proposals"] = boxes[0]
    tensors["proposal_scores"] = scores[0]
    class_logits, box_regression = d["box_predictor"]
    tensors["class_logits"] = class_logits
    tensors["box_regression"] = box_regression
    r = d["roi_heads"][0]
    tensors["det.boxes_resized"] = r["boxes"]
    tensors["det.boxes"] = out["boxes"]
    tensors["det.scores"] = out["scores"]
    tensors["det.labels"] = out["labels"].to(torch.int64)
    if "masks" in r:
        tensors["mask_probs"] = r["masks"]
    if "keypoints" in r:
        # Heatmaps of the final boxes (resized coordinates), the keypoints decoded from them in
        # resized coordinates, and the model's output in original coordinates.
        tensors["keypoint_logits"] = d["keypoint_logits"]
        tensors["det.keypoints_resized"] = r["keypoints"]
        tensors["det.keypoints"] = out["keypoints"]
        tensors["det.keypoints_scores"] = out["keypoints_scores"]
    for k, v in tensors.items():
        if isinstance(v, torch.Tensor):
            tensors[k] = v.detach().contiguous()
    if not torch.equal(r["scores"], out["scores"]) or not torch.equal(r["labels"], out["labels"]):
        raise RuntimeError("roi_heads and model outputs disagree")
    (rpn_nms, rpn_kept), (box_nms, box_kept) = rec.nms_calls[0], rec.nms_calls[1]
    rpn, rh = model.rpn, model.roi_heads
    pre_n, post_n = rpn._pre_nms_top_n["testing"], rpn._post_nms_top_n["testing"]

    def boundary_gap(sorted_desc, k):
        return float(sorted_desc[k - 1] - sorted_desc[k]) if len(sorted_desc) > k else None

    probs = torch.softmax(class_logits, -1)[:, 1:].flatten()
    info = {
        "resized": [int(s) for s in image_list.image_sizes[0]],
        "padded": [int(s) for s in image_list.tensors.shape[-2:]],
        "num_proposals": int(boxes[0].shape[0]),
        "rpn_nms_candidates": rpn_nms,
        "box_nms_candidates": box_nms,
        # torchvision.ops.batched_nms offsets boxes per class ("coordinate trick") when it has at
        # most 1000 boxes on CPU, and runs one nms per class above that; the offset changes float
        # rounding of the IoUs, so the engine must know which one the reference used.
        "rpn_nms_impl": "coordinate_trick" if rpn_nms * 4 <= 4000 else "per_class",
        "box_nms_impl": "coordinate_trick" if box_nms * 4 <= 4000 else "per_class",
        "num_detections": int(out["boxes"].shape[0]),
        # Distances to the cut-offs (0 or tiny = a float32 near-tie decides membership):
        # objectness logit k-th minus (k+1)-th per level for the pre-NMS top-k (null: level has
        # <= k anchors), sigmoid score gap at the post-NMS top-n, class-score gap at the
        # detection cap, and the smallest |class score - box_score_thresh| over all candidates.
        "rpn_pre_nms_boundary_gaps": [boundary_gap(torch.sort(o.flatten(), descending=True)[0], pre_n)
                                      for o in logits],
        "rpn_post_nms_boundary_gap": boundary_gap(rpn_kept, post_n),
        "box_cap_boundary_gap": boundary_gap(box_kept, rh.detections_per_img),
        "box_score_thresh_margin": float((probs - rh.score_thresh).abs().min()),
    }
    return tensors, info, out


def detections_json(image, out, classes, info):
    h, w = image.shape[:2]
    dets = []
    rles = None
    if "masks" in out:
        binary = (out["masks"][:, 0] > 0.5).numpy().astype(np.uint8)
        rles = mask_util.encode(np.asfortranarray(binary.transpose(1, 2, 0))) if len(binary) else []
    for i in range(out["boxes"].shape[0]):
        label = int(out["labels"][i])
        det = {"label": label, "class_name": classes[label], "score": float(out["scores"][i]),
               "box": [float(v) for v in out["boxes"][i]]}
        if "keypoints" in out:
            det["keypoints"] = [[float(p[0]), float(p[1]), float(s)]
                                for p, s in zip(out["keypoints"][i], out["keypoints_scores"][i])]
        if rles is not None:
            det["mask_rle"] = {"size": [int(s) for s in rles[i]["size"]],
                               "counts": rles[i]["counts"].decode("ascii")}
        dets.append(det)
    return {"image": {"height": h, "width": w}, "reference": info, "detections": dets}


def statistics(out, candidates_thresh):
    """Spread statistics of a detection result (printed and stored in the manifest)."""
    scores = out["scores"].numpy().astype(np.float64)
    boxes = out["boxes"].numpy()
    n = len(scores)
    s = np.sort(scores)[::-1]
    gaps = np.diff(s[::-1]) if n > 1 else np.array([np.inf])
    sides = np.sqrt(np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 0))
    return {
        "count": n,
        "classes": int(len(np.unique(out["labels"].numpy()))),
        "score_min": float(s.min()) if n else None,
        "score_median": float(np.median(s)) if n else None,
        "score_max": float(s.max()) if n else None,
        "min_score_gap": float(gaps.min()) if n > 1 else None,
        "score_gaps_below_1e-5": int((gaps < 1e-5).sum()) if n > 1 else 0,
        "box_side_min": float(sides.min()) if n else None,
        "box_side_median": float(np.median(sides)) if n else None,
        "box_side_max": float(sides.max()) if n else None,
        "thresh_margin": float(s.min() - candidates_thresh) if n else None,
    }


# ----------------------------------------------------------------------------------------------

def fingerprint(archs):
    digest = hashlib.sha256()
    for path in (os.path.abspath(__file__), CONVERTER):
        with open(path, "rb") as f:
            digest.update(f.read())
    digest.update(",".join(archs).encode())
    digest.update(f"{torch.__version__} {torchvision.__version__}".encode())
    return digest.hexdigest()


def convert_cli(arch, ckpt, out_dir, flags, classes_file):
    cmd = [sys.executable, CONVERTER, "--arch", arch, "--checkpoint", ckpt, "--name", arch, "--out", out_dir]
    for k, v in flags.items():
        cmd += ["--" + k.replace("_", "-"), str(v)]
    if classes_file:
        cmd += ["--classes", classes_file]
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
    if res.returncode != 0:
        raise RuntimeError(f"converter failed for {arch}:\n{res.stdout}\n{res.stderr}")
    return res.stdout.strip()


def rebuild_from_files(arch, json_path):
    """A fresh torchvision model with the thresholds and weights of the converted files."""
    from safetensors.torch import load_file
    with open(json_path, encoding="utf-8") as f:
        cfg = json.load(f)
    kwargs = {
        "min_size": cfg["transform"]["min_size"], "max_size": cfg["transform"]["max_size"],
        "rpn_pre_nms_top_n_test": cfg["rpn"]["pre_nms_top_n_test"],
        "rpn_post_nms_top_n_test": cfg["rpn"]["post_nms_top_n_test"],
        "rpn_nms_thresh": cfg["rpn"]["nms_thresh"], "rpn_score_thresh": cfg["rpn"]["score_thresh"],
        "box_score_thresh": cfg["box_score_thresh"], "box_nms_thresh": cfg["box_nms_thresh"],
        "box_detections_per_img": cfg["box_detections_per_img"],
    }
    kp = cfg.get("keypoint_predictor")
    model = C.build_model(arch, cfg["box_predictor"]["num_classes"], kp and kp["num_keypoints"],
                          cfg["keypoint_head"]["layers"] if kp else None, **kwargs)
    st_path = os.path.join(os.path.dirname(json_path), cfg["weights"])
    if C.sha256_file(st_path) != cfg["weights_sha256"]:
        raise RuntimeError(f"{st_path}: sha256 does not match {json_path}")
    C.load_state_dict_strict(model, load_file(st_path), st_path)
    model.eval()
    again = C.config_from_model(model, cfg["name"], arch, cfg["classes"])
    again["weights_sha256"] = cfg["weights_sha256"]
    again["producer"] = cfg.get("producer")
    if json.loads(json.dumps(again)) != cfg:
        raise RuntimeError(f"{json_path}: config of the rebuilt model differs from the file")
    return model, cfg


def _fmt(v):
    if isinstance(v, list):
        return "[" + ",".join(_fmt(x) for x in v) + "]"
    return "-" if v is None else f"{v:.1e}"


def make_arch(arch, spec, out_root, seed):
    t0 = time.time()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed + 1)
    arch_dir = os.path.join(out_root, arch)
    os.makedirs(arch_dir, exist_ok=True)
    nc = spec["num_classes"]
    model = C.build_model(arch, nc)
    calib = [synth_image(h, w, s) for h, w, s in CALIBRATION]
    n_bn = recalibrate_batchnorm(model, calib)
    scale_predictors(model, calib[0], generator, spec.get("class_logit_std", TARGET_STD["class_logits"]),
                     spec.get("rpn_delta_wh", TARGET_STD["rpn_delta_wh"]))
    t_model = time.time() - t0

    classes_file = None
    if nc != 91:
        classes_file = os.path.join(arch_dir, "classes.txt")
        with open(classes_file, "w", encoding="utf-8") as f:  # num_classes - 1 lines: no background
            f.write("".join(f"thing{i}\n" for i in range(1, nc)))
    ckpt = os.path.join(arch_dir, "checkpoint.pth")
    torch.save({"model": model.state_dict(), "note": "make_fixtures.py"}, ckpt)
    summary = convert_cli(arch, ckpt, arch_dir, spec["flags"], classes_file)
    os.remove(ckpt)
    del model
    model, cfg = rebuild_from_files(arch, os.path.join(arch_dir, f"{arch}.json"))
    t_convert = time.time() - t0 - t_model

    images = []
    for name, h, w, img_seed in IMAGES:
        image = synth_image(h, w, img_seed)
        tensors, info, out = run_reference(model, image)
        meta = {"arch": arch, "image": name, "torch": torch.__version__, "torchvision": torchvision.__version__}
        C.write_safetensors(os.path.join(arch_dir, f"{name}.safetensors"), tensors, meta)
        with open(os.path.join(arch_dir, f"{name}.json"), "w", encoding="utf-8") as f:
            json.dump(detections_json(image, out, cfg["classes"], info), f, indent=1)
            f.write("\n")
        stats = statistics(out, cfg["box_score_thresh"])
        images.append({"name": name, "height": h, "width": w,
                       "tensors": f"{arch}/{name}.safetensors", "detections": f"{arch}/{name}.json",
                       **info, "stats": stats})
        print(f"  {arch}/{name}: {h}x{w} -> {info['resized']} (pad {info['padded']}), "
              f"{info['num_proposals']} proposals, {stats['count']} dets, {stats['classes']} classes, "
              f"scores {stats['score_min']:.3f}..{stats['score_max']:.3f} (min gap {stats['min_score_gap']:.2e}), "
              f"box sides {stats['box_side_min']:.0f}..{stats['box_side_max']:.0f}, "
              f"box nms {info['box_nms_candidates']} ({info['box_nms_impl']}); gaps: rpn pre "
              f"{_fmt(info['rpn_pre_nms_boundary_gaps'])} post {_fmt(info['rpn_post_nms_boundary_gap'])}, "
              f"cap {_fmt(info['box_cap_boundary_gap'])}, thresh {_fmt(info['box_score_thresh_margin'])}",
              flush=True)
    t_total = time.time() - t0
    print(f"  {arch}: {n_bn} batch norms recalibrated; model {t_model:.1f}s, convert {t_convert:.1f}s, "
          f"total {t_total:.1f}s", flush=True)
    return {
        "arch": arch,
        "config": f"{arch}/{arch}.json",
        "weights": f"{arch}/{cfg['weights']}",
        "num_classes": nc,
        "classes_file": f"{arch}/classes.txt" if classes_file else None,
        "task": cfg["task"],
        "converter_flags": spec["flags"],
        "converter_summary": summary,
        "images": images,
        "seconds": round(t_total, 1),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--archs", default=",".join(ARCHS), help="comma-separated subset of " + ", ".join(ARCHS))
    p.add_argument("--force", action="store_true", help="regenerate even if the manifest is up to date")
    args = p.parse_args(argv)
    archs = [a for a in args.archs.split(",") if a]
    unknown = [a for a in archs if a not in ARCHS]
    if unknown:
        p.error(f"unknown arch(s) {unknown}")
    fp = fingerprint(archs)
    manifest_path = os.path.join(args.out, "manifest.json")
    if not args.force and os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            old = json.load(f)
        if not isinstance(old, dict) or "fingerprint" not in old:
            p.error(f"{manifest_path} exists and is not a parity manifest; choose another --out")
        files = [os.path.join(args.out, e[k]) for e in old.get("archs", []) for k in ("config", "weights")]
        files += [os.path.join(args.out, i[k]) for e in old.get("archs", []) for i in e["images"]
                  for k in ("tensors", "detections")]
        if old["fingerprint"] == fp and all(os.path.exists(f) for f in files):
            print(f"{manifest_path}: up to date")
            return 0
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    entries = []
    for arch in archs:
        print(f"{arch}:", flush=True)
        entries.append(make_arch(arch, ARCHS[arch], args.out, seed=1000 + 17 * list(ARCHS).index(arch)))
    manifest = {
        "format_version": 1,
        "fingerprint": fp,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "images": [{"name": n, "height": h, "width": w, "seed": s} for n, h, w, s in IMAGES],
        "archs": entries,
        "seconds": round(time.time() - t0, 1),
    }
    with open(manifest_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.replace(manifest_path + ".tmp", manifest_path)
    print(f"wrote {manifest_path} in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
