"""The int8 columns of Benchmarks/compare_peers.py: our int8 variant, ONNX Runtime static int8 and
OpenVINO int8 (NNCF), calibrated on the same images, timed on the same input, and scored for
accuracy on the same COCO split.

Each runtime quantizes the same way a user of it would, with its documented defaults:
- ours: `rcnn calibrate --config M.json --images DIR --count N --out M_int8` (percentile ranges,
  layers that time no faster in int8 stay float32), with `--weight-bits 7` on CPUs without VNNI, as
  the README advises for AVX2 (the counterpart of ONNX Runtime's reduce_range below);
- ONNX Runtime: `quantize_static` in QDQ format on the exported model, Conv/MatMul/Gemm quantized,
  u8 activations with per-tensor MinMax ranges, s8 weights per channel, and `reduce_range` (7-bit
  weights) on CPUs without VNNI, as its documentation asks for AVX2 to avoid saturation;
- OpenVINO: `nncf.quantize` at its defaults on the model read from the same ONNX file
  (Benchmarks/int8/nncf_quantize.py, in its own process).
The ONNX export here (opset 13, which per-channel QDQ needs) has dynamic height and width, since calibration and evaluation images differ
in size from the timing image; each peer's float32 time is measured again on this export, so its
int8/f32 ratio compares like with like.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import same_work

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cpu_has_vnni():
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return " avx512_vnni" in flags or " avx_vnni" in flags


def cpu_name():
    name, family, model = "unknown CPU", "?", "?"
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name":
                name = value
            elif key == "cpu family":
                family = value
            elif key == "model":
                model = value
            elif key == "processor" and value != "0":
                break
    except OSError:
        pass
    return f"{name} (family {family}, model {model}){', VNNI' if cpu_has_vnni() else ', no VNNI'}"


def load_image(path):
    """An image as the exported torchvision model takes it: RGB, [3, H, W] float32 in 0..1."""
    import numpy as np
    from PIL import Image
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255)


def calibration_images(directory, count):
    """The first `count` JPEG/PNG files in name order: the ones `rcnn calibrate --count` reads."""
    names = sorted(n for n in os.listdir(directory) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    if not names:
        raise SystemExit(f"{directory}: no JPEG or PNG images to calibrate on")
    return [os.path.join(directory, n) for n in names[:count]]


def default_calibration_dir():
    """The shapes generator's calibration split (64 images, seed 31), made once under .cache/bench."""
    out = os.path.join(ROOT, ".cache/bench/calib")
    images = os.path.join(out, "calib/images")
    if not os.path.isdir(images):
        subprocess.run([sys.executable, os.path.join(ROOT, "Tools/make_shapes_dataset.py"), "--out", out,
                        "--split", "calib", "--count", "64", "--seed", "31"], check=True, stdout=subprocess.DEVNULL)
    return images


def export_dynamic(model, x, path):
    """Exports the torchvision model (transform and postprocessing included) with dynamic image size."""
    import torch
    with torch.no_grad():
        keys = list(model([x])[0].keys())
    axes = {"image": {1: "height", 2: "width"}}
    for k in keys:
        axes[k] = {0: "detections", 2: "mask_height", 3: "mask_width"} if k == "masks" else {0: "detections"}
    torch.onnx.export(model, ([x],), path, opset_version=13, input_names=["image"], output_names=keys,
                      dynamic_axes=axes, do_constant_folding=True)
    return keys


