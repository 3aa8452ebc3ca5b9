#!/usr/bin/env python3
"""Checkpoints for the `rcnn import` tests, written with torch.save exactly as published weights are,
and the Python converter's output for each (the reference the Swift importer must match byte for byte).

    .venv/bin/python Tests/Import/make_import_fixtures.py --out .cache/fixtures

Writes OUT/import/ with manifest.json listing every case:
  * every architecture of Tools/convert_torchvision.py, random weights (batch-norm statistics
    randomised too), in the zip format (torch >= 1.6) and the legacy format
    (_use_new_zipfile_serialization=False);
  * on smaller models: float16, bfloat16 and float64 storages; views (tensors sharing one storage
    at offsets, transposed and channels-last strides); torchvision's pre-0.13 key names with the
    module versions of _metadata set to 1; a training checkpoint as torchvision's reference
    scripts save it ({"model", "optimizer", "lr_scheduler", "args": argparse.Namespace, "epoch"})
    with DataParallel's "module." prefixes; a safetensors file from the official writer; a
    91-class model (COCO names); class names from a file and threshold flags.
Each case names its checkpoint, the converter arguments (paths relative to OUT/import) and the
reference output directory (relative too). The
references come from Tools/convert_torchvision.py run on an equivalent checkpoint it can read.
Cached by a fingerprint of this script, the converter and the torch version.
"""
import argparse
import argparse as _argparse
import collections
import hashlib
import json
import os
import shutil
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Tools"))
import convert_torchvision as ct  # noqa: E402

CONVERTER = os.path.join(ROOT, "Tools", "convert_torchvision.py")


def fingerprint():
    digest = hashlib.sha256()
    for path in (os.path.abspath(__file__), CONVERTER, os.path.join(ROOT, "Tools", "vgg16_faster_rcnn.py")):
        with open(path, "rb") as f:
            digest.update(f.read())
    digest.update(torch.__version__.encode())
    return digest.hexdigest()


def random_state_dict(arch, num_classes, seed):
    torch.manual_seed(seed)
    model = ct.build_model(arch, num_classes)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.05)
    return model.state_dict()


def save_both(sd, path_stem):
    torch.save(sd, path_stem + ".pth")
    torch.save(sd, path_stem + "-legacy.pth", _use_new_zipfile_serialization=False)
    return [path_stem + ".pth", path_stem + "-legacy.pth"]


def convert(checkpoint, arch, name, out_dir, extra=()):
    args = ["--arch", arch, "--checkpoint", checkpoint, "--name", name, "--out", out_dir, *extra]
    if ct.main(args) != 0:
        raise SystemExit(f"converter failed on {checkpoint}")


def views(sd):
    """The same values, but stored as views: groups of tensors share one storage at offsets,
    2-D weights are transposes of contiguous tensors, 4-D weights are channels-last."""
    out = collections.OrderedDict()
    items = list(sd.items())
    group = []

    def flush():
        if not group:
            return
        flat = torch.cat([v.reshape(-1) for _, v in group] + [torch.zeros(3)])
        off = 0
        for k, v in group:
            n = v.numel()
            out[k] = flat[off:off + n].view(v.shape)
            off += n
        group.clear()

    for k, v in items:
        if not v.is_floating_point():
            flush()
            out[k] = v
        elif v.dim() == 2:
            flush()
            out[k] = v.t().contiguous().t()
        elif v.dim() == 4 and v.shape[2] > 1:
            flush()
            out[k] = v.contiguous(memory_format=torch.channels_last)
        else:
            group.append((k, v))
            if len(group) == 4:
                flush()
    flush()
    out._metadata = sd._metadata
    for k in sd:
        assert torch.equal(out[k], sd[k]), k
    assert any(not out[k].is_contiguous() for k in out)
    return out


LEGACY = {"rpn.head": "rpn.head.conv.0.0.", "backbone.fpn": None, "roi_heads.mask_head": None}


