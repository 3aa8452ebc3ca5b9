#!/usr/bin/env python3
"""Side-by-side latency of the rcnn engine and its CPU peers, in one run, on the same weights and input.

    .venv/bin/python Benchmarks/compare_peers.py [--models a,b] [--threads 2] [--runs 7] [--install]
    .venv/bin/python Benchmarks/compare_peers.py --int8 [--calib DIR] [--calib-count 16] [--accuracy VAL_DIR] ...

Peers: torch eager (NCHW), torch with the backbone in channels_last, ONNX Runtime and OpenVINO
(f32 inference precision: its default bf16 on AVX-512 CPUs changes the boxes), each at --threads
intra-op threads, median of --runs after one warm-up. `--install` pip-installs onnxruntime, openvino
and onnx (pinned beside Debian's torch 1.13: numpy<2, onnx<1.17) into the running environment first.

Models: the parity fixtures' converted weights (Tests/Parity/make_fixtures.py: random weights made
realistic) for fasterrcnn_resnet50_fpn, maskrcnn_resnet50_fpn and fasterrcnn_mobilenet_v3_large_fpn,
plus the embedded default model; `--model-dir DIR` takes the architectures' weights from converted
models DIR/ARCH.json instead (trained ones, whose int8 RPNs keep as many proposals as float32: on the
fixtures' random weights OpenVINO's int8 RPN keeps a quarter of them, so its box head does less
work). The input is one deterministic 640x480 image (written to
.cache/bench/input_640x480.png), which each model resizes as its config's transform says (the COCO
fixtures to 800x1066, the default model to 448x336, train_r50_heads.py's models to their --size).
Every runtime gets the same image; each model's torchvision module, exported to ONNX
(opset 11, with its transform and postprocessing), is what ONNX Runtime and OpenVINO run.

What it measures: wall-clock time of one image through the whole model (preprocessing, backbone,
RPN, heads, postprocessing, masks pasted to image size where the model has them), in-process, no
HTTP. What it does not: model load or compile time, batching, concurrency, or accuracy (the
parity tests cover ours; a peer that fails to convert or run is reported as failed).

--int8 prints the int8 table instead (Benchmarks/int8/peers_int8.py): our int8 variant (`rcnn
calibrate`), ONNX Runtime static int8 (QDQ) and OpenVINO int8 (NNCF), each calibrated on the first
--calib-count images of --calib (default: the shapes generator's calibration split, seed 31, made
under .cache/bench), each beside its own float32 time on the same export; all six are timed in
--runs interleaved rounds (one run of each per round), and the ratios are medians of per-round
ratios. A same-work table follows (Benchmarks/int8/same_work.py). With --accuracy VAL_DIR
(a make_shapes_dataset.py split) the default model's float32 and int8 of every runtime are run over
the split and scored by pycocotools (bbox, segm, keypoint AP). `--install` adds nncf.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tools"))
sys.path.insert(0, os.path.join(ROOT, "Tests", "Parity"))

MODELS = ("fasterrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn", "fasterrcnn_mobilenet_v3_large_fpn", "shapes_mask_rcnn")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def input_image(path):
    import numpy as np
    from PIL import Image
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        rng = np.random.default_rng(5)
        yy, xx = np.mgrid[0:480, 0:640]
        img = np.stack([xx * 255 // 639, yy * 255 // 479, (xx + yy) % 256], -1).astype(np.float64)
        for _ in range(12):  # some objects: filled rectangles and discs with noise
            x0, y0 = rng.integers(0, 560), rng.integers(0, 400)
            w, h = rng.integers(30, 200), rng.integers(30, 200)
            color = rng.integers(0, 256, 3)
            if rng.random() < 0.5:
                img[y0:y0 + h, x0:x0 + w] = color
            else:
                mask = (yy - y0 - h / 2) ** 2 / (h / 2) ** 2 + (xx - x0 - w / 2) ** 2 / (w / 2) ** 2 <= 1
                img[mask] = color
        img += rng.normal(0, 6, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def load_torch_model(name, model_dir=None):
    """(torchvision model in eval mode, rcnn config path) for a model name: the parity fixture's
    converted weights, or with model_dir the converted model NAME.json there."""
    import torch
    from safetensors.torch import load_file
    if name == "shapes_mask_rcnn":
        import shapes_model
        cfg = os.path.join(ROOT, "Config/models/shapes_mask_rcnn.json")
        state = load_file(os.path.join(ROOT, "Weights/shapes_mask_rcnn.safetensors"))
        m = shapes_model.build_model(keypoints=any(shapes_model.is_keypoint_parameter(k) for k in state))
        m.load_state_dict(state)
        return m.eval(), cfg
    import make_fixtures
    if model_dir:
        cfg = os.path.abspath(os.path.join(model_dir, f"{name}.json"))
        if not os.path.exists(cfg):
            raise SystemExit(f"{cfg} is missing: --model-dir holds converted models named after their architecture")
    else:
        cfg = os.path.join(ROOT, ".cache/fixtures", name, f"{name}.json")
        if not os.path.exists(cfg):
            raise SystemExit(f"{cfg} is missing: run Tests/Parity/make_fixtures.py --out .cache/fixtures first")
    model, _ = make_fixtures.rebuild_from_files(name, cfg)
    return model.eval(), cfg


def time_calls(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_ours(cfg, image, threads, runs):
    cmd = [os.path.join(ROOT, ".build/release/rcnn"), "bench", "--config", cfg, "--image", image, "--threads",
           str(threads), "--runs", str(runs), "--warmup", "1", "--format", "json"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip())
    out = json.loads(res.stdout)
    return next(s["median_ms"] for s in out["stages"] if s["stage"] == "total"), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--install", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--int8", action="store_true", help="the int8 table: ours, ONNX Runtime and OpenVINO int8")
    ap.add_argument("--calib", help="calibration images for --int8 (default: a generated shapes split)")
    ap.add_argument("--calib-count", type=int, default=16, help="calibration images per runtime (default 16)")
    ap.add_argument("--all-int8", action="store_true",
                    help="calibrate ours with --all-int8 (every int8-capable layer in int8, no timed choice)")
    ap.add_argument("--int8-joins", action="store_true",
                    help="calibrate ours with --int8-joins (ResNet identity shortcuts from the input's levels)")
    ap.add_argument("--model-dir", metavar="DIR",
                    help="load the torchvision architectures from the converted models DIR/ARCH.json (trained "
                         "weights, e.g. Benchmarks/int8/train_r50_heads.py's) instead of the parity fixtures")
    ap.add_argument("--accuracy", metavar="VAL_DIR",
                    help="with --int8: score the default model's f32 and int8 on this split (instances.json, images/)")
    args = ap.parse_args()
    if args.model_dir:
        # Every model's config must be there before anything runs: a missing one would end the run
        # after the earlier models were timed, losing their rows.
        missing = [n for n in args.models.split(",") if n and n != "shapes_mask_rcnn"
                   and not os.path.exists(os.path.join(args.model_dir, f"{n}.json"))]
        if missing:
            raise SystemExit(f"--model-dir {args.model_dir} has no {', '.join(m + '.json' for m in missing)}: "
                             "pass --models with the architectures it holds")
    if args.install:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "numpy<2", "onnx<1.17", "onnxruntime", "openvino", "nncf"], check=True)
    import numpy as np
    import torch
    from PIL import Image
    torch.set_num_threads(args.threads)
    image = input_image(os.path.join(ROOT, ".cache/bench/input_640x480.png"))
    x = torch.from_numpy(np.asarray(Image.open(image).convert("RGB")).copy()).permute(2, 0, 1).float() / 255

    if args.int8:
        return main_int8(args, x, image)
    rows = []
    for name in [m for m in args.models.split(",") if m]:
        log(f"{name}:")
        model, cfg = load_torch_model(name, args.model_dir)
        row = {"model": name}
        row["ours"], detail = bench_ours(cfg, image, args.threads, args.runs)
        row["ours_stages"] = {s["stage"]: s["median_ms"] for s in detail["stages"]}
        log(f"  ours {row['ours']:.0f} ms")
        with torch.no_grad():
            row["torch"] = time_calls(lambda: model([x]), args.runs)
            log(f"  torch eager {row['torch']:.0f} ms")
            model.backbone.to(memory_format=torch.channels_last)
            body_forward = model.backbone.forward
            model.backbone.forward = lambda t: body_forward(t.contiguous(memory_format=torch.channels_last))
            row["torch_channels_last"] = time_calls(lambda: model([x]), args.runs)
            model.backbone.forward = body_forward
            model.backbone.to(memory_format=torch.contiguous_format)
            log(f"  torch channels_last {row['torch_channels_last']:.0f} ms")
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = os.path.join(tmp, f"{name}.onnx")
            try:
                torch.onnx.export(model, ([x],), onnx_path, opset_version=11, input_names=["image"],
                                  do_constant_folding=True)
            except Exception as e:  # noqa: BLE001  (reported in the table)
                row["onnx_error"] = f"export failed: {type(e).__name__}: {e}"[:200]
            if os.path.exists(onnx_path):
                try:
                    import onnxruntime as ort
                    so = ort.SessionOptions()
                    so.intra_op_num_threads = args.threads
                    so.inter_op_num_threads = 1
                    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
                    feed = {sess.get_inputs()[0].name: x.numpy()}
                    row["onnxruntime"] = time_calls(lambda: sess.run(None, feed), args.runs)
                    log(f"  onnxruntime {row['onnxruntime']:.0f} ms")
                except Exception as e:  # noqa: BLE001
                    row["onnxruntime_error"] = f"{type(e).__name__}: {e}"[:200]
                    log(f"  onnxruntime failed: {row['onnxruntime_error']}")
                try:
                    import openvino as ov
                    core = ov.Core()
                    compiled = core.compile_model(core.read_model(onnx_path), "CPU", {
                        "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": args.threads})
                    request = compiled.create_infer_request()
                    row["openvino"] = time_calls(lambda: request.infer({0: x.numpy()}), args.runs)
                    log(f"  openvino f32 {row['openvino']:.0f} ms")
                except Exception as e:  # noqa: BLE001
                    row["openvino_error"] = f"{type(e).__name__}: {e}"[:200]
                    log(f"  openvino failed: {row['openvino_error']}")
        rows.append(row)

    peers = ("torch", "torch_channels_last", "onnxruntime", "openvino")
    print(f"one 640x480 image, {args.threads} threads, median of {args.runs} after one warm-up; "
          f"ratio = ours / peer (below 1: ours is faster)")
    print("| model | ours ms | torch eager | torch channels_last | ONNX Runtime | OpenVINO f32 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        cells = []
        for p in peers:
            if p in r:
                cells.append(f"{r[p]:.0f} ms ({r['ours'] / r[p]:.2f}x)")
            else:
                cells.append("failed")
        print(f"| {r['model']} | {r['ours']:.0f} | " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def main_int8(args, x, image):
    sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "int8"))
    import peers_int8
    args.image, args.image_desc = image, "640x480"
    calib = args.calib or peers_int8.default_calibration_dir()
    rows, accuracy = [], {}
    for name in [m for m in args.models.split(",") if m]:
        log(f"{name}:")
        model, cfg = load_torch_model(name, args.model_dir)
        row = peers_int8.int8_columns(name, model, x, cfg, os.path.join(ROOT, ".build/release/rcnn"), bench_ours,
                                      args, calib)
        rows.append(row)
        if args.accuracy and name == "shapes_mask_rcnn":
            accuracy = peers_int8.accuracy(row, cfg, os.path.join(ROOT, ".build/release/rcnn"), args.accuracy,
                                           args.threads)
            row["accuracy"] = accuracy
    peers_int8.print_int8_table(rows, args)
    if accuracy:
        peers_int8.print_accuracy_table("shapes_mask_rcnn", accuracy, args.accuracy)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