def ort_quantize(onnx_path, out_path, images):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.paths = iter(images)

        def get_next(self):
            p = next(self.paths, None)
            return None if p is None else {"image": load_image(p)}

    quantize_static(onnx_path, out_path, Reader(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["Conv", "MatMul", "Gemm"], per_channel=True,
                    reduce_range=not cpu_has_vnni(), activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)


def nncf_quantize(onnx_path, out_xml, images, threads):
    res = subprocess.run([sys.executable, os.path.join(HERE, "nncf_quantize.py"), "--onnx", onnx_path, "--out",
                          out_xml, "--threads", str(threads)] + images, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError((res.stderr.strip().splitlines() or ["nncf_quantize.py failed"])[-1])


def ort_runner(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return lambda a: dict(zip(names, sess.run(None, {"image": a})))


def ov_runner(path, threads):
    import openvino as ov
    core = ov.Core()
    compiled = core.compile_model(core.read_model(path), "CPU", {
        "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    names = [o.get_any_name() for o in compiled.outputs]

    def run(a):
        out = request.infer({0: a})
        return {n: out[o] for n, o in zip(names, compiled.outputs)}
    return run


def ours_variant(rcnn, cfg, images_dir, count, workdir, threads, extra=()):
    """Calibrates our int8 variant of cfg on the first `count` images; returns the variant's path."""
    with open(cfg) as f:
        conf = json.load(f)
    conf["weights"] = os.path.abspath(os.path.join(os.path.dirname(cfg), conf["weights"]))
    os.makedirs(workdir, exist_ok=True)
    source = os.path.join(workdir, os.path.basename(cfg))
    with open(source, "w") as f:
        json.dump(conf, f, indent=1)
    name = f"{conf['name']}_int8"
    bits = [] if cpu_has_vnni() else ["--weight-bits", "7"]
    res = subprocess.run([rcnn, "calibrate", "--config", source, "--images", images_dir, "--count", str(count),
                          "--out", name, "--threads", str(threads), "--force"] + bits + list(extra),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip()[-300:])
    for line in res.stdout.strip().splitlines():
        if line.startswith((f"{name}:", "whole model", "wrote", "ResNet blocks")):
            log("  " + line)
    return os.path.join(workdir, f"{name}.json")


def quantize_peers(model, x, workdir, images, threads):
    """Exports once and quantizes with each peer. Returns {runtime: {"f32": path, "int8": path}},
    with "int8" None and "error" set where the peer's quantization failed."""
    onnx_path = os.path.join(workdir, "model.onnx")
    export_dynamic(model, x, onnx_path)
    peers = {}
    for peer, title, out, quantize in (
            ("onnxruntime", "onnxruntime static int8", "model_ort_int8.onnx", lambda i, o: ort_quantize(i, o, images)),
            ("openvino", "openvino NNCF int8", "model_ov_int8.xml", lambda i, o: nncf_quantize(i, o, images, threads))):
        t0 = time.perf_counter()
        int8_path = os.path.join(workdir, out)
        try:
            quantize(onnx_path, int8_path)
            peers[peer] = {"f32": onnx_path, "int8": int8_path}
            log(f"  {title} quantized in {time.perf_counter() - t0:.0f} s")
        except Exception as e:  # noqa: BLE001  (reported in the table)
            peers[peer] = {"f32": onnx_path, "int8": None, "error": f"{type(e).__name__}: {e}"[:200]}
            log(f"  {title} quantization failed: {peers[peer]['error']}")
    return peers


RUNNERS = {"onnxruntime": ort_runner, "openvino": ov_runner}


def once(fn):
    """Milliseconds of one call."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def int8_columns(name, model, x, cfg, rcnn, bench_ours, args, calib_dir):
    """Times our float32 and int8 variant and each peer's float32 and int8 on one input, in
    interleaved rounds (bench_ours: compare_peers.py's timer of our engine)."""
    images = calibration_images(calib_dir, args.calib_count)
    row = {"model": name, "calibration_images": len(images)}
    workdir = os.path.join(ROOT, ".cache/bench/int8", name)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    variant = ours_variant(rcnn, cfg, calib_dir, len(images), workdir, args.threads,
                           (["--int8-joins"] if getattr(args, "int8_joins", False) else [])
                           + (["--all-int8"] if getattr(args, "all_int8", False) else []))
    row["variant"] = variant
    with open(variant) as f:
        q = json.load(f)["quantization"]
    row["ours_int8_layers"], row["ours_float_layers"] = len(q["layers"]), len(q.get("float_layers", []))
    _, out_f32 = bench_ours(cfg, args.image, args.threads, 1)
    _, out_int8 = bench_ours(variant, args.image, args.threads, 1)
    row["ours_f32_regions"], row["ours_int8_regions"] = out_f32.get("proposals"), out_int8.get("proposals")
    row["ours_reproduced"] = same_work.ours_agreement(rcnn, cfg, variant, args.image, args.threads)
    peers = quantize_peers(model, x, workdir, images, args.threads)
    a = x.numpy()
    # One timer per runtime and precision, run in interleaved rounds (one run of each per round) so
    # that a slower minute of a shared machine falls on every runtime alike. Ours runs as `rcnn
    # bench --runs 1 --warmup 1` in its own process each round; the peers stay loaded and warm.
    timers = {"ours_f32": lambda: bench_ours(cfg, args.image, args.threads, 1)[0],
              "ours_int8": lambda: bench_ours(variant, args.image, args.threads, 1)[0]}
    for peer, files in peers.items():
        if "error" in files:
            row[f"{peer}_int8_error"] = files["error"]
        for precision in ("f32", "int8"):
            if files[precision] is None:
                continue
            try:
                run = RUNNERS[peer](files[precision], args.threads)
                run(a)  # warm-up
            except Exception as e:  # noqa: BLE001
                row[f"{peer}_{precision}_error"] = f"{type(e).__name__}: {e}"[:200]
                continue
            timers[f"{peer}_{precision}"] = lambda r=run: once(lambda: r(a))
            try:
                row[f"{peer}_{precision}_regions"] = same_work.peer_regions(peer, files[precision], a, args.threads)
            except Exception as e:  # noqa: BLE001  (the same-work table shows "-")
                row[f"{peer}_{precision}_regions_error"] = f"{type(e).__name__}: {e}"[:200]
        if files["int8"] is not None and f"{peer}_int8" in timers and f"{peer}_f32" in timers:
            try:
                row[f"{peer}_reproduced"] = same_work.peer_agreement(
                    RUNNERS[peer](files["f32"], args.threads), RUNNERS[peer](files["int8"], args.threads), a,
                    coco_results, agreement)
            except Exception as e:  # noqa: BLE001
                row[f"{peer}_reproduced_error"] = f"{type(e).__name__}: {e}"[:200]
    rounds = {k: [] for k in timers}
    order = list(timers)
    for r in range(args.runs):
        # Each round starts one runtime later, so no runtime always runs first or last.
        for k in order[r % len(order):] + order[:r % len(order)]:
            rounds[k].append(timers[k]())
        log(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in rounds.items()))
    for k, v in rounds.items():
        row[k] = statistics.median(v)
    row["rounds"] = rounds
    row["peer_files"] = peers
    return row


def print_int8_table(rows, args):
    print(f"\nint8, {cpu_name()}: one {args.image_desc} image, {args.threads} threads, median of {args.runs} "
          f"interleaved rounds (one run of every runtime per round, after a warm-up; ratios: median of the "
          f"per-round ratios); each runtime calibrated on the same {args.calib_count} images")
    print("| model | ours f32 | ours int8 (int8/f32) | ONNX Runtime f32 | ONNX Runtime int8 (int8/f32) "
          "| OpenVINO f32 | OpenVINO int8 (int8/f32) | ours int8 / ORT int8 | ours int8 / OpenVINO int8 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def ms(r, k):
        return f"{r[k]:.0f} ms" if k in r else "failed"

    def ratio(r, a, b):
        # The median of the per-round ratios where both were timed in the same rounds.
        rounds = r.get("rounds", {})
        if a in rounds and b in rounds:
            return f"{statistics.median(x / y for x, y in zip(rounds[a], rounds[b])):.2f}x"
        return f"{r[a] / r[b]:.2f}x" if a in r and b in r else "-"
    for r in rows:
        cells = [ms(r, "ours_f32"), f"{ms(r, 'ours_int8')} ({ratio(r, 'ours_int8', 'ours_f32')})"]
        for p in ("onnxruntime", "openvino"):
            cells += [ms(r, f"{p}_f32"), f"{ms(r, f'{p}_int8')} ({ratio(r, f'{p}_int8', f'{p}_f32')})"]
        cells += [ratio(r, "ours_int8", "onnxruntime_int8"), ratio(r, "ours_int8", "openvino_int8")]
        print(f"| {r['model']} | " + " | ".join(cells) + " |")
    print("\nSame work on the timed image: regions each box head classified (float32 / int8), and the share of "
          "the runtime's own float32 detections its int8 model reproduced there (class, IoU >= 0.9); "
          "Benchmarks/int8/same_work.py")
    print("| model | ours regions | ours reproduced | ONNX Runtime regions | ONNX Runtime reproduced "
          "| OpenVINO regions | OpenVINO reproduced |")
    print("| --- | --- | --- | --- | --- | --- | --- |")

    def regions(r, p):
        return " / ".join(str(r.get(f"{p}_{k}_regions", "-")) for k in ("f32", "int8"))

    def reproduced(r, p):
        n, total = r.get(f"{p}_reproduced", (0, 0))
        return f"{n}/{total} ({100 * n / total:.0f}%)" if total else "-"
    for r in rows:
        cells = [f"{regions(r, p)} | {reproduced(r, p)}" for p in ("ours", "onnxruntime", "openvino")]
        print(f"| {r['model']} | " + " | ".join(cells) + " |")
    for r in rows:
        for k, v in r.items():
            if k.endswith("_error"):
                print(f"  {r['model']} {k[:-6]}: {v}")


# --- accuracy on a COCO split (the default model) ---

def coco_results(outputs, image_id, mask_threshold=0.5):
    """COCO results records from one image's exported-model outputs (labels are category ids)."""
    import numpy as np
    from pycocotools import mask as mask_utils
    records = []
    for i in range(len(outputs["boxes"])):
        x0, y0, x1, y1 = (float(v) for v in outputs["boxes"][i])
        rec = {"image_id": image_id, "category_id": int(outputs["labels"][i]), "score": float(outputs["scores"][i]),
               "bbox": [x0, y0, x1 - x0, y1 - y0]}
        if "masks" in outputs:
            rle = mask_utils.encode(np.asfortranarray((outputs["masks"][i, 0] > mask_threshold).astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            rec["segmentation"] = rle
        if "keypoints" in outputs:
            kp = outputs["keypoints"][i]
            rec["keypoints"] = [float(v) for p in kp for v in (p[0], p[1], 1.0)]
        records.append(rec)
    return records


def score_results(annotations, results_path, cfg):
    sigmas = json.load(open(cfg)).get("keypoint_sigmas")
    cmd = [sys.executable, os.path.join(ROOT, "Tools/coco_eval_reference.py"), "--annotations", annotations,
           "--results", results_path, "--segm"]
    if sigmas:
        cmd += ["--keypoints", "--keypoint-sigmas", ",".join(map(repr, sigmas))]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return {t: stats[0] for t, stats in json.loads(res.stdout).items()}


def box_iou_xywh(a, b):
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def agreement(ref, other, min_iou=0.9, min_score=0.0):
    """(reproduced, total): ref's detections (score >= min_score) that other reproduces, the way
    `rcnn compare` counts them: per image, best score first, the unused detection of the same category
    with the highest box IoU, which must reach min_iou."""
    by_image = {}
    for r in other:
        by_image.setdefault(r["image_id"], []).append(r)
    used, reproduced, total = set(), 0, 0
    for r in sorted(ref, key=lambda r: -r["score"]):
        if r["score"] < min_score:
            continue
        total += 1
        best, best_id = -1.0, None
        for o in by_image.get(r["image_id"], []):
            if id(o) in used or o["category_id"] != r["category_id"]:
                continue
            iou = box_iou_xywh(r["bbox"], o["bbox"])
            if iou > best:
                best, best_id = iou, id(o)
        if best >= min_iou:
            used.add(best_id)
            reproduced += 1
    return reproduced, total


def accuracy(row, cfg, rcnn, val_dir, threads):
    """bbox/segm/keypoint AP of each runtime's float32 and int8 model on the split in val_dir
    (a make_shapes_dataset.py split: instances.json and images/), all scored by pycocotools, and the
    share of each runtime's float32 detections that its int8 model reproduces (class, IoU >= 0.9).
    The detections are kept as results_RUNTIME_PRECISION.json beside the variant."""
    annotations = os.path.join(val_dir, "instances.json")
    images_dir = os.path.join(val_dir, "images")
    workdir = os.path.dirname(row["variant"])
    with open(annotations) as f:
        images = json.load(f)["images"]
    out, records = {}, {}
    for label, config in (("ours_f32", cfg), ("ours_int8", row["variant"])):
        results = os.path.join(workdir, f"results_{label}.json")
        subprocess.run([rcnn, "eval", "--config", config, "--annotations", annotations, "--images", images_dir,
                        "--output", results, "--threads", str(threads)], check=True, stdout=subprocess.DEVNULL)
        out[label] = score_results(annotations, results, cfg)
        records[label] = json.load(open(results))
        log(f"  {label}: {out[label]}")
    for peer, files in row["peer_files"].items():
        for precision in ("f32", "int8"):
            label, path = f"{peer}_{precision}", files[precision]
            if path is None:
                continue
            run = RUNNERS[peer](path, threads)
            recs = []
            for im in images:
                recs += coco_results(run(load_image(os.path.join(images_dir, im["file_name"]))), im["id"])
            results = os.path.join(workdir, f"results_{label}.json")
            with open(results, "w") as f:
                json.dump(recs, f)
            out[label] = score_results(annotations, results, cfg)
            records[label] = recs
            log(f"  {label}: {out[label]}")
    for rt in ("ours", "onnxruntime", "openvino"):
        if f"{rt}_f32" in records and f"{rt}_int8" in records:
            for min_score in (0.05, 0.5):
                n, total = agreement(records[f"{rt}_f32"], records[f"{rt}_int8"], min_score=min_score)
                out.setdefault(f"{rt}_agreement", {})[str(min_score)] = [n, total]
    return out


def print_accuracy_table(name, acc, val_dir):
    print(f"\n{name} accuracy on {val_dir} (pycocotools AP; int8 - f32 in brackets; reproduced: the share "
          f"of the runtime's own float32 detections that its int8 model reproduces, class and IoU >= 0.9)")
    kinds = [k for k in ("bbox", "segm", "keypoints") if any(k in v for v in acc.values())]
    print("| runtime | " + " | ".join(f"{k} AP f32 | {k} AP int8" for k in kinds)
          + " | reproduced, score >= 0.05 | reproduced, score >= 0.5 |")
    print("| --- |" + " --- | --- |" * len(kinds) + " --- | --- |")
    for rt, title in (("ours", "ours"), ("onnxruntime", "ONNX Runtime"), ("openvino", "OpenVINO")):
        f32, i8 = acc.get(f"{rt}_f32", {}), acc.get(f"{rt}_int8", {})
        cells = []
        for k in kinds:
            cells.append(f"{f32[k]:.4f}" if k in f32 else "failed")
            cells.append(f"{i8[k]:.4f} ({i8[k] - f32[k]:+.4f})" if k in i8 and k in f32 else "failed")
        for t in ("0.05", "0.5"):
            n, total = acc.get(f"{rt}_agreement", {}).get(t, (0, 0))
            cells.append(f"{n}/{total} ({100 * n / total:.1f}%)" if total else "-")
        print(f"| {title} | " + " | ".join(cells) + " |")
