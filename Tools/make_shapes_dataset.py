#!/usr/bin/env python3
"""Deterministic synthetic "shapes" instance-segmentation dataset in COCO format.

Usage:
    python Tools/make_shapes_dataset.py --out DIR --split train --count N --seed S [--size 320]

Writes DIR/SPLIT/images/SPLIT_%06d.jpg and DIR/SPLIT/instances.json.

Each image is a SIZE x SIZE scene: a cluttered, textured background (gradient, noise, random lines
and irregular blobs that are *not* objects) with 2-8 objects from 8 classes (circle, square,
triangle, star, hexagon, ring, cross, ellipse), of varied size (small ~10-20 px up to ~45% of the
image), rotation, colour and texture (solid, stripes, checker, noise). Later objects occlude earlier
ones; an instance's mask is what remains visible. Placement of a new object is rejected if it would
leave an earlier instance with visible area < 40% of its full area or < 30 px, so every object that is
visible in the image is also annotated (a dropped instance would otherwise stay visible, unlabelled).
The final filter on those thresholds is still applied for safety. Images are saved as JPEG with a
random quality in [60, 95]; annotations are computed from the exact rendered (pre-JPEG) masks.

Keypoints: every instance has 4 keypoints, the extreme points of its FULL (unoccluded) silhouette,
in the order "top", "right", "bottom", "left" (every category lists them, with the skeleton
top-right-bottom-left-top). The extreme row (top/bottom) or column (left/right) of the silhouette
usually holds several pixels; they are split into maximal runs of adjacent pixels, the longest run
is taken (the first one, i.e. the one with the smallest x for top/bottom or smallest y for
left/right, when several are equally long) and within it the pixel at offset (length - 1) // 2
from its start (the middle pixel; the lower of the two middle ones for an even length). A keypoint
is that pixel's centre (x + 0.5, y + 0.5) with visibility 2 when the pixel belongs to the
instance's visible mask and 1 ("labelled but not visible", as in COCO) when a later object covers
it; "num_keypoints" counts the keypoints with v > 0 (always 4). Keypoints do not change the
random stream: images and masks are the same as before they were added.

Determinism: image i of a run uses numpy.random.default_rng(SeedSequence([seed, i])), so output
depends only on (seed, index, size) and splits with different seeds never share images.
"""
import argparse
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

CLASSES = ["circle", "square", "triangle", "star", "hexagon", "ring", "cross", "ellipse"]
KEYPOINTS = ["top", "right", "bottom", "left"]
SKELETON = [[1, 2], [2, 3], [3, 4], [4, 1]]  # COCO convention: 1-based keypoint indices
MIN_VISIBLE_FRACTION = 0.40
MIN_VISIBLE_PIXELS = 30


# ----------------------------------------------------------------------------------------------
# Geometry: each shape is drawn into a binary "L" mask with ImageDraw (no anti-aliasing, so the
# mask is exactly the set of pixels the object paints).
# ----------------------------------------------------------------------------------------------
def regular_polygon(cx, cy, r, n, rot, radii=None):
    pts = []
    for k in range(n):
        a = rot + 2 * math.pi * k / n
        rr = r if radii is None else r * radii[k % len(radii)]
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def ellipse_polygon(cx, cy, rx, ry, rot, n=72):
    c, s = math.cos(rot), math.sin(rot)
    pts = []
    for k in range(n):
        t = 2 * math.pi * k / n
        x, y = rx * math.cos(t), ry * math.sin(t)
        pts.append((cx + c * x - s * y, cy + s * x + c * y))
    return pts


def cross_polygon(cx, cy, r, rot, arm):
    """Plus sign with half-length r and half arm width arm*r, rotated by rot."""
    w = arm * r
    base = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w),
            (-r, w), (-r, -w), (-w, -w)]
    c, s = math.cos(rot), math.sin(rot)
    return [(cx + c * x - s * y, cy + s * x + c * y) for x, y in base]


def render_shape(cls, size, cx, cy, r, rot, rng):
    """Returns a bool mask (size x size) of one object of class `cls` with bounding radius r."""
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    if cls == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif cls == "square":
        d.polygon(regular_polygon(cx, cy, r, 4, rot), fill=255)
    elif cls == "triangle":
        d.polygon(regular_polygon(cx, cy, r, 3, rot), fill=255)
    elif cls == "star":
        inner = rng.uniform(0.38, 0.5)
        d.polygon(regular_polygon(cx, cy, r, 10, rot, radii=[1.0, inner]), fill=255)
    elif cls == "hexagon":
        d.polygon(regular_polygon(cx, cy, r, 6, rot), fill=255)
    elif cls == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        ri = r * rng.uniform(0.45, 0.65)
        d.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
    elif cls == "cross":
        d.polygon(cross_polygon(cx, cy, r, rot, rng.uniform(0.25, 0.38)), fill=255)
    elif cls == "ellipse":
        d.polygon(ellipse_polygon(cx, cy, r, r * rng.uniform(0.4, 0.65), rot), fill=255)
    else:
        raise ValueError(cls)
    return np.asarray(img) > 0


