#!/usr/bin/env python3
"""Every image variant of Tools/make_image_fixtures.py sent to a running server as a user would
send it, and the pixels the server detected on compared with Pillow's, byte for byte.

The server is asked for the annotated image with a score threshold of 1, so it draws nothing and
the PNG it answers is exactly the image it ran the model on. That must equal what Pillow shows a
person: ImageOps.exif_transpose for files with an EXIF orientation, transparency composited over
white (Image.alpha_composite), else Image.open(...).convert("RGB") (the fixtures hold each of
these, written by Pillow). The answer's JSON for the same file must give the same width, height and
orientation. Truncated and corrupted files must get a 400 with a JSON error code.

Usage: api_variant_matrix.py --base http://127.0.0.1:PORT --fixtures DIR
Prints one line per variant and "N passed, N failed"; exits 1 on any failure.
"""
import argparse
import io
import json
import os
import sys
import urllib.error
import urllib.request

import numpy as np
from PIL import Image


def post(base, query, body, content_type):
    req = urllib.request.Request(f"{base}/v1/detect?{query}", data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--fixtures", required=True)
    args = ap.parse_args()
    with open(os.path.join(args.fixtures, "manifest.json")) as f:
        manifest = json.load(f)
    passed = failed = 0

    def report(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
        print(f"{'ok  ' if ok else 'FAIL'}  {name}" + ("" if ok else f": {detail}"))

    orientations = set()
    for entry in manifest:
        path = os.path.join(args.fixtures, entry["file"])
        raw = open(path, "rb").read()
        content_type = "image/png" if entry["file"].endswith(".png") else "image/jpeg"
        if entry.get("oriented"):
            expected_file, w, h = entry["oriented"], entry["orientedWidth"], entry["orientedHeight"]
            orientations.add(entry["orientation"])
        elif entry.get("composited", {}).get("ffffff"):
            expected_file, w, h = entry["composited"]["ffffff"], entry["width"], entry["height"]
        else:
            expected_file, w, h = entry["expected"], entry["width"], entry["height"]
        expected = np.frombuffer(open(os.path.join(args.fixtures, expected_file), "rb").read(), dtype=np.uint8)
        status, kind, body = post(args.base, "format=png&score_threshold=1", raw, content_type)
        if status != 200 or kind != "image/png":
            report(entry["name"], False, f"status {status} {kind} {body[:200]!r}")
            continue
        got = np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))
        if got.shape != (h, w, 3):
            report(entry["name"], False, f"served {got.shape[1]}x{got.shape[0]}, Pillow shows {w}x{h}")
            continue
        differing = int((got.reshape(-1) != expected).sum())
        status, _, body = post(args.base, "score_threshold=1", raw, content_type)
        doc = json.loads(body) if status == 200 else {}
        image = doc.get("image", {})
        want_orientation = entry["orientation"] or 1
        frame_ok = (image.get("width"), image.get("height"), image.get("orientation")) == (w, h, want_orientation)
        report(entry["name"], differing == 0 and frame_ok,
               f"{differing} bytes differ from Pillow; answer image {image} (expected {w}x{h}, orientation {want_orientation})")
    report("every EXIF orientation 1-8 covered", orientations >= set(range(1, 9)), str(sorted(orientations)))

    # Damaged files: a clean 400 with a JSON error code, for a truncated and a corrupted copy of
    # each format.
    for entry in manifest:
        if entry["name"] not in ("jpeg_baseline_420", "png_rgb", "png_interlaced_rgba"):
            continue
        raw = open(os.path.join(args.fixtures, entry["file"]), "rb").read()
        content_type = "image/png" if entry["file"].endswith(".png") else "image/jpeg"
        corrupted = bytearray(raw)
        for i in range(len(raw) // 3, len(raw) - 16, 7):
            corrupted[i] ^= 0x5A
        for label, body in (("truncated", raw[: len(raw) * 2 // 3]), ("corrupted", bytes(corrupted))):
            status, kind, answer = post(args.base, "score_threshold=1", body, content_type)
            try:
                code = json.loads(answer)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = None
            report(f"{entry['name']} {label}: 400 with an error code", status == 400 and bool(code), f"{status} {answer[:160]!r}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
