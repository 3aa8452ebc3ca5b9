#!/usr/bin/env python3
"""Converts a checkpoint of the embedded default model (Tools/shapes_model.py) into the files the
engine loads: Config/models/NAME.json and Weights/NAME.safetensors.

    .venv/bin/python Tools/export_shapes_model.py --checkpoint .cache/train_run/checkpoint.pth

The config is read from the live torchvision model by Tools/convert_torchvision.py, so it holds
exactly the values torchvision runs with; its "weights" entry points from Config/models to Weights/.
A checkpoint with keypoint-branch weights (Tools/train_shapes_model.py --keypoints) is exported with
the keypoint branch, its names, its 0-based skeleton and its OKS sigmas
(shapes_model.KEYPOINT_NAMES/_SKELETON/_OKS_SIGMAS).
--config-dir and --weights-dir may name a scratch directory (both the same) to try an export without
touching the shipped files.
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import convert_torchvision as C  # noqa: E402
import shapes_model  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--name", default="shapes_mask_rcnn")
    p.add_argument("--config-dir", default=os.path.join(ROOT, "Config", "models"))
    p.add_argument("--weights-dir", default=os.path.join(ROOT, "Weights"))
    args = p.parse_args()

    state = C.load_checkpoint(args.checkpoint)
    keypoints = C.infer_num_keypoints(state) is not None
    model = shapes_model.build_model(keypoints=keypoints)
    C.load_state_dict_strict(model, state, source=args.checkpoint)
    model.eval()
    classes = ["__background__"] + list(shapes_model.CLASSES)
    kp_args = (list(shapes_model.KEYPOINT_NAMES), [list(p) for p in shapes_model.KEYPOINT_SKELETON],
               list(shapes_model.KEYPOINT_OKS_SIGMAS)) if keypoints else (None, None, None)
    json_path, st_path = C.convert_model(model, args.name, args.weights_dir, "maskrcnn_mobilenet_v3_large_fpn_shapes",
                                         classes, *kp_args)
    with open(json_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["weights"] = os.path.relpath(st_path, args.config_dir)
    os.makedirs(args.config_dir, exist_ok=True)
    out = os.path.join(args.config_dir, f"{args.name}.json")
    with open(out, "w", encoding="utf-8") as f:
        f.write(C.dumps_config(cfg) + "\n")
    if os.path.abspath(json_path) != os.path.abspath(out):
        os.remove(json_path)
    print(f"wrote {out} and {st_path} ({os.path.getsize(st_path) / 2**20:.1f} MiB, sha256 {cfg['weights_sha256']})")


if __name__ == "__main__":
    main()
