#!/usr/bin/env python3
"""Reference data for the selective search tests.

    selective_search_reference.py felzenszwalb OUT_DIR

writes test images as PNG (synthetic scenes, and two of Samples/*.jpg re-encoded losslessly so
that both sides segment the same pixels), and skimage.segmentation.felzenszwalb's label maps for
several parameter sets as raw little-endian int32 (H*W, row-major), with OUT_DIR/manifest.json:

    [{"image": "NAME.png", "width": W, "height": H, "scale": S, "sigma": SIG, "min_size": M,
      "labels": "NAME_sS_mM.bin", "count": N}, ...]
"""
import json
import os
import sys

import numpy as np
from PIL import Image
from skimage.segmentation import felzenszwalb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMS = [(100.0, 0.8, 50), (300.0, 0.8, 100), (50.0, 0.5, 20)]


def synthetic_images(rng):
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    # Shapes on a gradient with mild noise.
    img = np.stack([xx / w * 200 + 20, yy / h * 150 + 50, np.full_like(xx, 90)], -1)
    img[(xx - 50) ** 2 + (yy - 60) ** 2 < 30 ** 2] = (220, 40, 40)
    img[20:70, 95:150] = (30, 60, 210)
    tri = (yy > 80) & (xx > 90) & (xx - 90 < (yy - 80) * 1.5)
    img[tri] = (240, 230, 60)
    img += rng.normal(0, 4, img.shape)
    yield "shapes", img
    # Textured stripes and checkerboard.
    img = np.zeros((h, w, 3))
    img[..., 0] = 128 + 100 * np.sin(xx / 4.0)
    img[..., 1] = 60
    img[..., 2] = 128 + 100 * np.sin(yy / 9.0)
    check = ((xx // 20 + yy // 20) % 2 == 0) & (xx > 80)
    img[check] = (30, 200, 120)
    img += rng.normal(0, 8, img.shape)
    yield "texture", img
    # Blobs of smooth colour fields with heavier noise.
    img = np.zeros((h, w, 3))
    for _ in range(8):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(10, 35)
        colour = rng.uniform(0, 255, 3)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = colour
    img += rng.normal(0, 12, img.shape)
    yield "blobs", img


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "felzenszwalb":
        sys.exit(__doc__)
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(5)
    images = [(name, np.clip(np.rint(img), 0, 255).astype(np.uint8)) for name, img in synthetic_images(rng)]
    for name in ["shapes_val_0000.jpg", "shapes_val_0003.jpg"]:
        images.append((name[:-4], np.asarray(Image.open(os.path.join(REPO, "Samples", name)).convert("RGB"))))
    manifest = []
    for name, img in images:
        Image.fromarray(img).save(os.path.join(out, name + ".png"))
        for scale, sigma, min_size in PARAMS:
            labels = felzenszwalb(img, scale=scale, sigma=sigma, min_size=min_size).astype("<i4")
            file = f"{name}_s{int(scale)}_m{min_size}.bin"
            labels.tofile(os.path.join(out, file))
            manifest.append(dict(image=name + ".png", width=img.shape[1], height=img.shape[0], scale=scale,
                                 sigma=sigma, min_size=min_size, labels=file, count=int(labels.max()) + 1))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