# ----------------------------------------------------------------------------------------------
# Appearance
# ----------------------------------------------------------------------------------------------
def random_color(rng):
    return rng.integers(0, 256, size=3).astype(np.float32)


def texture(rng, size, min_period=4):
    """A full-frame RGB float texture: solid, stripes, checker or noisy colour."""
    kind = rng.choice(["solid", "solid", "stripes", "checker", "noise"])
    c1 = random_color(rng)
    if kind == "solid":
        return np.broadcast_to(c1, (size, size, 3)).copy()
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == "noise":
        return np.clip(c1 + rng.normal(0, rng.uniform(15, 45), (size, size, 3)), 0, 255)
    c2 = random_color(rng)
    period = rng.uniform(min_period, 16)
    a = rng.uniform(0, math.pi)
    if kind == "stripes":
        t = (xx * math.cos(a) + yy * math.sin(a)) / period
        sel = (np.floor(t) % 2).astype(bool)
    else:
        u = (xx * math.cos(a) + yy * math.sin(a)) / period
        v = (-xx * math.sin(a) + yy * math.cos(a)) / period
        sel = ((np.floor(u) + np.floor(v)) % 2).astype(bool)
    return np.where(sel[..., None], c2, c1)


def background(rng, size):
    """Gradient + noise + random lines + irregular blobs (clutter that is not an object)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a = rng.uniform(0, 2 * math.pi)
    t = np.clip(0.5 + (xx - 0.5) * math.cos(a) + (yy - 0.5) * math.sin(a), 0, 1)[..., None]
    img = random_color(rng) * (1 - t) + random_color(rng) * t
    if rng.random() < 0.35:  # sometimes a low-contrast texture on top
        img = 0.75 * img + 0.25 * texture(rng, size, min_period=6)
    for _ in range(rng.integers(0, 6)):  # irregular translucent blobs: jagged, many vertices
        cx, cy = rng.uniform(0, size, 2)
        r = rng.uniform(8, size * 0.18)
        n = int(rng.integers(12, 21))
        pts = regular_polygon(cx, cy, r, n, rng.uniform(0, 2 * math.pi),
                              radii=list(rng.uniform(0.35, 1.0, n)))
        blob = Image.new("L", (size, size), 0)
        ImageDraw.Draw(blob).polygon(pts, fill=255)
        alpha = rng.uniform(0.3, 0.6) * (np.asarray(blob)[..., None] > 0)
        img = img * (1 - alpha) + random_color(rng) * alpha
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(pil)
    for _ in range(rng.integers(0, 9)):  # random lines / polylines
        pts = [tuple(rng.uniform(-20, size + 20, 2)) for _ in range(rng.integers(2, 5))]
        d.line(pts, fill=tuple(int(v) for v in random_color(rng)), width=int(rng.integers(1, 5)))
    img = np.asarray(pil).astype(np.float32)
    img += rng.normal(0, rng.uniform(0, 14), img.shape)
    return img


# ----------------------------------------------------------------------------------------------
# Scene composition
# ----------------------------------------------------------------------------------------------
def sample_radius(rng, size):
    """Bounding radius: 15% small objects (10-20 px wide), the rest log-uniform 24 px .. 45% of size.

    (With more tiny objects, over half the instances fall in COCO's "small" bucket, where AP at
    strict IoU thresholds is limited by 1-px localisation error rather than by recognition.)"""
    if rng.random() < 0.15:
        return rng.uniform(10, 20) / 2
    return math.exp(rng.uniform(math.log(24), math.log(0.45 * size))) / 2


def make_scene(rng, size):
    """Returns (uint8 HxWx3 image, list of (class_index, visible bool mask, full bool mask))."""
    img = background(rng, size)
    owner = np.full((size, size), -1, dtype=np.int32)  # which object paints each pixel
    full_areas, classes, full_masks = [], [], []
    target = int(rng.integers(2, 9))
    attempts = 0
    while len(classes) < target and attempts < 60:
        attempts += 1
        ci = int(rng.integers(len(CLASSES)))
        r = sample_radius(rng, size)
        cx, cy = rng.uniform(r, size - r, 2)
        m = render_shape(CLASSES[ci], size, cx, cy, r, rng.uniform(0, 2 * math.pi), rng)
        area = int(m.sum())
        if area < MIN_VISIBLE_PIXELS:
            continue
        new_owner = np.where(m, len(classes), owner)
        # reject a placement that would hide too much of an earlier object
        counts = np.bincount(new_owner[new_owner >= 0].ravel(), minlength=len(classes) + 1)
        if any(counts[j] < max(MIN_VISIBLE_FRACTION * full_areas[j], MIN_VISIBLE_PIXELS)
               for j in range(len(classes))):
            continue
        owner = new_owner
        img = np.where(m[..., None], texture(rng, size), img)
        full_areas.append(area)
        classes.append(ci)
        full_masks.append(m)
    instances = []
    for j, ci in enumerate(classes):
        vis = owner == j
        if vis.sum() >= max(MIN_VISIBLE_FRACTION * full_areas[j], MIN_VISIBLE_PIXELS):
            instances.append((ci, vis, full_masks[j]))
    return np.clip(img, 0, 255).astype(np.uint8), instances


def _middle_of_longest_run(coords):
    """The pixel coordinate chosen among the tied pixels `coords` of an extreme row/column: the
    longest run of adjacent coordinates (the first of equally long ones), then its middle pixel
    (offset (length - 1) // 2 from the run's start)."""
    c = np.sort(np.asarray(coords))
    breaks = np.nonzero(np.diff(c) != 1)[0] + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(c)]])
    k = int(np.argmax(ends - starts))  # argmax returns the first of equal maxima
    return int(c[starts[k] + (ends[k] - starts[k] - 1) // 2])


def extreme_keypoints(full, vis):
    """COCO keypoints [x, y, v] * 4 (top, right, bottom, left) of the full silhouette `full`; v is
    2 where the point's pixel is in the visible mask `vis`, else 1."""
    ys, xs = np.nonzero(full)
    top_y, bottom_y, left_x, right_x = int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())
    points = [
        (_middle_of_longest_run(xs[ys == top_y]), top_y),
        (right_x, _middle_of_longest_run(ys[xs == right_x])),
        (_middle_of_longest_run(xs[ys == bottom_y]), bottom_y),
        (left_x, _middle_of_longest_run(ys[xs == left_x])),
    ]
    out = []
    for x, y in points:
        out += [x + 0.5, y + 0.5, 2 if vis[y, x] else 1]
    return out


def annotation(ann_id, image_id, ci, vis, full):
    rle = mask_utils.encode(np.asfortranarray(vis.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    kps = extreme_keypoints(full, vis)
    ys, xs = np.nonzero(vis)
    x0, y0 = int(xs.min()), int(ys.min())
    return {"id": ann_id, "image_id": image_id, "category_id": ci + 1, "segmentation": rle,
            "area": int(vis.sum()), "bbox": [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
            "iscrowd": 0, "keypoints": kps, "num_keypoints": sum(v > 0 for v in kps[2::3])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--size", type=int, default=320)
    args = ap.parse_args()

    img_dir = os.path.join(args.out, args.split, "images")
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    for i in range(args.count):
        rng = np.random.default_rng(np.random.SeedSequence([args.seed, i]))
        img, instances = make_scene(rng, args.size)
        name = f"{args.split}_{i:06d}.jpg"
        quality = int(rng.integers(60, 96))
        Image.fromarray(img).save(os.path.join(img_dir, name), quality=quality)
        images.append({"id": i + 1, "file_name": name, "width": args.size, "height": args.size})
        for ci, vis, full in instances:
            annotations.append(annotation(len(annotations) + 1, i + 1, ci, vis, full))
        if (i + 1) % 500 == 0:
            print(f"{args.split}: {i + 1}/{args.count} images", flush=True)
    coco = {"info": {"description": f"synthetic shapes, split={args.split}, seed={args.seed}, "
                                    f"size={args.size}"},
            "images": images, "annotations": annotations,
            "categories": [{"id": k + 1, "name": n, "supercategory": "shape",
                            "keypoints": list(KEYPOINTS), "skeleton": [list(p) for p in SKELETON]}
                           for k, n in enumerate(CLASSES)]}
    with open(os.path.join(args.out, args.split, "instances.json"), "w") as f:
        json.dump(coco, f)
    print(f"wrote {len(images)} images, {len(annotations)} instances to "
          f"{os.path.join(args.out, args.split)}")


if __name__ == "__main__":
    main()
