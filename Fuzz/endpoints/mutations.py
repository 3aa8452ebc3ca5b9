"""Structure-aware mutations of seed requests, plus byte-level ones.

`Mutator(rng, seeds).mutate(req)` applies 1-3 mutations chosen among those that fit the request:
JSON values swapped for extreme numbers and wrong types, JSON structure (deleted, duplicated,
unknown and deeply nested members), v2 shapes / binary_data_size / Inference-Header-Content-Length,
multipart framing, Content-Type, proposals, classes, query parameters, paths and methods, then
maybe bit flips, truncation, insertion or splicing of the body. All randomness comes from `rng`,
so a run is reproducible from its seed (per thread). One Mutator per thread.
"""

import copy
import struct

from http_wire import Multipart, Obj, Part, Raw, V2Binary, emit_json

BIG = 4611686018427387904  # 2**62: times 2 or 4 overflows Int64
EXTREMES = [
    Raw("1e300"), Raw("-1e300"), Raw("1e-320"), Raw("-0.0"), Raw("-0"), Raw("0e0"), Raw("1E400"), Raw("-1e999"),
    2 ** 63, 2 ** 63 - 1, 2 ** 64, 2 ** 64 + 1, -2 ** 63, -2 ** 63 - 1, BIG, -BIG, 2 ** 53 + 1, 2 ** 31, -2 ** 31 - 1, 2 ** 32,
    Raw("9" * 400), Raw("-" + "1" * 400), Raw("0." + "0" * 400 + "1"), Raw("1" + "0" * 30 + ".5"),
    Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("nan"), Raw("0x10"), Raw("01"), Raw("+1"), Raw(".5"), Raw("1."),
    "1e300", "-1e300", "NaN", "nan", "inf", "-inf", "Infinity", "1e-320", "-0", " 0.5 ", "0x1p-2", "1_000", "", " ",
    "9223372036854775808", "4611686018427387904", "18446744073709551616", "-9223372036854775809",
    True, False, None, [], {}, [[]], [None], [1], {"": None}, 0, 1, -1, 0.5, 4.5, 1000, 1001, 1e300, -1e300, 5e-324,
    "\u00e9", "\U0001F600" * 40, "\x00", "a" * 5000, "\ud800",
]
SHAPES = [[BIG, 4], [BIG, 2], [2 ** 62, -4], [2 ** 63 - 1, 2], [-(2 ** 63), -1], [3037000500, 3037000500],
          [2 ** 32, 2 ** 32], [-1], [0], [-1, -1], [1] * 100, [], [1, 1, 1], [2], [1.0], ["1"], [Raw("1e300")],
          [2 ** 64], [None], [[1]], [BIG, BIG, BIG, BIG], [2, BIG], [-BIG, -4], Raw("1"), "[1]", None, {}]
IHCL_VALUES = ["-1", "0", "99999999999999999999", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
               "abc", "", " ", "+5", "0x10", "1e3", "5 5", "\t3\t", "1.5", "\u00b9"]
METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "post", "FOO", "CONNECTX"]
CONTENT_TYPES = ["image/jpeg", "image/png", "image/jpg", "application/octet-stream", "application/json",
                 "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"",
                 "multipart/form-data; boundary=" + "b" * 71, "multipart/form-data;boundary=x;boundary=y",
                 "IMAGE/JPEG", "Application/JSON; charset=utf-8", "application/json;", ";", "text/plain", "",
                 " image/png ", "image/png, application/json", "application/json; charset=\u00ff", "image/*", "*/*",
                 "application/x-www-form-urlencoded", "multipart/mixed; boundary=x"]
OPTION_KEYS = ["score_threshold", "max_detections", "classes", "masks", "pipeline", "proposals", "format"]
OPTION_STRINGS = ["1e300", "-1e300", "nan", "NaN", "inf", "-0", "0", "1", "1.0000001", "1000", "1001", "1000.0000000001",
                  "999.99999999999999999", "1e3", "0x10", " 0.5 ", "", "%00", "-1", "2e-320", "9" * 400, "true", "null",
                  "rle", "polygon", "none", "RLE", "json", "png", "jpeg", "gif", "mask", "faster", "fast", "rcnn", "boxes",
                  "circle", "circle,square", ",,,", "__background__", "nope", "circle," * 3000, "[]", "[[0,0,1,1]]", "[[", "{}"]


