#!/usr/bin/env python3
"""Post-training int8 quantization of an ONNX model with OpenVINO's NNCF, for compare_peers.py --int8.

    .venv/bin/python Benchmarks/int8/nncf_quantize.py --onnx M.onnx --out M_int8.xml IMAGE...

Reads the ONNX model with OpenVINO, calibrates on the images (RGB, [3, H, W] float in 0..1, the
input the exported torchvision model takes) with nncf.quantize at its defaults (the PERFORMANCE
preset: symmetric int8 weights per channel, int8 activations per tensor) and saves the quantized
OpenVINO IR. The ONNX model is first saved as float32 IR and read back (see below). Runs in its own process because NNCF imports torch when it finds it and current NNCF
needs a newer torch than Debian's 1.13; torch is hidden from this process, which needs only
OpenVINO, NNCF and numpy.
"""
import argparse
import os
import sys

sys.modules["torch"] = None  # NNCF's OpenVINO backend does not need torch; Debian's is too old for it


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    import nncf
    import numpy as np
    import openvino as ov
    from PIL import Image

    def load(path):
        return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255)

    core = ov.Core()
    core.set_property("CPU", {"INFERENCE_NUM_THREADS": args.threads})
    # A round trip through OpenVINO IR drops the nodes that feed no output (the ONNX export leaves
    # some beside its Loop bodies); NNCF's graph builder fails on their dangling edges otherwise.
    ir = os.path.splitext(args.out)[0] + "_f32.xml"
    ov.save_model(core.read_model(args.onnx), ir, compress_to_fp16=False)
    model = core.read_model(ir)
    data = nncf.Dataset(args.images, lambda p: {model.inputs[0].get_any_name(): load(p)})
    quantized = nncf.quantize(model, data, subset_size=len(args.images))
    ov.save_model(quantized, args.out)
    print(f"{args.out}: quantized on {len(args.images)} images with NNCF {nncf.__version__}, "
          f"OpenVINO {ov.__version__}")


if __name__ == "__main__":
    main()
