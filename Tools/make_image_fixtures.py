#!/usr/bin/env python3
"""Writes the JPEG/PNG variants the Imaging tests decode, each with PIL's decode as raw RGB.

    make_image_fixtures.py --out DIR
        DIR/NAME.jpg|png   the encoded variant
        DIR/NAME.rgb       PIL's Image.open(...).convert("RGB") as raw HWC RGB8 bytes
                           (16-bit grey: the high byte of each sample, see below)
        DIR/NAME.oriented.rgb  the same after PIL's ImageOps.exif_transpose (EXIF variants only)
        DIR/NAME.over_BG.rgb   transparent variants: PIL's Image.alpha_composite over an opaque
                           BG (ffffff and 3366cc), as RGB
        DIR/manifest.json  [{name, file, width, height, expected, compare, orientation,
                             oriented, orientedWidth, orientedHeight, composited}]
    make_image_fixtures.py --decode FILE --out OUT.rgb
        PIL-decodes FILE to raw RGB (the tests use it for YCCK JPEGs, which PIL cannot write);
        prints "WIDTH HEIGHT".

PIL cannot write 16-bit colour, 2-bit grey, Adam7 interlacing or 1-bit palettes, so those are
written by a small PNG writer here (write_png) and still decoded by PIL for the expected values.
Everything is seeded: the same files every run.
"""
import argparse
import io
import json
import os
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps


def base_rgb(width, height, seed=0):
    """Gradients, hard edges and noise, so chroma subsampling and filters all matter."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 // max(width - 1, 1)).astype(np.int32)
    g = (y * 255 // max(height - 1, 1)).astype(np.int32)
    b = ((x + y) % 32 * 8).astype(np.int32)
    image = np.stack([r, g, b], axis=-1)
    image[height // 3:height // 2, width // 4:width // 2] = [250, 10, 40]
    image = image + rng.integers(-20, 21, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def pack_rows(samples, depth):
    """samples: (h, w, c) integer array -> list of packed row bytes (filter byte not included)."""
    h, w, c = samples.shape
    rows = []
    for row in samples.reshape(h, w * c):
        if depth == 16:
            rows.append(row.astype(">u2").tobytes())
        elif depth == 8:
            rows.append(row.astype(np.uint8).tobytes())
        else:
            per_byte = 8 // depth
            padded = np.zeros(-(-len(row) // per_byte) * per_byte, dtype=np.uint8)
            padded[:len(row)] = row
            groups = padded.reshape(-1, per_byte)
            packed = np.zeros(len(groups), dtype=np.uint8)
            for i in range(per_byte):
                packed |= (groups[:, i] << (8 - depth * (i + 1))).astype(np.uint8)
            rows.append(packed.tobytes())
    return rows


def write_png(path, samples, depth, color_type, interlace=False, palette=None, trns=None):
    """A minimal PNG writer (filter 0 on every row) for what PIL cannot write."""
    h, w, _ = samples.shape
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue  # an empty Adam7 pass has no rows at all, not even filter bytes
        raw += b"".join(b"\x00" + row for row in pack_rows(sub, depth))
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        data += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).ravel()))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def pil_rgb(path):
    """PIL's decode as RGB8. 16-bit grey opens as mode I, whose convert("RGB") clips at 255;
    we keep the high byte instead (libpng's png_set_strip_16), so take it from the I values."""
    with Image.open(path) as im:
        im.load()
        if im.mode in ("I", "I;16", "I;16B"):
            grey = (np.asarray(im, dtype=np.int64) >> 8).astype(np.uint8)
            return np.repeat(grey[:, :, None], 3, axis=2), im
        return np.asarray(im.convert("RGB")), im


BACKGROUNDS = ("ffffff", "3366cc")


def pil_over(path, background):
    """PIL's composite of a transparent image over an opaque colour, as RGB; None without
    transparency (16-bit grey, mode I, is not given transparency here)."""
    with Image.open(path) as im:
        im.load()
        if im.mode in ("I", "I;16", "I;16B"):
            return None
        if im.mode not in ("RGBA", "LA", "PA") and "transparency" not in im.info:
            return None
        colour = tuple(int(background[i:i + 2], 16) for i in (0, 2, 4)) + (255,)
        base = Image.new("RGBA", im.size, colour)
        return np.asarray(Image.alpha_composite(base, im.convert("RGBA")).convert("RGB"))


def make_variants(out):
    rgb = base_rgb(45, 29)
    big = base_rgb(160, 120, seed=1)
    grey = np.asarray(Image.fromarray(rgb).convert("L"))
    rng = np.random.default_rng(7)
    alpha = rng.integers(0, 256, size=grey.shape, dtype=np.uint8)
    cmyk = rng.integers(0, 256, size=(29, 45, 4), dtype=np.uint8)
    cmyk[:, :, 3] //= 2  # keep some brightness: K near 255 makes everything black
    indices = (np.arange(29 * 45).reshape(29, 45) * 7 // 5 % 16).astype(np.uint8)
    palette16 = rng.integers(0, 256, size=(16, 3), dtype=np.uint8)
    entries = []

    def pil_save(name, image, ext, **options):
        path = os.path.join(out, f"{name}.{ext}")
        image.save(path, **options)
        return path

    def jpeg(name, image, **options):
        entries.append((name, pil_save(name, image, "jpg", **options), "jpeg"))

    def png(name, image, **options):
        entries.append((name, pil_save(name, image, "png", **options), "exact"))

    def raw_png(name, samples, depth, color_type, **options):
        path = os.path.join(out, f"{name}.png")
        write_png(path, samples, depth, color_type, **options)
        entries.append((name, path, "exact"))

    im = Image.fromarray(rgb)
    jpeg("jpeg_baseline_420", im, quality=90, subsampling=2)
    jpeg("jpeg_baseline_422", im, quality=90, subsampling=1)
    jpeg("jpeg_baseline_444", im, quality=95, subsampling=0)
    jpeg("jpeg_quality_10", im, quality=10)
    jpeg("jpeg_optimized", im, quality=80, optimize=True)
    jpeg("jpeg_progressive", im, quality=85, progressive=True)
    jpeg("jpeg_progressive_large", Image.fromarray(big), quality=75, progressive=True)
    jpeg("jpeg_large", Image.fromarray(big), quality=75)
    jpeg("jpeg_grey", Image.fromarray(grey), quality=90)
    jpeg("jpeg_grey_progressive", Image.fromarray(grey), quality=90, progressive=True)
    jpeg("jpeg_cmyk", Image.fromarray(cmyk, "CMYK"), quality=90)  # Adobe marker, inverted
    jpeg("jpeg_cmyk_progressive", Image.fromarray(cmyk, "CMYK"), quality=90, progressive=True)
    jpeg("jpeg_1x1", Image.fromarray(rgb[:1, :1]), quality=90)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        jpeg(f"jpeg_exif_{orientation}", im, quality=90, exif=exif.tobytes())
    exif = Image.Exif()
    exif[0x0112] = 6
    png("png_exif_6", im, exif=exif.tobytes())

    png("png_rgb", im)
    png("png_rgba", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"))
    png("png_grey", Image.fromarray(grey))
    png("png_grey_alpha", Image.fromarray(np.dstack([grey, alpha]), "LA"))
    png("png_rgb_trns", im, transparency=tuple(int(v) for v in rgb[0, 0]))
    png("png_grey_trns", Image.fromarray(grey), transparency=int(grey[0, 0]))
    png("png_bilevel", Image.fromarray(grey > 128).convert("1"))
    pal = Image.fromarray(indices, "P")
    pal.putpalette(bytes(palette16.ravel()))
    png("png_palette", pal)
    png("png_palette_trns", pal, transparency=bytes(range(0, 256, 16)))
    png("png_palette_4bit", pal, bits=4)
    png("png_1x1", Image.fromarray(rgb[:1, :1]))
    png("png_single_row", Image.fromarray(big[:1]))
    png("png_large", Image.fromarray(big), compress_level=1)

    grey16 = (grey.astype(np.uint16) * 257 + rng.integers(0, 256, size=grey.shape)).astype(np.uint16)
    rgb16 = rgb.astype(np.uint16) * 256 + rng.integers(0, 256, size=rgb.shape).astype(np.uint16)
    alpha16 = alpha.astype(np.uint16) * 257
    png("png_grey_16", Image.fromarray(grey16, "I;16"))
    raw_png("png_rgb_16", rgb16, 16, 2)
    raw_png("png_rgba_16", np.dstack([rgb16, alpha16]), 16, 6)
    raw_png("png_grey_alpha_16", np.dstack([grey16, alpha16]), 16, 4)
    raw_png("png_grey_1bit", (grey[:, :, None] >> 7), 1, 0)
    raw_png("png_grey_2bit", (grey[:, :, None] >> 6), 2, 0)
    raw_png("png_grey_4bit", (grey[:, :, None] >> 4), 4, 0)
    raw_png("png_palette_1bit", (indices[:, :, None] & 1), 1, 3, palette=palette16[:2])
    raw_png("png_palette_2bit_trns", (indices[:, :, None] & 3), 2, 3, palette=palette16[:4],
            trns=bytes([0, 128]))
    raw_png("png_interlaced_rgb", rgb, 8, 2, interlace=True)
    raw_png("png_interlaced_rgba", np.dstack([rgb, alpha]), 8, 6, interlace=True)
    raw_png("png_interlaced_grey_16", grey16[:, :, None], 16, 0, interlace=True)
    raw_png("png_interlaced_palette_4bit", indices[:, :, None], 4, 3, interlace=True,
            palette=palette16)
    raw_png("png_interlaced_grey_1bit", (grey[:, :, None] >> 7), 1, 0, interlace=True)
    raw_png("png_interlaced_tiny", rgb[:3, :2], 8, 2, interlace=True)  # empty Adam7 passes
    raw_png("png_interlaced_large", big, 8, 2, interlace=True)

    manifest = []
    for name, path, compare in entries:
        expected, im = pil_rgb(path)
        orientation = int(im.getexif().get(0x0112, 0))
        entry = {"name": name, "file": os.path.basename(path), "width": im.width,
                 "height": im.height, "expected": f"{name}.rgb", "compare": compare,
                 "orientation": orientation}
        with open(os.path.join(out, entry["expected"]), "wb") as f:
            f.write(expected.tobytes())
        composited = {}
        for background in BACKGROUNDS:
            over = pil_over(path, background)
            if over is not None:
                composited[background] = f"{name}.over_{background}.rgb"
                with open(os.path.join(out, composited[background]), "wb") as f:
                    f.write(over.tobytes())
        entry["composited"] = composited
        if orientation:
            with Image.open(path) as original:
                turned = np.asarray(ImageOps.exif_transpose(original).convert("RGB"))
            entry.update({"oriented": f"{name}.oriented.rgb", "orientedWidth": turned.shape[1],
                          "orientedHeight": turned.shape[0]})
            with open(os.path.join(out, entry["oriented"]), "wb") as f:
                f.write(turned.tobytes())
        manifest.append(entry)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def main():
    # PIL warns that palette transparency given as bytes 'should be converted to RGBA': intended.
    warnings.filterwarnings("ignore", category=UserWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder, or .rgb file with --decode")
    parser.add_argument("--decode", help="PIL-decode this file to raw RGB instead")
    args = parser.parse_args()
    if args.decode:
        expected, im = pil_rgb(args.decode)
        with open(args.out, "wb") as f:
            f.write(expected.tobytes())
        print(im.width, im.height)
        return
    os.makedirs(args.out, exist_ok=True)
    manifest = make_variants(args.out)
    print(f"wrote {len(manifest)} variants to {args.out}")


if __name__ == "__main__":
    main()