def fresh(v):
    """A private copy of a pooled value: the pools' lists and dicts must never be shared between
    requests (a later mutation would edit the pool, or nest a value inside itself)."""
    return copy.deepcopy(v) if isinstance(v, (list, dict)) else v


class Mutator:
    def __init__(self, rng, seeds, without=""):
        self.rng = rng
        self.seeds = seeds
        self.without = {"m_" + w.strip() for w in without.split(",") if w.strip()}
        unknown = self.without - set(self.names())
        if unknown:
            raise ValueError("unknown mutation(s) %s; known: %s" % (", ".join(sorted(unknown)), ", ".join(n[2:] for n in self.names())))
        self.ops = [op for op in self.structural() if op.__name__ not in self.without]

    def names(self):
        return sorted({op.__name__ for op in self.structural()} | {"m_bytes"})

    # --- helpers -------------------------------------------------------------------------

    def json_root(self, req):
        if isinstance(req.body, V2Binary):
            return req.body.header
        if isinstance(req.body, (dict, list, Obj)):
            return req.body
        return None

    def nodes(self, root):
        """(container, key) for every value under `root` (dict keys, list indices); an Obj made
        by a duplicated-key mutation is a leaf."""
        out = []
        stack = [root]
        while stack and len(out) < 20000:
            c = stack.pop()
            if isinstance(c, dict):
                for k, v in c.items():
                    out.append((c, k))
                    if isinstance(v, (dict, list)):
                        stack.append(v)
            elif isinstance(c, list):
                for i, v in enumerate(c[:200]):
                    out.append((c, i))
                    if isinstance(v, (dict, list)):
                        stack.append(v)
        return out

    @staticmethod
    def put(container, key, value):
        container[key] = value

    @staticmethod
    def get(container, key):
        return container[key]

    def extreme(self):
        r = self.rng
        v = fresh(r.choice(EXTREMES))
        if r.random() < 0.1:  # deep nesting (bounded)
            depth = r.choice([10, 100, 600, 3000])
            return Raw("[" * depth + "1" + "]" * depth) if r.random() < 0.5 else Raw('{"a":' * depth + "1" + "}" * depth)
        return v

    def v2_input(self, req):
        root = self.json_root(req)
        if isinstance(root, dict) and isinstance(root.get("inputs"), list) and root["inputs"] and isinstance(root["inputs"][0], dict):
            return root, root["inputs"][0]
        return root, None

    # --- JSON ----------------------------------------------------------------------------

    def m_json_value(self, req):
        root = self.json_root(req)
        nodes = self.nodes(root) if root is not None else []
        if not nodes:
            return False
        c, k = self.rng.choice(nodes)
        self.put(c, k, self.extreme())
        return True

    def m_json_type_swap(self, req):
        root = self.json_root(req)
        nodes = self.nodes(root) if root is not None else []
        if not nodes:
            return False
        c, k = self.rng.choice(nodes)
        v = self.get(c, k)
        r = self.rng
        if isinstance(v, str):
            nv = r.choice([len(v), [v], {"v": v}, None, Raw(v[:20] or "0")])
        elif isinstance(v, bool) or v is None:
            nv = r.choice(["true", 1, 0, []])
        elif isinstance(v, (int, float)):
            nv = r.choice([str(v), [v], {"v": v}, None, True])
        elif isinstance(v, list):
            nv = r.choice([emit_json(v), {}, v * r.choice([2, 100]), [v], v[:0], None])
        elif isinstance(v, dict):
            nv = r.choice([[v], list(v.values()), emit_json(v), "", None, {}])
        else:
            nv = None
        self.put(c, k, nv)
        return True

    def m_json_structure(self, req):
        root = self.json_root(req)
        if root is None:
            return False
        dicts = [root] if isinstance(root, dict) else []
        dicts += [self.get(c, k) for c, k in self.nodes(root) if isinstance(self.get(c, k), dict)]
        if not dicts:
            return False
        d = self.rng.choice(dicts)
        r = self.rng.random()
        if r < 0.3 and d:
            del d[self.rng.choice(list(d))]
        elif r < 0.5:
            d[self.rng.choice(["x", "", "\u00e9\u00e9", "\U0001F600" * 20, "k" * 3000, "image ", "Image", "inputs", "proposals"])] = self.extreme()
        elif r < 0.75 and d:
            # Duplicate a key: turn this dict into an Obj with the key twice (first or last wins?).
            k = self.rng.choice(list(d))
            pairs = Obj(list(d.items()) + [(k, self.extreme())])
            if d is root:
                self._replace_root(req, pairs)
            else:
                for c, key in self.nodes(root):
                    if self.get(c, key) is d:
                        self.put(c, key, pairs)
                        break
        else:
            k = self.rng.choice(list(d)) if d else "x"
            depth = self.rng.choice([2, 50, 500, 2000])
            d[k] = Raw("[" * depth + emit_json(d.get(k)) + "]" * depth)
        return True

    def _replace_root(self, req, new):
        if isinstance(req.body, V2Binary):
            req.body.header = new
        else:
            req.body = new

    def m_json_whole(self, req):
        if self.json_root(req) is None:
            return False
        text = emit_json(self.json_root(req))
        r = self.rng.random()
        if r < 0.2:
            new = Raw(text[: self.rng.randint(0, len(text))])
        elif r < 0.35:
            new = Raw(text + self.rng.choice(["x", "}", "]", ",", " ", "\x00", "{}", text]))
        elif r < 0.5:
            new = [self.json_root(req)]
        else:
            new = self.rng.choice([Raw(""), Raw(" "), Raw("null"), Raw("[]"), Raw("{}"), Raw('"x"'), Raw("1e300"),
                                   Raw("\xef\xbb\xbf" + text), Raw(text.replace('"', "'")), Raw(text.replace(":", ": " * 50))])
        self._replace_root(req, new)
        if self.rng.random() < 0.3:
            req.ascii_json = False
        return True

    # --- v2 ------------------------------------------------------------------------------

    def m_v2_shape(self, req):
        _, inp = self.v2_input(req)
        if inp is None:
            return False
        inp["shape"] = fresh(self.rng.choice(SHAPES))
        if self.rng.random() < 0.2:
            inp["shape"] = [self.rng.choice([BIG, 2 ** 63 - 1, -1, 0, 2, 3]) for _ in range(self.rng.randint(1, 70))]
        return True

    def m_v2_binary_size(self, req):
        root, inp = self.v2_input(req)
        if inp is None:
            return False
        if not isinstance(req.body, V2Binary):
            req.body = V2Binary(root, b"")
            inp.pop("data", None)
            img = self.seeds.images.decoys[0]
            req.body.tail = struct.pack("<I", len(img)) + img
        n = len(req.body.tail)
        choices = [Raw("1e300"), Raw("-1e300"), Raw("1e19"), Raw("9.3e18"), Raw("9.2e18"), 2 ** 63, -2 ** 63 - 1, 2 ** 63 - 1,
                   -2 ** 63, 2 ** 64, -1, 0, 3, 4, n - 1, n + 1, str(n), " %d " % n, Raw("NaN"), Raw("-0.0"), Raw("1e-320"),
                   n + 0.5, Raw("%d.0" % n), Raw("%de0" % n), None, [], {}, [n], True, Raw(str(n) + "0" * 30)]
        params = inp.get("parameters")
        if not isinstance(params, dict):
            params = inp["parameters"] = {}
        params["binary_data_size"] = fresh(self.rng.choice(choices))
        return True

    def m_v2_tail(self, req):
        if not isinstance(req.body, V2Binary):
            return False
        t = req.body.tail
        img = t[4:]
        r = self.rng.random()
        if r < 0.25:
            t = struct.pack("<I", self.rng.choice([0, 1, 0xFFFFFFFF, 0x80000000, len(img) - 1, len(img) + 1]) & 0xFFFFFFFF) + img
        elif r < 0.5:
            t = t[: self.rng.randint(0, min(len(t), 8))]
        elif r < 0.75:
            t = t + self.rng.choice([b"\x00", b"\x04\x00\x00\x00abcd", t])
        else:
            t = b""
        req.body.tail = t
        # Keep binary_data_size consistent half the time, so the length prefix checks are reached.
        _, inp = self.v2_input(req)
        if inp is not None and self.rng.random() < 0.5 and isinstance(inp.get("parameters"), dict):
            inp["parameters"]["binary_data_size"] = len(t)
        return True

    def m_v2_ihcl(self, req):
        if not (req.path.startswith("/v2") or isinstance(req.body, V2Binary)):
            return False
        n = len(req.body_bytes()) if req.body is not None else 0
        req.set_header("Inference-Header-Content-Length", None)
        v = self.rng.choice(IHCL_VALUES + [str(n), str(n + 1), str(n - 1), str(n * 2), str(2 ** 63 - 1 - n)])
        req.set_header("Inference-Header-Content-Length", v)
        if self.rng.random() < 0.1:
            req.headers.append(("Inference-Header-Content-Length", self.rng.choice(IHCL_VALUES)))
        req.head_mutated = True
        return True

    def m_v2_inputs(self, req):
        root, inp = self.v2_input(req)
        if inp is None:
            return False
        r = self.rng
        c = r.randrange(9)
        if c == 0:
            root["inputs"] = root["inputs"] + [dict(inp)]
        elif c == 1:
            root["inputs"] = fresh(r.choice([[], {}, None, "image", [None], [[]], [inp] * 1000]))
        elif c == 2:
            inp["name"] = r.choice(["", "IMAGE", "image\x00", "images", 5, None, "\U0001F600" * 30, "x" * 5000])
        elif c == 3:
            inp["datatype"] = r.choice(["FP32", "bytes", "", 5, None, "BYTES ", "BYTES\x00"])
        elif c == 4 and "data" in inp:
            d = inp["data"]
            item = d[0] if isinstance(d, list) and d and isinstance(d[0], str) else "AAAA"
            inp["data"] = r.choice([[item, item], [], [[[[item]]]], Raw("[" * 2000 + '"x"' + "]" * 2000), [5], [None], item,
                                    ["data:,"], ["data:image/png;base64"], ["!!!!"], [""], ["===="], [item[:-3]], [item + "\x00"],
                                    [[item, item]], [{"b64": item}]])
        elif c == 5:
            root["outputs"] = r.choice([[{"name": "masks"}], [{"name": "nope"}], [{"name": 5}], [{}], {}, "boxes", [],
                                        [{"name": "boxes"}] * 1000, [{"name": "boxes", "parameters": {"binary_data": True}}], None])
        elif c == 6:
            root["parameters"] = r.choice([[], "x", None, {"pipeline": r.choice(["fast", "rcnn", "nope", 5, "", None])},
                                           {"score_threshold": self.extreme()}, {"max_detections": self.extreme()},
                                           {"binary_data_output": True}, {"pipeline": "faster", "x": self.extreme()}])
        elif c == 7:
            root["id"] = self.extreme()
        else:
            inp.pop(r.choice(["name", "datatype", "shape", "data", "parameters"]), None)
        return True

    # --- v1 options ----------------------------------------------------------------------

    def option_value(self, key):
        r = self.rng
        if key == "proposals" and r.random() < 0.6:
            return self.proposals()
        if key == "classes" and r.random() < 0.3:
            return fresh(r.choice([["nope"], ["circle", 5], [], ["circle"] * 5000, [["circle"]], ["__background__"], [""]]))
        if r.random() < 0.5:
            return r.choice(OPTION_STRINGS)
        return self.extreme()

    def proposals(self):
        r = self.rng
        c = r.randrange(10)
        box = [1, 2, 30, 40]
        if c == 0:
            n = r.choice([4999, 5000, 5001, 6000])
            return [box] * n
        if c == 1:
            return [["NaN", "NaN", "NaN", "NaN"], [0, 0, "inf", 10], [Raw("1e300"), 0, Raw("2e300"), 5]][r.randrange(3):]
        if c == 2:
            return [[30, 40, 1, 2]] if r.random() < 0.5 else [[5, 5, 5, 5]]
        if c == 3:
            return [[-1e6, -1e6, -5e5, -5e5], [1e9, 1e9, 2e9, 2e9], [-1e30, -1e30, 1e30, 1e30], [Raw("-1e300"), 0, Raw("1e300"), 10]]
        if c == 4:
            return fresh(r.choice(["x", 5, None, {}, [1, 2, 3, 4], [[1, 2, 3]], [[1, 2, 3, 4, 5]], [[]], [None], [[[1, 2, 3, 4]]]]))
        if c == 5:
            return emit_json([box] * r.choice([1, 5001]))  # a JSON string where the JSON body wants an array
        if c == 6:
            return [[self.extreme(), 0, 10, 10]]
        if c == 7:
            return [[0, 0, Raw("1e-320"), Raw("1e-320")], [Raw("-0.0"), 0, 1, 1], [0, 0, 3.4028235e38, 3.4028236e38]]
        if c == 8:
            return [[str(x) for x in box]]
        return [[r.uniform(-50, 400) for _ in range(4)] for _ in range(r.randint(1, 50))]

    def m_option(self, req):
        """Sets one option (in the JSON body, a multipart part or the query) to a hostile value."""
        if not req.path.startswith("/v1/") or req.method != "POST":
            return False
        key = self.rng.choice(OPTION_KEYS + ["unknown", "image", "", "Score_Threshold", "score_threshold\x00"])
        val = self.option_value(key)
        if isinstance(req.body, dict) and "image" in req.body and self.rng.random() < 0.7:
            req.body[key] = val
        elif isinstance(req.body, Multipart) and self.rng.random() < 0.7:
            text = val if isinstance(val, str) else emit_json(val)
            req.body.parts.append(Part(key, text.encode("utf-8", "surrogatepass")))
        else:
            text = val if isinstance(val, str) else emit_json(val)
            req.query.append((self.seeds.quote(key), self.seeds.quote(text)))
        return True

    # --- query, path, method, headers ----------------------------------------------------

    def m_query(self, req):
        r = self.rng
        c = r.randrange(8)
        if c == 0 and req.query:
            req.query.append(r.choice(req.query))                   # repeated key
        elif c == 1 and req.query:
            i = r.randrange(len(req.query))
            req.query[i] = (req.query[i][0], r.choice(["", None]))  # empty / no '='
        elif c == 2:
            req.query.append((r.choice(["%73core_threshold", "score%5Fthreshold", "max_detections"]), r.choice(["%31", "%2e5", "0%2e5"])))
        elif c == 3:
            req.query.append((r.choice(OPTION_KEYS), r.choice(["%", "%G1", "%zz", "%00", "%FF%FE", "a+b", "%C3%A9", "%E2%80%AE", "\u00e9"])))
        elif c == 4:
            req.query.append((r.choice(OPTION_KEYS), "x" * r.choice([100, 2000, 7000, 9000])))
        elif c == 5:
            req.query = [(r.choice(OPTION_KEYS), str(i)) for i in range(r.choice([50, 99, 500]))]
        elif c == 6:
            req.query.append(("", ""))
        else:
            req.query.append((r.choice(["&", "=", "==", "?", "#", ";"]), r.choice(["", "=", "&"])))
        req.head_mutated = True
        return True

    def m_path(self, req):
        r = self.rng
        name = r.choice(self.seeds.ODD_NAMES)
        p = req.path
        c = r.randrange(6)
        if c == 0 and "shapes_mask_rcnn" in p:
            p = p.replace("shapes_mask_rcnn", name)
        elif c == 1:
            p = p + r.choice(["/", "//", "/.", "/..", "/x", "%2F", "%00"])
        elif c == 2:
            p = p.replace("/", r.choice(["//", "/./", "/%2F"]), 1)
        elif c == 3 and "/versions/1" in p:
            p = p.replace("/versions/1", "/versions/" + r.choice(["2", "0", "01", "%31", "-1", "1.0", "", "9" * 30]))
        elif c == 4:
            p = r.choice(["/v1/models/%s/detect" % name, "/v2/models/%s/infer" % name, "/v2/models/%s/versions/1/infer" % name,
                          "/v1/detect/x", "/v2/infer", "/V1/DETECT", "/v1/models//detect", "/v2/models/%s/versions//infer" % name])
        else:
            p = r.choice(["", "*", "v1/detect", "/" * 50 + "v1/detect", "http://127.0.0.1/v1/detect", "/\u00e9"])
            if not p.startswith("/") and p not in ("*", "http://127.0.0.1/v1/detect"):
                p = "/" + p
        req.path = p
        req.head_mutated = True
        return True

    def m_method(self, req):
        req.method = self.rng.choice(METHODS)
        if req.method == "OPTIONS" and self.rng.random() < 0.5:
            req.headers += [("Origin", "http://evil"), ("Access-Control-Request-Method", "POST")]
        req.head_mutated = True
        return True

    def m_content_type(self, req):
        r = self.rng
        ct = r.choice(CONTENT_TYPES)
        if isinstance(req.body, Multipart) and r.random() < 0.5:
            ct = r.choice(["multipart/form-data; boundary=\"%s\"" % req.body.boundary, "MULTIPART/FORM-DATA; BOUNDARY=%s" % req.body.boundary,
                           "multipart/form-data; charset=utf-8; boundary=%s; x=y" % req.body.boundary,
                           "multipart/form-data; boundary = %s" % req.body.boundary, "multipart/form-data; boundary=%sX" % req.body.boundary])
        if r.random() < 0.1:
            req.set_header("Content-Type", None)
        else:
            req.set_header("Content-Type", ct)
            if r.random() < 0.1:
                req.headers.append(("Content-Type", r.choice(CONTENT_TYPES)))
        if r.random() < 0.2:
            req.headers.append(("Accept", r.choice(["image/png", "image/jpeg", "*/*", "IMAGE/PNG;q=0", "application/json"])))
        req.head_mutated = True
        return True

    def m_framing(self, req):
        """The same body, framed differently: chunked, Expect: 100-continue, HTTP/1.0."""
        r = self.rng
        c = r.randrange(3)
        if c == 0 and req.method == "POST":
            req.chunks = [r.choice([1, 7, 100, 4096, 65536]) for _ in range(r.randint(1, 20))]
        elif c == 1 and req.method == "POST":
            req.headers.append(("Expect", "100-continue"))
        else:
            req.version = "HTTP/1.0"
            if r.random() < 0.5:
                req.headers.append(("Connection", "keep-alive"))
        req.head_mutated = True
        return True

    # --- multipart -----------------------------------------------------------------------

    def m_multipart(self, req):
        mp = req.body
        if not isinstance(mp, Multipart):
            return False
        r = self.rng
        c = r.randrange(12)
        if c == 0:
            mp.closing = False
        elif c == 1:
            mp.newline = b"\n"
        elif c == 2:
            mp.preamble = r.choice([b"junk\r\n", b"--", b"\r\n" * 100, b"--" + mp.boundary.encode()])
        elif c == 3:
            mp.epilogue = r.choice([b"", b"junk", b"\r\n--" + mp.boundary.encode() + b"\r\n", b"--"])
        elif c == 4 and mp.parts:
            mp.parts[r.randrange(len(mp.parts))].headers = r.choice([[], ["Content-Disposition: form-data"],
                                                                     ["Content-Disposition: form-data; name="],
                                                                     ["Content-Disposition: form-data; name=\"\""],
                                                                     ["no colon here"], ["Content-Disposition: form-data; name=\"image\"; name=\"x\""],
                                                                     ["Content-Disposition: form-data; name=\"\U0001F600\""],
                                                                     ["Content-Disposition: form-data; name=\"image\"\r\n\r\n"]])
        elif c == 5 and mp.parts:
            mp.parts.append(r.choice(mp.parts))                        # duplicate (e.g. two images)
        elif c == 6:
            mp.parts = [p for p in mp.parts if not any('name="image"' in h for h in p.headers)]  # no image
        elif c == 7:
            mp.parts += [Part("p%d" % i, b"v") for i in range(r.choice([10, 500, 3000]))]
        elif c == 8 and mp.parts:
            p = r.choice(mp.parts)
            p.body = p.body + b"\r\n--" + mp.boundary.encode() + r.choice([b"", b"--", b"\r\n"])  # delimiter inside a body
        elif c == 9:
            old = mp.boundary
            mp.boundary = r.choice(["", "a", "b" * 70, "b" * 71, "x" * 2000, " ", "\"", "--", "\u00e9", "a b"])
            if r.random() < 0.5:  # keep the header in step, so the body parser sees it
                req.set_header("Content-Type", "multipart/form-data; boundary=" + mp.boundary)
            elif r.random() < 0.5:
                mp.boundary = old
        elif c == 10:
            mp.parts = []
        else:
            mp.parts = [Part(r.choice(["image", "x"]), b"") for _ in range(r.randint(1, 3))]
        return True

    # --- bytes ---------------------------------------------------------------------------

    def m_bytes(self, req, splice_pool):
        body = bytearray(req.body_bytes())
        r = self.rng
        c = r.randrange(6)
        if c == 0 and body:
            for _ in range(r.randint(1, 8)):
                i = r.randrange(len(body))
                body[i] ^= 1 << r.randrange(8)
        elif c == 1 and body:
            del body[r.randrange(len(body)):]
        elif c == 2:
            i = r.randint(0, len(body))
            body[i:i] = r.choice([b"\x00", b"\xff" * 8, b'"', b"\\", b"{", b"[" * 100, b"\r\n", bytes(r.getrandbits(8) for _ in range(16))])
        elif c == 3 and splice_pool:
            other = r.choice(splice_pool)
            body = body[: r.randint(0, len(body))] + other[r.randint(0, len(other)):]
        elif c == 4 and body:
            i = r.randrange(len(body))
            j = min(len(body), i + r.randint(1, 64))
            body[i:i] = body[i:j] * r.randint(2, 50)
        elif body:
            for _ in range(r.randint(1, 4)):
                body[r.randrange(len(body))] = r.choice(b'\x00\xff"\\{}[],:0-e.')
        req.body_override = bytes(body)
        req.byte_mutated = True
        return True

    # --- driver --------------------------------------------------------------------------

    def structural(self):
        return [self.m_json_value, self.m_json_value, self.m_json_type_swap, self.m_json_structure, self.m_json_whole,
                self.m_v2_shape, self.m_v2_shape, self.m_v2_binary_size, self.m_v2_binary_size, self.m_v2_tail, self.m_v2_ihcl,
                self.m_v2_inputs, self.m_v2_inputs, self.m_option, self.m_option, self.m_option, self.m_query, self.m_path,
                self.m_method, self.m_content_type, self.m_multipart, self.m_multipart, self.m_framing]

    def mutate(self, req, splice_pool=None, byte_rate=0.15):
        ops = self.ops
        if "m_bytes" in self.without:
            byte_rate = 0
        applied = 0
        for _ in range(20):
            if self.rng.choice(ops)(req):
                applied += 1
                if applied >= self.rng.choice([1, 1, 1, 2, 3]):
                    break
        if self.rng.random() < byte_rate:
            self.m_bytes(req, splice_pool)
        return req