def legacy_names(sd):
    """torchvision's names before 0.13 (RPN conv, FPN blocks, mask head), module versions 1."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        nk = k.replace("rpn.head.conv.0.0.", "rpn.head.conv.")
        for block in ("inner_blocks", "layer_blocks"):
            for i in range(4):
                nk = nk.replace(f"backbone.fpn.{block}.{i}.0.", f"backbone.fpn.{block}.{i}.")
        for i in range(4):
            nk = nk.replace(f"roi_heads.mask_head.{i}.0.", f"roi_heads.mask_head.mask_fcn{i + 1}.")
        out[nk] = v
    meta = collections.OrderedDict(sd._metadata)
    for module in LEGACY:
        meta[module] = {"version": 1}
    out._metadata = meta
    assert list(out) != list(sd)
    return out


def training_checkpoint(sd):
    model = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    model._metadata = collections.OrderedDict(("module." + k if k else "module", v) for k, v in sd._metadata.items())
    params = [v for v in sd.values() if v.is_floating_point()][:3]
    opt = torch.optim.SGD([torch.nn.Parameter(p.clone()) for p in params], lr=0.02, momentum=0.9, weight_decay=1e-4)
    for p in opt.param_groups[0]["params"]:
        p.grad = torch.ones_like(p)
    opt.step()
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[16, 22], gamma=0.1)
    args = _argparse.Namespace(data_path="/datasets/coco", model="maskrcnn_resnet50_fpn", epochs=26, lr=0.02,
                               aspect_ratio_group_factor=3, amp=False, weights=None, sync_bn=False)
    return {"model": model, "optimizer": opt.state_dict(), "lr_scheduler": sched.state_dict(),
            "args": args, "epoch": 25}


class _Exploit:
    """An object whose unpickling runs a shell command: what a malicious checkpoint carries."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_small_files(out):
    """Small checkpoints for byte-level tests (truncation at every offset, mutations), and hostile
    ones: a pickle that calls os.system in the zip and the legacy format, and a zip whose data.pkl
    is compressed. Returns {name: relative path}."""
    import io
    import pickle
    import zipfile
    files = {}
    sd = collections.OrderedDict()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    sd["a.weight"] = base
    sd["a.t"] = base.t()                       # non-contiguous, shares a's storage
    sd["b.half"] = torch.linspace(-2, 2, 5).to(torch.float16)
    sd["b.bf16"] = torch.linspace(-3, 3, 4).to(torch.bfloat16)
    sd["c.double"] = torch.tensor([1e-40, 3.5, -1e300], dtype=torch.float64)
    sd["c.view"] = base.reshape(-1)[5:11].reshape(2, 3)
    sd["n.num_batches_tracked"] = torch.tensor(7)
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("rpn.head", {"version": 2})])
    for fmt, kw in (("zip", {}), ("legacy", {"_use_new_zipfile_serialization": False})):
        path = os.path.join(out, f"small-{fmt}.pth")
        torch.save(sd, path, **kw)
        files[f"small-{fmt}"] = os.path.relpath(path, out)
    # float32 bit patterns (as integers): torch's conversion of -1e300 is -inf, which JSON lacks.
    expected = {k: v.reshape(-1).to(torch.float32).view(torch.int32).tolist() for k, v in sd.items() if v.is_floating_point()}
    with open(os.path.join(out, "small-expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f)
    files["small-expected"] = "small-expected.json"

    marker = os.path.join(out, "PWNED")
    payload = pickle.dumps(collections.OrderedDict([("w", _Exploit(marker))]), protocol=2)
    assert b"system" in payload
    # Zip: the real layout, data.pkl replaced.
    buf = io.BytesIO()
    torch.save(sd, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    path = os.path.join(out, "hostile-zip.pth")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for info in src.infolist():
            data = payload if info.filename.endswith("/data.pkl") else src.read(info)
            z.writestr(info.filename, data)
    files["hostile-zip"] = os.path.relpath(path, out)
    # Legacy: magic, protocol, sys info, then the exploit as the object pickle.
    path = os.path.join(out, "hostile-legacy.pth")
    with open(path, "wb") as f:
        for obj in (0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        f.write(payload)
    files["hostile-legacy"] = os.path.relpath(path, out)
    # A compressed data.pkl (torch never writes one).
    path = os.path.join(out, "compressed.pth")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info))
    files["compressed"] = os.path.relpath(path, out)
    files["marker"] = os.path.relpath(marker, out)
    return files


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    args = p.parse_args()
    out = os.path.join(args.out, "import")
    manifest_path = os.path.join(out, "manifest.json")
    fp = fingerprint()
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            if json.load(f).get("fingerprint") == fp:
                print(f"{manifest_path}: up to date")
                return 0
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    torch.set_num_threads(2)
    cases = []

    def case(name, checkpoint, arch, reference, extra=(), note=""):
        cases.append({"name": name, "checkpoint": os.path.relpath(checkpoint, out), "arch": arch,
                      "reference": os.path.relpath(reference, out), "args": list(extra), "note": note})

    small = "fasterrcnn_mobilenet_v3_large_320_fpn"
    for seed, arch in enumerate(ct.ARCHS):
        sd = random_state_dict(arch, 5, seed)
        stem = os.path.join(out, arch)
        zip_path, legacy_path = save_both(sd, stem)
        ref = os.path.join(out, "ref", arch)
        convert(zip_path, arch, arch, ref)
        case(f"{arch} zip", zip_path, arch, ref)
        case(f"{arch} legacy", legacy_path, arch, ref)
        if arch in ("maskrcnn_resnet50_fpn", small):
            # Pre-0.13 names: torchvision's hooks rename them; the reference is converted from them.
            old = legacy_names(sd)
            zip_old, legacy_old = save_both(old, stem + "-oldnames")
            ref_old = os.path.join(out, "ref", arch + "-oldnames")
            convert(zip_old, arch, arch, ref_old)
            case(f"{arch} old names zip", zip_old, arch, ref_old)
            case(f"{arch} old names legacy", legacy_old, arch, ref_old)
        if arch == "maskrcnn_resnet50_fpn":
            # A training checkpoint: torch.load(weights_only=True) refuses argparse.Namespace, so the
            # reference is the plain state dict's (same tensors, same names once "module." is gone).
            train = training_checkpoint(sd)
            torch.save(train, stem + "-train.pth")
            torch.save(train, stem + "-train-legacy.pth", _use_new_zipfile_serialization=False)
            case(f"{arch} training checkpoint zip", stem + "-train.pth", arch, ref)
            case(f"{arch} training checkpoint legacy", stem + "-train-legacy.pth", arch, ref)
        if arch == small:
            for dtype, tag in ((torch.float16, "f16"), (torch.bfloat16, "bf16"), (torch.float64, "f64")):
                cast = collections.OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items())
                cast._metadata = sd._metadata
                zp, lp = save_both(cast, f"{stem}-{tag}")
                r = os.path.join(out, "ref", f"{arch}-{tag}")
                convert(zp, arch, arch, r)
                case(f"{arch} {tag} zip", zp, arch, r)
                case(f"{arch} {tag} legacy", lp, arch, r)
            v = views(sd)
            zp, lp = save_both(v, stem + "-views")
            r = os.path.join(out, "ref", arch + "-views")
            convert(zp, arch, arch, r)
            case(f"{arch} views zip", zp, arch, r)
            case(f"{arch} views legacy", lp, arch, r)
            from safetensors.torch import save_file
            st = stem + "-input.safetensors"
            save_file({k: v.contiguous() for k, v in sd.items()}, st)
            case(f"{arch} safetensors input", st, arch, ref)
            # Class names from a file and every threshold flag.
            names = os.path.join(out, "classes.txt")
            with open(names, "w", encoding="utf-8") as f:
                f.write("cat\nchien\u00e9\ncar \"quoted\"\nbicycle\n")
            flags = ["--classes", names, "--box-score-thresh", "0.3", "--box-nms-thresh", "0.45",
                     "--box-detections-per-img", "50", "--rpn-pre-nms-top-n-test", "200",
                     "--rpn-post-nms-top-n-test", "100", "--rpn-nms-thresh", "0.65", "--rpn-score-thresh", "0.001",
                     "--min-size", "288", "--max-size", "512", "--backbone-bn-eps", "0"]
            r = os.path.join(out, "ref", arch + "-flags")
            convert(zip_path, arch, arch, r, flags)
            # In the manifest, paths in arguments are relative to OUT/import like the others.
            flags[1] = os.path.relpath(names, out)
            case(f"{arch} classes file and flags", zip_path, arch, r, flags)
            # 91 classes: COCO's names.
            coco = random_state_dict(arch, 91, 99)
            cp = os.path.join(out, f"{arch}-coco.pth")
            torch.save(coco, cp)
            r = os.path.join(out, "ref", arch + "-coco")
            convert(cp, arch, arch, r)
            case(f"{arch} 91 classes", cp, arch, r)
    # Keypoint heads: torchvision's person model (2 classes: "person"), and a head of other
    # widths and keypoint count with names from a file.
    kp = "keypointrcnn_resnet50_fpn"
    person = random_state_dict(kp, 2, 77)
    pp = os.path.join(out, f"{kp}-person.pth")
    torch.save(person, pp)
    r = os.path.join(out, "ref", kp + "-person")
    convert(pp, kp, kp, r)
    case(f"{kp} person", pp, kp, r)
    torch.manual_seed(78)
    custom = ct.build_model(kp, 3, 5, [64, 32]).state_dict()
    cz, cl = save_both(custom, os.path.join(out, f"{kp}-custom"))
    kp_names = os.path.join(out, "keypoints.txt")
    with open(kp_names, "w", encoding="utf-8") as f:
        f.write("top\nright\nbottom\nleft\ncentre\n")
    r = os.path.join(out, "ref", kp + "-custom")
    convert(cz, kp, kp, r, ["--keypoint-names", kp_names])
    case(f"{kp} custom head zip", cz, kp, r, ["--keypoint-names", os.path.relpath(kp_names, out)])
    case(f"{kp} custom head legacy", cl, kp, r, ["--keypoint-names", os.path.relpath(kp_names, out)])
    hostile = write_small_files(out)
    manifest = {"fingerprint": fp, "cases": cases, "small": hostile}
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {manifest_path}: {len(cases)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
