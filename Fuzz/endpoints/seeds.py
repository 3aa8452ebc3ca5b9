"""Seed requests for every route of the rcnn server, and the images they carry.

`Seeds(model)` builds valid requests (random valid options) for each endpoint family. Images are
small: two of the repository's 320x320 sample JPEGs and a 64x48 PNG drawn and encoded here (a
minimal PNG writer over zlib). `decoy_image` gives bytes that fail in the image decoder, so that
mutated requests stop before inference (the fuzzer controls how many reach the model).
Standard library only; a Seeds object belongs to one thread (it holds that thread's RNG).
"""

import base64
import os
import struct
import zlib

from http_wire import Multipart, Obj, Part, Req, V2Binary

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def png_encode(width, height, rgb):
    """A PNG (8-bit RGB, filter 0 on every row) of `rgb`, bytes of length width*height*3."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + rgb[y * width * 3:(y + 1) * width * 3] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")


def shapes_png(width=64, height=48):
    """A grey background with a red square and a blue disc, like the shapes dataset's images."""
    px = bytearray()
    for y in range(height):
        for x in range(width):
            if 8 <= x < 26 and 10 <= y < 28:
                px += b"\xd0\x20\x20"
            elif (x - 44) ** 2 + (y - 28) ** 2 < 100:
                px += b"\x20\x40\xd0"
            else:
                px += b"\x80\x80\x80"
    return png_encode(width, height, bytes(px))


def _decoys():
    sig = b"\x89PNG\r\n\x1a\n"
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
    return [
        sig + ihdr + chunk(b"IDAT", b"\x78\x9c\xff\xff\xff") + chunk(b"IEND", b""),  # corrupt zlib stream
        sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""),  # 3.6 G pixels: 413
        sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 16, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""),  # zero width
        sig + ihdr,                                   # no image data at all
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 7 + b"\xff\xd9",  # JPEG with no frame
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00",          # unsupported format
        b"not an image at all",
    ]


class Images:
    def __init__(self):
        self.jpegs = [open(os.path.join(REPO, "Samples", n), "rb").read()
                      for n in ("shapes_val_0005.jpg", "shapes_val_0000.jpg")]
        self.png = shapes_png()
        self.decoys = _decoys()
        # (bytes, width, height, media type)
        self.valid = [(self.jpegs[0], 320, 320, "image/jpeg"), (self.jpegs[1], 320, 320, "image/jpeg"),
                      (self.png, 64, 48, "image/png")]


_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_QUOTED = [chr(b) if b in _SAFE else "%%%02X" % b for b in range(256)]

MODEL = "shapes_mask_rcnn"
CLASSES = ["circle", "square", "triangle", "star", "hexagon", "ring", "cross", "ellipse"]
PIPELINES = ["mask", "faster", "fast", "rcnn"]


