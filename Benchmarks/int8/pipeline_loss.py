"""Where an int8 variant loses float32 detections through the whole pipeline, simulated in torchvision.

`rcnn compare` says how many of the float32 model's detections an int8 variant reproduces (same
class, box IoU >= 0.9). This script asks why, in torch, on the variant's own table: every listed
layer's input rounded to the table's levels (per tensor, `activation_bits`) and its weights to
per-output-channel symmetric levels (`weight_bits`), as the engine runs them, then the same measure
with parts of that switched off:

- the floor: the float32 model against itself with its input multiplied by (1 + r x noise);
- the whole table; its weights alone (activations float32); its activations alone;
- each group of layers quantized alone (a ResNet stage, the FPN's lateral or output layers, the
  RPN's 3x3 layer, objectness and box outputs, the box head);
- the whole table with each group back in float32, and with only that group's weights float32;
- empirical bias correction (each layer's bias moved by the mean per-channel difference between
  its float32 output and its quantized output on the same float32 input, over the calibration
  images), the step OpenVINO's post-training quantization takes by default;
- the reproduced share by the float32 detection's score.

    .venv/bin/python Benchmarks/int8/pipeline_loss.py --config DIR/fasterrcnn_resnet50_fpn.json \\
        --variant DIR/fasterrcnn_resnet50_fpn_int8.json --images VAL_DIR --count 40 --calib-images CALIB_DIR

Only torch runs here, so the figures say what the table costs, whatever kernels run it.
"""
import argparse
import glob
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from safetensors.torch import load_file


def load_image(path):
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255


def reproduced(ref, other, min_iou=0.9):
    """Per reference detection (by falling score), whether an unused same-class box has IoU >= min_iou."""
    hits = torch.zeros(len(ref["boxes"]), dtype=torch.bool)
    if len(ref["boxes"]) == 0 or len(other["boxes"]) == 0:
        return hits
    iou = torchvision.ops.box_iou(ref["boxes"], other["boxes"])
    iou[ref["labels"][:, None] != other["labels"][None, :]] = -1
    used = torch.zeros(len(other["boxes"]), dtype=torch.bool)
    for i in torch.argsort(ref["scores"], descending=True).tolist():
        row = iou[i].clone()
        row[used] = -1
        j = int(row.argmax())
        if row[j] >= min_iou:
            used[j] = True
            hits[i] = True
    return hits


class Simulation:
    def __init__(self, model, table, activation_top, weight_top):
        self.model, self.table = model, table
        self.modules = dict(model.named_modules())
        self.top, self.wtop = activation_top, weight_top
        self.weights = {n: self.modules[n].weight.data.clone() for n in table}
        self.biases = {n: None if self.modules[n].bias is None else self.modules[n].bias.data.clone()
                       for n in table}
        self.hooks = []

    def quantize_weight(self, w):
        step = w.abs().flatten(1).max(1).values.clamp_min(1e-30) / self.wtop
        shape = (-1,) + (1,) * (w.dim() - 1)
        return torch.round(w / step.view(shape)).clamp(-self.wtop, self.wtop) * step.view(shape)

    def quantize_input(self, x, entry):
        s, z = entry["scale"], entry["zero_point"]
        return (torch.clamp(torch.round(x / s) + z, 0, self.top) - z) * s

    def configure(self, weights=(), inputs=(), bias_shift=None):
        """Quantize the weights of the layers in `weights` and the inputs of those in `inputs`."""
        self.restore()
        for name in self.table:
            m = self.modules[name]
            if name in weights:
                m.weight.data = self.quantize_weight(self.weights[name])
            if name in inputs:
                entry = self.table[name]
                self.hooks.append(m.register_forward_pre_hook(
                    lambda _m, args, entry=entry: self.quantize_input(args[0], entry)))
            if bias_shift is not None and name in bias_shift:
                base = self.biases[name] if self.biases[name] is not None else torch.zeros(m.weight.shape[0])
                m.bias = torch.nn.Parameter(base + bias_shift[name])

    def restore(self):
        for h in self.hooks:
            h.remove()
        self.hooks = []
        for name in self.table:
            m = self.modules[name]
            m.weight.data = self.weights[name]
            m.bias = None if self.biases[name] is None else torch.nn.Parameter(self.biases[name])

    def run(self, images):
        with torch.no_grad():
            return [self.model([x])[0] for x in images]

    def bias_shift(self, images):
        """Mean per-channel float32-minus-quantized output of each layer on its float32 input."""
        self.restore()
        sums, counts = {}, {}

        def observe(m, args, _out, name):
            x, w = args[0], self.weights[name]
            xq, wq = self.quantize_input(x, self.table[name]), self.quantize_weight(w)
            if isinstance(m, torch.nn.Conv2d):
                conv = lambda a, b: F.conv2d(a, b, None, m.stride, m.padding, m.dilation, m.groups)
                d = (conv(x, w) - conv(xq, wq)).transpose(0, 1).flatten(1)
            elif isinstance(m, torch.nn.ConvTranspose2d):
                conv = lambda a, b: F.conv_transpose2d(a, b, None, m.stride, m.padding, m.output_padding,
                                                       m.groups, m.dilation)
                d = (conv(x, w) - conv(xq, wq)).transpose(0, 1).flatten(1)
            else:
                d = (F.linear(x, w) - F.linear(xq, wq)).t()
            sums[name] = sums.get(name, 0) + d.sum(1)
            counts[name] = counts.get(name, 0) + d.shape[1]

        for name in self.table:
            self.hooks.append(self.modules[name].register_forward_hook(
                lambda m, args, out, name=name: observe(m, args, out, name)))
        self.run(images)
        self.restore()
        return {n: sums[n] / counts[n] for n in sums}


