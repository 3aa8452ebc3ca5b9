"""ResNet-50 FPN weights whose backbone damps perturbations as a trained one does, made without downloads.

The parity fixtures' random ResNet-50 weights (batch norms re-estimated on images) are chaotic:
1% noise in one early layer's input moves the FPN outputs by 30-50%, so no int8 runtime (ours, or
torch's own fake-quantized simulation, Benchmarks/int8/sensitivity.py) keeps their detections.
In a trained ResNet the residual branches add small corrections to the shortcut; here every
bottleneck's last batch norm (bn3, the residual branch's output) is scaled by --residual-gain after
the batch norms are re-estimated, which makes a perturbation shrink along the network instead of
growing (--residual-gain 1 gives the chaotic fixtures back). The script prints the FPN error that
1% noise in backbone.body.layer1.0.conv1's input causes at gain 1 and at the chosen gain, then
scales the predictors as the parity fixtures do (Tests/Parity/make_fixtures.py) and converts the
checkpoint like any torchvision one. The heads stay random: their scores rank near-tied
proposals, so `rcnn compare --features` (each FPN level's error, and the agreement when both
models classify the same proposals) is the measure that means something on these weights.

    .venv/bin/python Benchmarks/int8/r50_weights.py --out /tmp/r50 [--arch maskrcnn_resnet50_fpn] \\
        [--residual-gain 0.2] [--seed 7]

It writes OUT/ARCH.json and .safetensors (COCO classes, torchvision's 800/1333 input sizes, score
threshold 0.05), ready for `rcnn bench`, `rcnn calibrate` and `rcnn compare`; the README's int8
section has the figures.
"""
import argparse
import importlib.util
import os
import sys

import torch
from torchvision.models.resnet import Bottleneck

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIXTURES = _load("make_fixtures", os.path.join(ROOT, "Tests", "Parity", "make_fixtures.py"))


def scale_residual_branches(model, gain):
    """Multiplies every bottleneck's bn3 output (its residual branch) by `gain`."""
    count = 0
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, Bottleneck):
                m.bn3.weight *= gain
                m.bn3.bias *= gain
                count += 1
    return count


def perturbation_error(model, image, r=1e-2, seed=0):
    """Each FPN level's relative L2 change when layer1.0.conv1's input is multiplied by 1 + r * noise."""
    layer = model.backbone.body.layer1[0].conv1
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x = model.transform([FIXTURES.to_input(image)])[0].tensors
        ref = model.backbone(x)
        hook = layer.register_forward_pre_hook(
            lambda m, inp: inp[0] * (1 + r * torch.randn(inp[0].shape, generator=gen)))
        try:
            out = model.backbone(x)
        finally:
            hook.remove()
    return {k: round(float((out[k] - ref[k]).norm() / ref[k].norm()), 4) for k in ref}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="fasterrcnn_resnet50_fpn",
                    choices=["fasterrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--residual-gain", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not 0 < args.residual_gain <= 1:
        sys.exit("--residual-gain must be in (0, 1]")
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    spec = FIXTURES.ARCHS[args.arch]
    model = FIXTURES.C.build_model(args.arch, spec["num_classes"])
    calib = [FIXTURES.synth_image(h, w, s) for h, w, s in FIXTURES.CALIBRATION]
    FIXTURES.recalibrate_batchnorm(model, calib)
    model.eval()
    probe = FIXTURES.synth_image(480, 640, args.seed + 2)
    print("1% noise in layer1.0.conv1's input moves the FPN levels by (relative L2):")
    print("  residual gain 1:", perturbation_error(model, probe), flush=True)
    blocks = scale_residual_branches(model, args.residual_gain)
    print(f"  residual gain {args.residual_gain} ({blocks} bottlenecks):", perturbation_error(model, probe),
          flush=True)
    FIXTURES.scale_predictors(model, calib[0], generator,
                              spec.get("class_logit_std", FIXTURES.TARGET_STD["class_logits"]),
                              spec.get("rpn_delta_wh", FIXTURES.TARGET_STD["rpn_delta_wh"]))

    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, "checkpoint.pth")
    torch.save({"model": model.state_dict(), "note": "r50_weights.py"}, ckpt)
    try:
        summary = FIXTURES.convert_cli(args.arch, ckpt, args.out, spec["flags"], None)
    finally:
        os.remove(ckpt)
    print(summary)
    print(f"wrote {os.path.join(args.out, args.arch + '.json')}")


if __name__ == "__main__":
    main()
