"""How sensitive a model's detections are to a perturbation of one layer's input, in torchvision.

Reproduces the check behind the README's note on the ResNet-50 parity-fixture weights: quantizing a
single convolution as an int8 variant does (per-tensor input levels from the variant's table,
per-channel symmetric weights) or multiplying its input by (1 + r * noise) for small r, then counting
the float32 detections reproduced (same class, box IoU >= 0.9) and each FPN level's relative L2
error. Random-weight fixtures lose most of their detections at r = 1e-3 and amplify the relative
error of one layer's input 50-100 times by the FPN outputs, so neither detection agreement nor
feature error on them says much about int8 kernels.

    .venv/bin/python Benchmarks/int8/sensitivity.py --config M.json --variant M_int8.json \
        --arch fasterrcnn_resnet50_fpn_v2 --image photo.png --layer backbone.body.layer1.0.conv1 [--all]

With --all every layer of the variant's table is quantized at once (torch's simulation of the whole
variant); its FPN error can be set beside `rcnn compare --features` on the same image.
"""
import argparse
import json

import numpy as np
import torch
import torchvision
from PIL import Image
from safetensors.torch import load_file


def agreement(ref, other, min_iou=0.9):
    used, reproduced = set(), 0
    for i in torch.argsort(ref["scores"], descending=True).tolist():
        best, best_j = -1.0, -1
        for j in range(len(other["boxes"])):
            if j in used or other["labels"][j] != ref["labels"][i]:
                continue
            iou = torchvision.ops.box_iou(ref["boxes"][i:i + 1], other["boxes"][j:j + 1]).item()
            if iou > best:
                best, best_j = iou, j
        if best >= min_iou:
            used.add(best_j)
            reproduced += 1
    return reproduced, len(ref["boxes"])


def quantize_weight(w):
    """A weight as the variant runs it: symmetric per output channel, levels -127...127."""
    step = w.abs().flatten(1).max(1).values.clamp_min(1e-30) / 127
    shape = (-1,) + (1,) * (w.dim() - 1)
    return torch.round(w / step.view(shape)).clamp(-127, 127) * step.view(shape)


def fake_quant_input(entry):
    """A forward pre-hook that rounds a layer's input to the table entry's 7-bit levels."""
    s, z = entry["scale"], entry["zero_point"]
    return lambda m, inp: (torch.clamp(torch.round(inp[0] / s) + z, 0, 127) - z) * s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--variant", required=True, help="an int8 variant of --config (rcnn calibrate)")
    ap.add_argument("--arch", required=True, help="torchvision builder, e.g. fasterrcnn_resnet50_fpn_v2")
    ap.add_argument("--image", required=True)
    ap.add_argument("--layer", required=True)
    ap.add_argument("--all", action="store_true",
                    help="also quantize every layer of the variant's table at once, as the variant runs")
    ap.add_argument("--score-threshold", type=float, default=0.05)
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = json.load(open(args.config))
    weights = load_file(cfg["weights"] if cfg["weights"].startswith("/") else
                        args.config.rsplit("/", 1)[0] + "/" + cfg["weights"])
    model = getattr(torchvision.models.detection, args.arch)(
        weights=None, weights_backbone=None, num_classes=len(cfg["classes"]), box_score_thresh=args.score_threshold,
        min_size=cfg["transform"]["min_size"], max_size=cfg["transform"]["max_size"])
    model.load_state_dict(weights)
    model.eval()
    image = torch.from_numpy(np.array(Image.open(args.image).convert("RGB"))).permute(2, 0, 1).float() / 255
    layer = dict(model.named_modules())[args.layer]
    table = {l["name"]: l for l in json.load(open(args.variant))["quantization"]["layers"]}

    features = {}
    model.backbone.register_forward_hook(lambda m, inp, out: features.update({k: v.clone() for k, v in out.items()}))

    def run(pre=None, weight=None):
        handle = layer.register_forward_pre_hook(pre) if pre else None
        saved = layer.weight.data.clone()
        if weight is not None:
            layer.weight.data = weight
        with torch.no_grad():
            out = model([image])[0]
        layer.weight.data = saved
        if handle:
            handle.remove()
        return out, dict(features)

    def feature_error(f):
        return ", ".join(f"{k} {((f[k] - ref_features[k]).norm() / ref_features[k].norm()).item():.4f}" for k in f)

    reference, ref_features = run()
    quantized, f = run(fake_quant_input(table[args.layer]), quantize_weight(layer.weight.data))
    print(f"{args.layer} quantized alone: {agreement(reference, quantized)[0]} of {len(reference['boxes'])} reproduced; "
          f"FPN relative error {feature_error(f)}")
    if args.all:
        modules = dict(model.named_modules())
        handles, saved = [], {}
        for name, entry in table.items():
            m = modules[name]
            saved[name] = m.weight.data.clone()
            m.weight.data = quantize_weight(m.weight.data)
            handles.append(m.register_forward_pre_hook(fake_quant_input(entry)))
        everything, f = run()
        for h in handles:
            h.remove()
        for name, w0 in saved.items():
            modules[name].weight.data = w0
        print(f"all {len(table)} layers of the table quantized: {agreement(reference, everything)[0]} of "
              f"{len(reference['boxes'])} reproduced; FPN relative error {feature_error(f)}")
    for r in (1e-4, 1e-3, 1e-2):
        g = torch.Generator().manual_seed(0)
        noisy, f = run(lambda m, inp: inp[0] * (1 + r * torch.randn(inp[0].shape, generator=g)))
        print(f"{args.layer} input x (1 + {r:g} noise): {agreement(reference, noisy)[0]} of {len(reference['boxes'])} "
              f"reproduced; FPN relative error {feature_error(f)}")


if __name__ == "__main__":
    main()