def groups_of(names):
    """Layer groups by role: ResNet stages, FPN lateral/output layers, RPN parts, RoI heads."""
    rules = [("backbone.body.layer1.", "backbone layer1"), ("backbone.body.layer2.", "backbone layer2"),
             ("backbone.body.layer3.", "backbone layer3"), ("backbone.body.layer4.", "backbone layer4"),
             ("backbone.body.", "backbone other"),
             ("backbone.fpn.inner_blocks", "FPN lateral 1x1"), ("backbone.fpn.layer_blocks", "FPN output 3x3"),
             ("rpn.head.conv", "RPN 3x3"), ("rpn.head.cls_logits", "RPN objectness"),
             ("rpn.head.bbox_pred", "RPN box deltas"), ("roi_heads.box_head", "box head fc6/fc7"),
             ("roi_heads.box_predictor", "box predictor"), ("roi_heads.mask", "mask head"),
             ("roi_heads.keypoint", "keypoint head"), ("", "other")]
    groups = {}
    for n in names:
        label = next(label for prefix, label in rules if n.startswith(prefix))
        groups.setdefault(label, []).append(n)
    return groups


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--variant", required=True, help="an int8 variant of --config (rcnn calibrate)")
    ap.add_argument("--arch", help="torchvision builder (default: the config's architecture)")
    ap.add_argument("--images", required=True, help="held-out images (not the calibration ones)")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--calib-images", help="images for the bias-correction statistics (skipped without)")
    ap.add_argument("--calib-count", type=int, default=16)
    ap.add_argument("--score-threshold", type=float, default=0.05)
    ap.add_argument("--skip-groups", action="store_true", help="only the whole-table measures")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))

    cfg = json.load(open(args.config))
    variant = json.load(open(args.variant))["quantization"]
    table = {entry["name"]: entry for entry in variant["layers"]}
    weights_path = cfg["weights"] if os.path.isabs(cfg["weights"]) else \
        os.path.join(os.path.dirname(os.path.abspath(args.config)), cfg["weights"])
    builder = getattr(torchvision.models.detection, args.arch or cfg["architecture"])
    model = builder(weights=None, weights_backbone=None, num_classes=len(cfg["classes"]),
                    box_score_thresh=args.score_threshold, min_size=cfg["transform"]["min_size"],
                    max_size=cfg["transform"]["max_size"])
    model.load_state_dict(load_file(weights_path))
    model.eval()
    sim = Simulation(model, table, activation_top=255 if variant.get("activation_bits", 7) == 8 else 127,
                     weight_top=63 if variant.get("weight_bits", 8) == 7 else 127)
    paths = sorted(p for p in glob.glob(os.path.join(args.images, "*")) if p.lower().endswith((".jpg", ".png", ".jpeg")))
    images = [load_image(p) for p in paths[:args.count]]
    reference = sim.run(images)
    total = sum(len(r["boxes"]) for r in reference)
    print(f"{len(table)} layers in the table; {len(images)} images, {total} float32 detections at score >= "
          f"{args.score_threshold}", flush=True)

    def measure(label, outputs, by_score=False):
        hits = [reproduced(r, o) for r, o in zip(reference, outputs)]
        kept = sum(int(h.sum()) for h in hits)
        print(f"{label:<58} {kept:>6} of {total} = {100 * kept / total:5.1f}%", flush=True)
        if by_score:
            scores = torch.cat([r["scores"] for r in reference])
            flags = torch.cat(hits)
            bands = [(args.score_threshold, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.5), (0.5, 1.01)]
            parts = []
            for lo, hi in bands:
                sel = (scores >= lo) & (scores < hi)
                if int(sel.sum()):
                    parts.append(f"[{lo:g}, {min(hi, 1):g}): {100 * float(flags[sel].float().mean()):.1f}% "
                                 f"of {int(sel.sum())}")
            print("    by float32 score: " + "; ".join(parts), flush=True)

    everything = list(table)
    for r in (1e-4, 1e-3):
        g = torch.Generator().manual_seed(0)
        sim.restore()
        measure(f"float32, input x (1 + {r:g} noise)",
                sim.run([x * (1 + r * torch.randn(x.shape, generator=g)) for x in images]))
    sim.configure(weights=everything, inputs=everything)
    measure("whole table", sim.run(images), by_score=True)
    sim.configure(weights=everything)
    measure("weights only (activations float32)", sim.run(images))
    sim.configure(inputs=everything)
    measure("activations only (weights float32)", sim.run(images))
    if args.calib_images:
        calib = sorted(p for p in glob.glob(os.path.join(args.calib_images, "*"))
                       if p.lower().endswith((".jpg", ".png", ".jpeg")))[:args.calib_count]
        shift = sim.bias_shift([load_image(p) for p in calib])
        sim.configure(weights=everything, inputs=everything, bias_shift=shift)
        measure("whole table, bias-corrected", sim.run(images))
    if not args.skip_groups:
        for label, names in groups_of(everything).items():
            sim.configure(weights=names, inputs=names)
            measure(f"only {label} ({len(names)})", sim.run(images))
        for label, names in groups_of(everything).items():
            rest = [n for n in everything if n not in names]
            sim.configure(weights=rest, inputs=rest)
            measure(f"all but {label} float32", sim.run(images))
            sim.configure(weights=rest, inputs=everything)
            measure(f"all, {label} weights float32", sim.run(images))
    sim.restore()


if __name__ == "__main__":
    main()
