#!/usr/bin/env python3
"""Op-level golden values: seeded random inputs and torch/torchvision reference outputs.

    .venv/bin/python Tests/Parity/make_op_fixtures.py --out fixtures/ops

Writes OUT/ops.safetensors (every tensor) and OUT/ops.json, a manifest of cases:
    {"op": ..., "name": ..., "params": {...}, "inputs": {role: key}, "output": key}
(cases with several results use "outputs": {role: key} instead of "output"). Keys are
"OP.NAME.ROLE". Each case's params are exactly the arguments of the torch call that produced the
output, so a test can re-run it; Tests/Parity/README.md documents every op and its conventions.
"""
import argparse
import collections
import hashlib
import importlib.util
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.misc import FrozenBatchNorm2d

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONVERTER = os.path.join(ROOT, "Tools", "convert_torchvision.py")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _load_converter():
    spec = importlib.util.spec_from_file_location("convert_torchvision", CONVERTER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Cases:
    """Collects tensors (by key) and case records."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.tensors = collections.OrderedDict()
        self.cases = []

    def randn(self, *shape, scale=1.0):
        return torch.randn(*shape, generator=self.gen) * scale

    def rand(self, *shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, generator=self.gen)

    def add(self, op, name, params, inputs, output=None, outputs=None):
        def put(role, value):
            key = f"{op}.{name}.{role}"
            if key in self.tensors:
                raise KeyError(key)
            if isinstance(value, torch.Tensor):
                value = value.detach().contiguous()
                if value.is_floating_point():
                    value = value.to(torch.float32)
            self.tensors[key] = value
            return key
        case = {"op": op, "name": name, "params": params,
                "inputs": {role: put(role, v) for role, v in inputs.items()}}
        if output is not None:
            case["output"] = put("out", output)
        if outputs is not None:
            case["outputs"] = {role: put(role, v) for role, v in outputs.items()}
        self.cases.append(case)


# ----------------------------------------------------------------------------------------------
# tensor ops

def conv_cases(c):
    specs = [
        # name, N, Cin, H, W, Cout, k, stride, pad, dilation, groups, bias
        ("k3_s1_p1", 1, 8, 13, 17, 16, 3, 1, 1, 1, 1, True),
        ("k3_s2_p1", 2, 8, 15, 20, 12, 3, 2, 1, 1, 1, True),
        ("k3_s2_p1_even", 1, 8, 16, 22, 8, 3, 2, 1, 1, 1, False),
        ("k1_s1", 1, 32, 9, 11, 24, 1, 1, 0, 1, 1, True),
        ("k1_s2", 1, 16, 14, 15, 32, 1, 2, 0, 1, 1, False),
        ("k7_s2_p3_stem", 1, 3, 37, 45, 16, 7, 2, 3, 1, 1, False),
        ("k3_d2_p2", 1, 8, 16, 16, 8, 3, 1, 2, 2, 1, True),
        ("k3_groups4", 1, 16, 12, 12, 32, 3, 1, 1, 1, 4, True),
        ("dw_k3_s1_p1", 1, 24, 14, 13, 24, 3, 1, 1, 1, 24, True),
        ("dw_k5_s2_p2", 1, 24, 15, 17, 24, 5, 2, 2, 1, 24, False),
        ("dw_k3_s2_p1", 1, 16, 9, 10, 16, 3, 2, 1, 1, 16, False),
        ("k3_s1_p1_wide", 1, 64, 20, 24, 64, 3, 1, 1, 1, 1, True),
        ("k3_s1_p0_nopad", 1, 4, 6, 9, 5, 3, 1, 0, 1, 1, True),
    ]
    for name, n, cin, h, w, cout, k, s, p, d, g, bias in specs:
        x = c.randn(n, cin, h, w)
        weight = c.randn(cout, cin // g, k, k, scale=1.0 / math.sqrt(cin // g * k * k))
        b = c.randn(cout, scale=0.1) if bias else None
        out = F.conv2d(x, weight, b, stride=s, padding=p, dilation=d, groups=g)
        inputs = {"x": x, "weight": weight}
        if bias:
            inputs["bias"] = b
        c.add("conv2d", name, {"stride": s, "padding": p, "dilation": d, "groups": g, "bias": bias},
              inputs, out)


def conv_transpose_cases(c):
    specs = [
        # name, N, Cin, H, W, Cout, k, stride, pad, output_padding, bias
        ("k2_s2_mask", 1, 16, 7, 7, 8, 2, 2, 0, 0, True),
        ("k2_s2_batch", 3, 4, 5, 6, 6, 2, 2, 0, 0, False),
        ("k3_s2_p1_op1", 1, 8, 5, 6, 4, 3, 2, 1, 1, True),
    ]
    for name, n, cin, h, w, cout, k, s, p, op, bias in specs:
        x = c.randn(n, cin, h, w)
        weight = c.randn(cin, cout, k, k, scale=1.0 / math.sqrt(cin * k * k))  # (in, out, kh, kw)
        b = c.randn(cout, scale=0.1) if bias else None
        out = F.conv_transpose2d(x, weight, b, stride=s, padding=p, output_padding=op)
        inputs = {"x": x, "weight": weight}
        if bias:
            inputs["bias"] = b
        c.add("conv_transpose2d", name, {"stride": s, "padding": p, "output_padding": op, "groups": 1,
                                         "dilation": 1, "bias": bias, "weight_layout": "in,out,kh,kw"},
              inputs, out)


def linear_cases(c):
    for name, n, fin, fout, bias in (("small", 5, 37, 19, True), ("box_head_like", 20, 392, 64, True),
                                     ("no_bias", 3, 16, 8, False)):
        x = c.randn(n, fin)
        weight = c.randn(fout, fin, scale=1.0 / math.sqrt(fin))
        b = c.randn(fout, scale=0.1) if bias else None
        inputs = {"x": x, "weight": weight}
        if bias:
            inputs["bias"] = b
        c.add("linear", name, {"bias": bias, "weight_layout": "out,in"}, inputs, F.linear(x, weight, b))


def pool_cases(c):
    x = c.randn(1, 4, 7, 9)
    c.add("max_pool2d", "k1_s2_last_level", {"kernel_size": 1, "stride": 2, "padding": 0, "ceil_mode": False},
          {"x": x}, F.max_pool2d(x, 1, 2, 0))
    x = c.randn(1, 4, 8, 10)
    c.add("max_pool2d", "k1_s2_even", {"kernel_size": 1, "stride": 2, "padding": 0, "ceil_mode": False},
          {"x": x}, F.max_pool2d(x, 1, 2, 0))
    x = c.randn(2, 4, 15, 16)
    c.add("max_pool2d", "k3_s2_p1_stem", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": False},
          {"x": x}, F.max_pool2d(x, 3, 2, 1))
    x = c.randn(1, 3, 8, 9)
    c.add("avg_pool2d", "k2_s2", {"kernel_size": 2, "stride": 2, "padding": 0, "count_include_pad": True},
          {"x": x}, F.avg_pool2d(x, 2, 2, 0))
    x = c.randn(1, 3, 9, 11)
    c.add("avg_pool2d", "k3_s2_p1_include_pad", {"kernel_size": 3, "stride": 2, "padding": 1,
                                                 "count_include_pad": True},
          {"x": x}, F.avg_pool2d(x, 3, 2, 1, count_include_pad=True))
    for name, shape, size in (("to_1x1_se", (1, 8, 7, 9), (1, 1)), ("to_7x7_from_20x15", (1, 4, 20, 15), (7, 7)),
                              ("to_3x5_from_10x11", (2, 2, 10, 11), (3, 5)), ("to_4x4_from_4x4", (1, 2, 4, 4), (4, 4))):
        x = c.randn(*shape)
        c.add("adaptive_avg_pool2d", name, {"output_size": list(size)}, {"x": x}, F.adaptive_avg_pool2d(x, size))


def interpolate_cases(c):
    # Nearest with an explicit size, as the FPN top-down path calls it.
    for name, shape, size in (("2x", (1, 4, 5, 7), (10, 14)), ("13x17_from_5x7", (1, 4, 5, 7), (13, 17)),
                              ("8x11_from_5x7", (1, 2, 5, 7), (8, 11)), ("down_3x4_from_5x7", (1, 2, 5, 7), (3, 4)),
                              ("same", (1, 2, 6, 6), (6, 6)), ("25x34_from_13x17", (1, 2, 13, 17), (25, 34))):
        x = c.randn(*shape)
        c.add("interpolate_nearest", name, {"size": list(size), "mode": "nearest"}, {"x": x},
              F.interpolate(x, size=size, mode="nearest"))
    # Bilinear with scale_factor + recompute_scale_factor=True, exactly as GeneralizedRCNNTransform
    # resizes (output size = floor(in * scale) in double; the kernel then uses in/out as its ratio).
    for name, shape, scale in (("x2.1621", (1, 3, 37, 53), 2.1621), ("x0.8", (1, 3, 40, 30), 0.8),
                               ("x1.7777", (1, 3, 29, 31), 1.7777), ("x0.5333", (1, 3, 50, 64), 0.5333),
                               ("x1.0", (1, 3, 9, 12), 1.0), ("x3.3333333", (1, 3, 12, 16), 10 / 3),
                               ("f32_scale_0.8", (1, 3, 30, 20), float(torch.tensor(16.0) / torch.tensor(20.0)))):
        x = c.rand(*shape)
        out = F.interpolate(x, size=None, scale_factor=scale, mode="bilinear", recompute_scale_factor=True,
                            align_corners=False)
        c.add("interpolate_bilinear_scale", name,
              {"scale_factor": scale, "recompute_scale_factor": True, "align_corners": False, "mode": "bilinear",
               "output_size": list(out.shape[-2:])}, {"x": x}, out)
    # Bilinear with an explicit size (paste_masks_in_image resizes the mask this way).
    for name, shape, size in (("up_29x31_from_13x17", (1, 2, 13, 17), (29, 31)),
                              ("down_10x12_from_29x31", (1, 2, 29, 31), (10, 12)),
                              ("mask_57x23_from_30x30", (1, 1, 30, 30), (57, 23)),
                              ("mask_1x1_from_30x30", (1, 1, 30, 30), (1, 1))):
        x = c.rand(*shape)
        c.add("interpolate_bilinear_size", name, {"size": list(size), "align_corners": False, "mode": "bilinear"},
              {"x": x}, F.interpolate(x, size=size, mode="bilinear", align_corners=False))


def activation_cases(c):
    edges = torch.tensor([-3.0, 3.0, 0.0, -0.0, 1e-8, -1e-8, 2.9999998, -2.9999998, 6.0, -6.0, 88.0, -88.0, 100.0, -100.0])
    x = torch.cat([torch.linspace(-8, 8, 801), c.randn(200, scale=4.0), edges])
    c.add("relu", "vector", {}, {"x": x}, F.relu(x))
    c.add("hardswish", "vector", {"formula": "x * min(max(x + 3, 0), 6) / 6"}, {"x": x}, F.hardswish(x))
    c.add("hardsigmoid", "vector", {"formula": "min(max(x + 3, 0), 6) / 6"}, {"x": x}, F.hardsigmoid(x))
    xs = torch.cat([torch.linspace(-30, 30, 601), c.randn(200, scale=5.0), edges])
    c.add("sigmoid", "vector", {}, {"x": xs}, torch.sigmoid(xs))
    logits = c.randn(7, 91, scale=3.0)
    logits[0] = 0.0       # uniform row
    logits[1, 5] = 80.0   # one dominant logit (exp overflows without the max shift)
    logits[2] = logits[2] * 10.0
    c.add("softmax", "dim1_91", {"dim": 1}, {"x": logits}, F.softmax(logits, dim=1))
    x = c.randn(4, 11, scale=2.0)
    c.add("softmax", "dim1_11", {"dim": 1}, {"x": x}, F.softmax(x, dim=1))


def batchnorm_cases(c):
    """bn(conv(x)) in eval mode: the engine folds BN into the conv at load time."""
    for name, cin, cout, conv_bias, eps, frozen in (("conv_bn_eps1e-5", 8, 12, False, 1e-5, False),
                                                    ("conv_bias_bn", 6, 5, True, 1e-5, False),
                                                    ("conv_frozenbn_eps0", 8, 8, False, 0.0, True),
                                                    ("conv_bn_eps1e-3", 4, 6, False, 1e-3, False)):
        x = c.randn(1, cin, 9, 10)
        weight = c.randn(cout, cin, 3, 3, scale=0.2)
        b = c.randn(cout, scale=0.1) if conv_bias else None
        bn_w = c.rand(cout, lo=0.5, hi=1.5)
        bn_b = c.randn(cout, scale=0.2)
        mean = c.randn(cout, scale=0.5)
        var = c.rand(cout, lo=0.05, hi=2.0)
        var[0] = 1e-6  # tiny variance: eps matters
        if frozen:
            bn = FrozenBatchNorm2d(cout, eps=eps)
        else:
            bn = torch.nn.BatchNorm2d(cout, eps=eps).eval()
        with torch.no_grad():
            bn.weight.copy_(bn_w)
            bn.bias.copy_(bn_b)
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            out = bn(F.conv2d(x, weight, b, stride=1, padding=1))
        inputs = {"x": x, "weight": weight, "bn_weight": bn_w, "bn_bias": bn_b, "bn_running_mean": mean,
                  "bn_running_var": var}
        if conv_bias:
            inputs["bias"] = b
        c.add("conv_batchnorm", name, {"stride": 1, "padding": 1, "dilation": 1, "groups": 1, "bias": conv_bias,
                                       "eps": eps, "module": "FrozenBatchNorm2d" if frozen else "BatchNorm2d"},
              inputs, out)


# ----------------------------------------------------------------------------------------------
# detection ops

def _random_rois(c, n, batch, width, height, special=True):
    """(n, 5) rois (batch_idx, x1, y1, x2, y2) in image coordinates, with awkward cases first."""
    rows = []
    if special:
        rows += [
            [0, -10.0, -8.0, 20.0, 15.0],            # partially outside (top-left)
            [0, width - 12.0, height - 9.0, width + 30.0, height + 25.0],   # partially outside (bottom-right)
            [0, width + 10.0, height + 10.0, width + 50.0, height + 40.0],  # fully outside
            [0, -60.0, -50.0, -10.0, -5.0],           # fully outside (negative)
            [0, 10.3, 12.7, 10.8, 13.1],              # tiny (< 1 px)
            [0, 20.0, 20.0, 20.0, 20.0],              # degenerate point
            [0, 5.0, 30.0, 5.0, 60.0],                # zero width
            [0, 30.0, 25.0, 18.0, 12.0],              # inverted (x2 < x1)
            [0, 0.0, 0.0, width, height],             # whole image
            [0, 0.5, 0.5, 1.5, 1.5],
            [0, width - 1.0, height - 1.0, width, height],
            [0, 3.25, 7.75, 44.5, 21.125],
        ]
    while len(rows) < n:
        b = int(torch.randint(0, batch, (1,), generator=c.gen))
        cx = float(c.rand(1, lo=-0.1 * width, hi=1.1 * width))
        cy = float(c.rand(1, lo=-0.1 * height, hi=1.1 * height))
        w = float(torch.exp(c.rand(1, lo=math.log(0.5), hi=math.log(width * 1.2))))
        h = float(torch.exp(c.rand(1, lo=math.log(0.5), hi=math.log(height * 1.2))))
        rows.append([b, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    rois = torch.tensor(rows[:n], dtype=torch.float32)
    if special and batch > 1:  # spread the awkward boxes over the batch too
        k = min(12, n)
        rois[:k, 0] = (torch.arange(k) % batch).to(torch.float32)
    return rois


def roi_cases(c):
    feats = c.randn(2, 8, 25, 34)
    specs = [
        # name, spatial_scale, sampling_ratio, output_size, n
        ("s0.25_sr2_7x7_300", 0.25, 2, (7, 7), 300),
        ("s0.125_sr0_14x14", 0.125, 0, (14, 14), 60),
        ("s0.03125_srm1_7x7", 1 / 32, -1, (7, 7), 80),
        ("s0.0625_sr2_7x5", 1 / 16, 2, (7, 5), 40),
        ("s1_sr1_3x3", 1.0, 1, (3, 3), 40),
    ]
    for name, scale, sr, size, n in specs:
        rois = _random_rois(c, n, 2, 34 / scale, 25 / scale)
        out = torchvision.ops.roi_align(feats, rois, output_size=size, spatial_scale=scale, sampling_ratio=sr,
                                        aligned=False)
        c.add("roi_align", name, {"output_size": list(size), "spatial_scale": scale, "sampling_ratio": sr,
                                  "aligned": False, "rois_layout": "batch_index,x1,y1,x2,y2"},
              {"x": feats, "rois": rois}, out)
    for name, scale, size, n in (("s0.25_7x7", 0.25, (7, 7), 200), ("s0.0625_3x5", 1 / 16, (3, 5), 60),
                                 ("s1_2x2", 1.0, (2, 2), 40)):
        rois = _random_rois(c, n, 2, 34 / scale, 25 / scale)
        out = torchvision.ops.roi_pool(feats, rois, output_size=size, spatial_scale=scale)
        c.add("roi_pool", name, {"output_size": list(size), "spatial_scale": scale,
                                 "rois_layout": "batch_index,x1,y1,x2,y2"},
              {"x": feats, "rois": rois}, out)


def _cluster_boxes(c, n, clusters, size=200.0):
    centers = c.rand(clusters, 2, lo=0, hi=size)
    idx = torch.randint(0, clusters, (n,), generator=c.gen)
    ctr = centers[idx] + c.randn(n, 2, scale=6.0)
    wh = c.rand(n, 2, lo=8.0, hi=50.0)
    return torch.cat([ctr - wh / 2, ctr + wh / 2], dim=1)


def nms_cases(c):
    boxes = _cluster_boxes(c, 200, 25)
    scores = c.rand(200)
    for thr in (0.5, 0.7):
        c.add("nms", f"clusters_200_iou{thr}", {"iou_threshold": thr}, {"boxes": boxes, "scores": scores},
              torchvision.ops.nms(boxes, scores, thr))
    # Ties and IoU exactly at the threshold. Suppression is IoU > threshold (strict): the IoU is
    # computed in float32 and compared with the double threshold.
    b = torch.tensor([
        [0, 0, 10, 10], [0, 0, 10, 5],          # IoU exactly 0.5
        [20, 0, 30, 10], [20, 0, 30, 7],        # IoU 0.7 (float32 0.7 < double 0.7: kept at 0.7)
        [40, 0, 50, 10], [40, 0, 50, 10],       # identical boxes, identical scores
        [60, 0, 70, 10], [61, 0, 71, 10],       # heavy overlap, tied scores
        [80, 0, 90, 10], [100, 0, 110, 10], [120, 0, 130, 10],  # disjoint, tied scores (order = index)
        [0, 20, 10, 30], [0, 20, 10, 30.0001],  # near-identical
        [140, 0, 140, 10], [150, 0, 160, 10],   # zero-area box
    ], dtype=torch.float32)
    s = torch.tensor([0.9, 0.8, 0.9, 0.8, 0.6, 0.6, 0.7, 0.7, 0.5, 0.5, 0.5, 0.3, 0.2, 0.95, 0.1])
    for thr in (0.5, 0.7, 0.0):
        c.add("nms", f"ties_and_exact_iou{thr}", {"iou_threshold": thr}, {"boxes": b, "scores": s},
              torchvision.ops.nms(b, s, thr))
    # batched_nms: <= 1000 boxes takes the coordinate-offset path, > 1000 the per-class loop.
    for name, n, classes in (("offset_path_600", 600, 7), ("per_class_path_1200", 1200, 9)):
        bx = _cluster_boxes(c, n, 40, size=600.0)
        sc = c.rand(n)
        sc[: n // 10] = sc[n // 10: 2 * (n // 10)]  # duplicated scores
        idxs = torch.randint(0, classes, (n,), generator=c.gen)
        impl = "coordinate_trick" if n * 4 <= 4000 else "per_class"
        c.add("batched_nms", name, {"iou_threshold": 0.5, "impl": impl},
              {"boxes": bx, "scores": sc, "idxs": idxs}, torchvision.ops.batched_nms(bx, sc, idxs, 0.5))


def box_coder_cases(c):
    anchors = _cluster_boxes(c, 64, 10, size=500.0)
    deltas = c.randn(64, 4, scale=0.5)
    deltas[:4, 2:] = torch.tensor([[10.0, 10.0], [4.2, -4.2], [50.0, 3.0], [-20.0, 8.0]])  # clamp at log(1000/16)
    coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    c.add("box_decode", "rpn_w1111", {"weights": [1.0, 1.0, 1.0, 1.0], "bbox_xform_clip": coder.bbox_xform_clip},
          {"boxes": anchors, "deltas": deltas}, coder.decode(deltas, [anchors]))
    proposals = _cluster_boxes(c, 50, 10, size=500.0)
    num_classes = 5
    codes = c.randn(50, 4 * num_classes, scale=2.0)
    codes[:3, 2:4] = torch.tensor([[30.0, 30.0], [20.7, -50.0], [100.0, 25.0]])  # / 5 -> clamp
    coder = det_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    c.add("box_decode", "roi_w10_10_5_5", {"weights": [10.0, 10.0, 5.0, 5.0], "bbox_xform_clip": coder.bbox_xform_clip,
                                           "num_classes": num_classes},
          {"boxes": proposals, "deltas": codes}, coder.decode(codes, [proposals]))
    boxes = torch.tensor([[-5.0, -3.0, 20.0, 30.0], [10.0, 10.0, 500.0, 400.0], [3.0, 4.0, 3.005, 4.2],
                          [0.0, 0.0, 0.0, 0.0], [-50.0, 100.0, -10.0, 120.0]])
    c.add("clip_boxes_to_image", "mixed", {"size": [300, 450]}, {"boxes": boxes},
          torchvision.ops.clip_boxes_to_image(boxes, (300, 450)))


def anchor_cases(c):
    fpn_sizes = ((32,), (64,), (128,), (256,), (512,))
    fpn_ratios = ((0.5, 1.0, 2.0),) * 5
    mobile_sizes = ((32, 64, 128, 256, 512),) * 3
    mobile_ratios = ((0.5, 1.0, 2.0),) * 3
    specs = [
        # name, sizes, ratios, padded image (H, W), feature sizes
        # 416x608: the stride-32 map is 13x19, the "pool" map 7x10 -> strides 416//7=59, 608//10=60.
        ("fpn_416x608", fpn_sizes, fpn_ratios, (416, 608), [(104, 152), (52, 76), (26, 38), (13, 19), (7, 10)]),
        ("fpn_320x448", fpn_sizes, fpn_ratios, (320, 448), [(80, 112), (40, 56), (20, 28), (10, 14), (5, 7)]),
        ("mobilenet_320x448", mobile_sizes, mobile_ratios, (320, 448), [(10, 14), (10, 14), (5, 7)]),
        ("custom_sizes_ratios", ((16, 24), (48,)), ((0.25, 1.0, 3.0), (0.7,)), (96, 128), [(24, 32), (12, 16)]),
    ]
    for name, sizes, ratios, image_hw, feature_hw in specs:
        gen = AnchorGenerator(sizes, ratios)
        il = ImageList(torch.zeros(1, 3, *image_hw), [image_hw])
        fmaps = [torch.zeros(1, 1, h, w) for h, w in feature_hw]
        anchors = gen(il, fmaps)[0]
        counts = [h * w * a for (h, w), a in zip(feature_hw, gen.num_anchors_per_location())]
        per_level = dict(zip([f"level{i}" for i in range(len(counts))], anchors.split(counts)))
        cell = {f"cell{i}": a for i, a in enumerate(gen.cell_anchors)}
        c.add("anchors", name, {"sizes": [list(s) for s in sizes], "aspect_ratios": [list(r) for r in ratios],
                                "image_size": list(image_hw), "feature_sizes": [list(f) for f in feature_hw],
                                "strides": [[image_hw[0] // h, image_hw[1] // w] for h, w in feature_hw]},
              {}, outputs={**cell, **per_level})


def multiscale_cases(c):
    channels = 8
    specs = [
        # name, featmap names, feature sizes, image_shapes (unpadded), output size
        ("fpn4_200x296", ["0", "1", "2", "3"], [(56, 80), (28, 40), (14, 20), (7, 10)], (200, 296), 7),
        ("fpn4_mask_14", ["0", "1", "2", "3"], [(56, 80), (28, 40), (14, 20), (7, 10)], (217, 310), 14),
        # the MobileNet FPN: "0" and "1" both at stride 32 -> k_min = k_max = 5, all RoIs on "0"
        ("mobilenet_2_same_stride", ["0", "1"], [(10, 14), (10, 14)], (303, 426), 7),
    ]
    for name, names, sizes, image_hw, out_size in specs:
        feats = collections.OrderedDict((n, c.randn(1, channels, h, w)) for n, (h, w) in zip(names, sizes))
        h, w = image_hw
        # sides log-uniform in [4, 700] px so that every level (and both clamps) get RoIs
        ctr = torch.stack([c.rand(150, lo=0.0, hi=float(w)), c.rand(150, lo=0.0, hi=float(h))], dim=1)
        side = torch.exp(c.rand(150, 2, lo=math.log(4.0), hi=math.log(700.0)))
        boxes = torch.cat([ctr - side / 2, ctr + side / 2], dim=1)
        boxes[:12] = _random_rois(c, 12, 1, w, h, special=True)[:, 1:]
        boxes[12:20] = torch.tensor([[0, 0, 1000, 900], [5, 5, 600, 700], [10, 10, 12, 12], [0, 0, 224, 224],
                                     [0, 0, 112, 112], [0, 0, 223.9, 224], [0, 0, 448, 448], [0, 0, 56, 56]])
        pooler = MultiScaleRoIAlign(names, out_size, 2)
        out = pooler(feats, [boxes], [image_hw])
        levels = pooler.map_levels([boxes]) if pooler.map_levels is not None else None
        inputs = {f"features.{n}": f for n, f in feats.items()}
        inputs["boxes"] = boxes
        c.add("multiscale_roi_align", name,
              {"featmap_names": names, "output_size": out_size, "sampling_ratio": 2, "canonical_scale": 224,
               "canonical_level": 4, "image_size": list(image_hw), "scales": [float(s) for s in pooler.scales],
               "k_min": int(pooler.map_levels.k_min), "k_max": int(pooler.map_levels.k_max)},
              inputs, outputs={"levels": levels.to(torch.int64), "pooled": out})


def transform_cases(c):
    """GeneralizedRCNNTransform (eval): normalize, resize, pad to 32; small sizes keep the file small."""
    specs = [
        # name, H, W, min_size, max_size
        ("upscale_24x32_min40", 24, 32, 40, 67),
        ("portrait_60x40_min32_max64", 60, 40, 32, 64),   # h > w
        ("wide_72x152_min80_max133", 72, 152, 80, 133),   # max_size binds
        ("odd_37x53_min50_max90", 37, 53, 50, 90),
        ("identity_50x50", 50, 50, 50, 50),
        ("down_97x61_min40_max80", 97, 61, 40, 80),
        # float32 scale 16 * (1/25) < 0.64: the short side becomes 15, not 16
        ("min_side_rounds_down_25x30", 25, 30, 16, 64),
        # 16 * (1/25) again, on the long side: 8x25 -> 5x15 (not 5x16)
        ("max_side_rounds_down_8x25", 8, 25, 16, 16),
    ]
    for name, h, w, mn, mx in specs:
        image = (c.rand(h, w, 3) * 255).round().to(torch.uint8)
        t = GeneralizedRCNNTransform(mn, mx, IMAGENET_MEAN, IMAGENET_STD).eval()
        x = image.permute(2, 0, 1).to(torch.float32) / 255
        il, _ = t([x])
        c.add("transform", name, {"min_size": mn, "max_size": mx, "image_mean": IMAGENET_MEAN,
                                  "image_std": IMAGENET_STD, "size_divisible": 32, "input": "uint8 HWC / 255"},
              {"image": image}, outputs={"input": il.tensors,
                                         "image_size": torch.tensor(list(il.image_sizes[0]), dtype=torch.int64)})
    # Output sizes only, for real photo sizes (the resized image itself would be too big to store).
    rows = []
    shapes = [(480, 640), (640, 480), (720, 1280), (1080, 1920), (1200, 1600), (600, 400), (427, 640), (640, 427),
              (500, 375), (375, 500), (333, 500), (240, 320), (720, 1520), (1000, 1500), (800, 1333), (799, 1333),
              (10, 1000), (37, 53), (2448, 3264), (3000, 4000), (801, 1201), (612, 612), (300, 1000), (1333, 800)]
    for mn, mx in ((800, 1333), (320, 640), (512, 853), (600, 1000), (320, 320)):
        t = GeneralizedRCNNTransform(mn, mx, IMAGENET_MEAN, IMAGENET_STD).eval()
        for h, w in shapes:
            il, _ = t([torch.zeros(1, h, w).expand(3, h, w)])
            rh, rw = il.image_sizes[0]
            ph, pw = il.tensors.shape[-2:]
            rows.append([h, w, mn, mx, rh, rw, ph, pw])
    c.add("transform_sizes", "table", {"columns": ["height", "width", "min_size", "max_size", "resized_height",
                                                   "resized_width", "padded_height", "padded_width"]},
          {}, output=torch.tensor(rows, dtype=torch.int64))


def paste_cases(c):
    """roi_heads.paste_masks_in_image: 28x28 probabilities -> full image (boxes in image pixels)."""
    h, w = 60, 80
    masks = torch.sigmoid(c.randn(20, 1, 28, 28, scale=3.0))
    boxes = torch.tensor([
        [10.0, 5.0, 40.0, 30.0], [-7.6, -3.2, 20.4, 15.9], [60.2, 40.7, 95.0, 75.0], [0.0, 0.0, 80.0, 60.0],
        [30.5, 30.5, 31.2, 31.0], [5.0, 5.0, 5.0, 5.0], [-0.9, -0.4, 12.3, 8.8], [70.0, 50.0, 79.9, 59.9],
        [0.0, 0.0, 3.0, 80.0], [79.0, 0.0, 80.0, 60.0],
    ])
    # Real detections are clipped to the image before pasting (torchvision's paste crashes on a box
    # entirely outside the image), so the random boxes stay inside it.
    rnd = torch.stack([c.rand(10, lo=0.0, hi=float(w)), c.rand(10, lo=0.0, hi=float(h)),
                       c.rand(10, lo=0.0, hi=float(w)), c.rand(10, lo=0.0, hi=float(h))], dim=1)
    rnd = torch.stack([torch.minimum(rnd[:, 0], rnd[:, 2]), torch.minimum(rnd[:, 1], rnd[:, 3]),
                       torch.maximum(rnd[:, 0], rnd[:, 2]), torch.maximum(rnd[:, 1], rnd[:, 3])], dim=1)
    boxes = torch.cat([boxes, rnd])
    out = paste_masks_in_image(masks, boxes, (h, w), padding=1)
    c.add("paste_masks", "60x80", {"image_size": [h, w], "padding": 1},
          {"masks": masks, "boxes": boxes}, out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--force", action="store_true", help="regenerate even if ops.json is up to date")
    args = p.parse_args(argv)
    digest = hashlib.sha256()
    for path in (os.path.abspath(__file__), CONVERTER):
        with open(path, "rb") as f:
            digest.update(f.read())
    digest.update(f"{torch.__version__} {torchvision.__version__}".encode())
    fingerprint = digest.hexdigest()
    manifest_path = os.path.join(args.out, "ops.json")
    st_path = os.path.join(args.out, "ops.safetensors")
    if not args.force and os.path.exists(manifest_path) and os.path.exists(st_path):
        with open(manifest_path, encoding="utf-8") as f:
            old = json.load(f)
        if isinstance(old, dict) and old.get("fingerprint") == fingerprint:
            print(f"{manifest_path}: up to date")
            return 0
    t0 = time.time()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    c = Cases(seed=1234)
    for make in (conv_cases, conv_transpose_cases, linear_cases, pool_cases, interpolate_cases, activation_cases,
                 batchnorm_cases, roi_cases, nms_cases, box_coder_cases, anchor_cases, multiscale_cases,
                 transform_cases, paste_cases):
        make(c)
    os.makedirs(args.out, exist_ok=True)
    conv = _load_converter()
    sha = conv.write_safetensors(st_path, c.tensors, {"torch": torch.__version__,
                                                      "torchvision": torchvision.__version__})
    manifest = {"format_version": 1, "fingerprint": fingerprint, "torch": torch.__version__, "torchvision": torchvision.__version__,
                "tensors": "ops.safetensors", "tensors_sha256": sha, "cases": c.cases}
    with open(manifest_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.replace(manifest_path + ".tmp", manifest_path)
    ops = collections.Counter(case["op"] for case in c.cases)
    print(f"wrote {st_path} ({os.path.getsize(st_path) / 2**20:.1f} MiB, {len(c.tensors)} tensors) and ops.json: "
          f"{len(c.cases)} cases ({', '.join(f'{k} {v}' for k, v in ops.items())}) in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