class Seeds:
    """Valid requests for every endpoint. `model`, `classes` and `pipelines` come from the
    running server's GET /v1/models/{name} (the defaults above otherwise)."""

    def __init__(self, rng, images, model=MODEL, classes=None, pipelines=None):
        self.rng = rng
        self.images = images
        self.model = model
        self.classes = classes or CLASSES
        self.pipelines = pipelines or PIPELINES
        self.decoy = False  # when set, seeds carry images the decoder rejects (no inference)

    # --- options -------------------------------------------------------------------------

    def boxes(self, w, h, n=None, inside=True):
        r = self.rng
        out = []
        for _ in range(n if n is not None else r.randint(1, 6)):
            if inside:
                x1 = r.uniform(0, w * 0.8)
                y1 = r.uniform(0, h * 0.8)
                out.append([round(x1, 2), round(y1, 2), round(r.uniform(x1 + 1, w), 2), round(r.uniform(y1 + 1, h), 2)])
            else:  # entirely right of or below the image: 422 after decoding, before inference
                x1 = r.uniform(w + 1, w * 3)
                out.append([round(x1, 1), round(r.uniform(0, h), 1), round(x1 + r.uniform(1, 50), 1), round(h + r.uniform(1, 50), 1)])
        return out

    def options(self, w, h, proposals_outside=False):
        """A dict of valid v1 options (values as JSON would carry them)."""
        r = self.rng
        o = {}
        if r.random() < 0.4:
            o["score_threshold"] = round(r.random(), 3)
        if r.random() < 0.3:
            o["max_detections"] = r.randint(1, 1000)
        if r.random() < 0.2:
            o["classes"] = r.sample(self.classes, r.randint(1, 3))
        if r.random() < 0.3:
            o["masks"] = r.choice(["rle", "polygon", "none"])
        if r.random() < 0.2:
            o["format"] = r.choice(["json", "json", "png", "jpeg"])
        if proposals_outside or r.random() < 0.2:
            # rcnn runs the CNN once per box: keep its proposals few.
            o["pipeline"] = r.choice(["fast", "fast", "rcnn"])
            o["proposals"] = self.boxes(w, h, n=r.randint(1, 3 if o["pipeline"] == "rcnn" else 8), inside=not proposals_outside)
        elif r.random() < 0.3:
            # Without proposals, fast and rcnn run selective search (seconds): only the CNN pipelines.
            o["pipeline"] = r.choice([p for p in self.pipelines if p in ("mask", "faster")] or self.pipelines[:1])
        return o

    @staticmethod
    def text(v):
        """An option value as a query/multipart string (arrays become JSON or comma lists)."""
        if isinstance(v, list):
            if v and isinstance(v[0], str):
                return ",".join(v)
            from http_wire import emit_json
            return emit_json(v)
        return str(v)

    def quote(self, s):
        """Percent-encodes every byte of `s` (UTF-8, lone surrogates kept) but unreserved ones."""
        return "".join(map(_QUOTED.__getitem__, s.encode("utf-8", "surrogatepass")))

    # --- v1 detect -----------------------------------------------------------------------

    def detect_path(self):
        return "/v1/detect" if self.rng.random() < 0.5 else "/v1/models/%s/detect" % self.model

    def image(self):
        """(bytes, width, height, media type): a valid image, or a decoy while `decoy` is set."""
        img = self.rng.choice(self.images.valid)
        if self.decoy:
            return (self.rng.choice(self.images.decoys),) + img[1:]
        return img

    def v1_raw(self, proposals_outside=False):
        img, w, h, mt = self.image()
        if self.rng.random() < 0.2:
            mt = "application/octet-stream" if self.rng.random() < 0.5 else ("image/jpg" if mt == "image/jpeg" else mt)
        q = [(k, self.quote(self.text(v))) for k, v in self.options(w, h, proposals_outside).items()]
        return Req("POST", self.detect_path(), q, [("Content-Type", mt)], img, kind="v1-raw")

    def v1_multipart(self, proposals_outside=False):
        img, w, h, mt = self.image()
        opts = self.options(w, h, proposals_outside)
        parts = [Part("image", img, filename="x" + (".png" if mt == "image/png" else ".jpg"), content_type=mt)]
        query = []
        for k, v in opts.items():
            if self.rng.random() < 0.8:
                parts.append(Part(k, self.text(v)))
            else:
                query.append((k, self.quote(self.text(v))))
        self.rng.shuffle(parts)
        mp = Multipart(parts, boundary="fuzzb%08x" % self.rng.getrandbits(32))
        return Req("POST", self.detect_path(), query, [("Content-Type", "multipart/form-data; boundary=%s" % mp.boundary)], mp, kind="v1-multipart")

    def v1_json(self, proposals_outside=False):
        img, w, h, _ = self.image()
        b64 = base64.b64encode(img).decode()
        if self.rng.random() < 0.2:
            b64 = "data:image/jpeg;base64," + b64
        body = {"image": b64}
        query = []
        for k, v in self.options(w, h, proposals_outside).items():
            if self.rng.random() < 0.85:
                body[k] = v
            else:
                query.append((k, self.quote(self.text(v))))
        return Req("POST", self.detect_path(), query, [("Content-Type", "application/json")], body, kind="v1-json")

    # --- v2 infer ------------------------------------------------------------------------

    def v2_path(self, suffix):
        base = "/v2/models/%s" % self.model
        if self.rng.random() < 0.3:
            base += "/versions/1"
        return base + suffix

    def v2_parameters(self):
        r = self.rng
        p = {}
        if r.random() < 0.4:
            p["score_threshold"] = round(r.random(), 3)
        if r.random() < 0.3:
            p["max_detections"] = r.randint(1, 1000)
        if r.random() < 0.3:
            p["pipeline"] = r.choice([x for x in self.pipelines if x in ("mask", "faster")] or self.pipelines[:1])
        if r.random() < 0.1:
            p["binary_data_output"] = False
        return p

    def v2_outputs(self, pipeline):
        names = ["boxes", "scores", "labels", "class_names"] + (["masks"] if pipeline in (None, "mask") else [])
        return [{"name": n} for n in self.rng.sample(names, self.rng.randint(1, len(names)))]

    def v2_doc(self, inp):
        r = self.rng
        doc = {"inputs": [inp]}
        if r.random() < 0.5:
            doc["id"] = "req-%d" % r.randint(0, 10 ** 6)
        params = self.v2_parameters()
        if params:
            doc["parameters"] = params
        if r.random() < 0.4:
            doc["outputs"] = self.v2_outputs(params.get("pipeline"))
        return doc

    def v2_json(self):
        img = self.image()[0]
        b64 = base64.b64encode(img).decode()
        data = [b64] if self.rng.random() < 0.8 else [[b64]]
        inp = {"name": "image", "datatype": "BYTES", "shape": [1], "data": data}
        return Req("POST", self.v2_path("/infer"), [], [("Content-Type", "application/json")], self.v2_doc(inp), kind="v2-json")

    def v2_binary(self):
        img = self.image()[0]
        tail = struct.pack("<I", len(img)) + img
        inp = {"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": len(tail)}}
        ct = self.rng.choice(["application/octet-stream", "application/json", None])
        headers = [("Content-Type", ct)] if ct else []
        return Req("POST", self.v2_path("/infer"), [], headers, V2Binary(self.v2_doc(inp), tail), kind="v2-binary")

    # --- GET routes ----------------------------------------------------------------------

    ODD_NAMES = ["shapes_mask_rcnn", "%73hapes_mask_rcnn", "SHAPES_MASK_RCNN", "..", "%2e%2e", "%2F", "%2f..%2f",
                 "%00", "caf%C3%A9", "%FF%FE%FD", "%F0%9F%98%80" * 50, "shapes_mask_rcnn%20", "~", "*", "%25",
                 "a" * 300, "b" * 7000, "%", "%zz", "shapes_mask_rcnn;x=1", "shapes_mask_rcnn.json",
                 "%C0%AE%C0%AE", "%E0%80%AF", "%C0%80", "%ED%A0%80", "%EF%BB%BFshapes_mask_rcnn", "shapes_mask_rcnn%E2%80%8B",
                 "\u00e9", "%2E", "."]

    def get(self):
        r = self.rng
        name = self.model if r.random() < 0.6 else r.choice(self.ODD_NAMES)
        path = r.choice([
            "/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/models", "/v1/models/" + name,
            "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/" + name, "/v2/models/%s/ready" % name,
            "/v2/models/%s/versions/1" % name, "/v2/models/%s/versions/1/ready" % name,
            "/v2/models/%s/versions/%s" % (name, r.choice(["2", "0", "01", "%31", "-1", "1.0"])),
        ])
        if path == "/metrics" and r.random() < 0.8:
            path = "/healthz"  # /metrics is the dearest GET; keep it rarer
        return Req("HEAD" if r.random() < 0.05 else "GET", path, [], [], None, kind="get")

    # --- families ------------------------------------------------------------------------

    def any(self):
        r = self.rng.random()
        if r < 0.12:
            return self.get()
        if r < 0.30:
            return self.v1_raw()
        if r < 0.48:
            return self.v1_multipart()
        if r < 0.66:
            return self.v1_json()
        if r < 0.83:
            return self.v2_json()
        return self.v2_binary()

    def post_decode(self):
        """A valid request whose proposals all lie outside the image: decoded, then 422."""
        return self.rng.choice([self.v1_raw, self.v1_multipart, self.v1_json])(proposals_outside=True)

    def known_good(self):
        """The health check's detect request: raw PNG, no options."""
        return Req("POST", "/v1/detect", [], [("Content-Type", "image/png")], self.images.png, kind="check")
