"""What a response must look like, whatever the request was.

`check(method, target, lenient, resp)` returns None or a sentence saying what is wrong:
a status outside the expected set (any 5xx but 503, and 503 without Retry-After), a 405
without Allow, an error body that is not the route's JSON error shape (`{"error": {"code",
"message"}}`; `{"error": "message"}` on the /v2 routes), a 200 from a detect route that is not
detections JSON (or a PNG/JPEG when asked), a 200 from an infer route without outputs.
`lenient` (the request head was mutated) also accepts the HTTP layer's v1 error shape on /v2
paths, since the parser answers before any route is known. Pure functions; thread-safe.
"""

import json
from urllib.parse import unquote, urlsplit

EXPECTED = {200, 400, 404, 405, 411, 413, 414, 415, 422, 431, 503}
TEMPLATES = [
    "/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/models", "/v1/models/{name}", "/v1/detect",
    "/v1/models/{name}/detect", "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/ready",
    "/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}", "/v2/models/{name}/versions/{version}/ready",
    "/v2/models/{name}/versions/{version}/infer",
]
_SEGMENTS = [(t, [s for s in t.split("/") if s]) for t in TEMPLATES]


def route(path):
    """The template the server's router would pick for a decoded path (empty segments ignored)."""
    if not path.startswith("/"):
        return None
    parts = [s for s in path.split("/") if s]
    for t, segs in _SEGMENTS:
        if len(segs) == len(parts) and all(s.startswith("{") or s == p for s, p in zip(segs, parts)):
            return t
    return None


def decoded_path(target):
    if target.startswith("http://") or target.startswith("https://"):
        target = urlsplit(target).path or "/"
    return unquote(target.split("?", 1)[0].split("#", 1)[0], errors="replace")


def _error_shape(body, v2):
    try:
        doc = json.loads(body)
    except ValueError:
        return None, "error body is not JSON: %r" % body[:120]
    if not isinstance(doc, dict) or "error" not in doc:
        return None, "error body has no \"error\": %r" % body[:120]
    e = doc["error"]
    if isinstance(e, str):
        return "v2", None
    if isinstance(e, dict) and isinstance(e.get("code"), str) and isinstance(e.get("message"), str):
        return "v1", None
    return None, "malformed error member: %r" % body[:120]


def check(method, target, lenient, resp):
    status = resp.status
    h = resp.headers
    if status >= 500 and status != 503:
        return "server error %d: %r" % (status, resp.body[:200])
    if status == 204 and method == "OPTIONS":
        return None
    if status not in EXPECTED:
        return "unexpected status %d: %r" % (status, resp.body[:200])
    if status == 503 and "retry-after" not in h:
        return "503 without Retry-After: %r" % resp.body[:200]
    if status == 405 and "allow" not in h:
        return "405 without Allow"
    if method == "HEAD":
        return None
    path = decoded_path(target)
    tmpl = route(path)
    ctype = h.get("content-type", "").lower()
    if status >= 400:
        v2 = path.startswith("/v2/") or (tmpl is not None and tmpl.startswith("/v2"))
        shape, problem = _error_shape(resp.body, v2)
        if problem:
            return "%d: %s" % (status, problem)
        # Percent escapes, backslashes and bytes outside visible ASCII may be the parser's 400
        # (v1 shape) before any route is known, or decode to another route: either shape passes.
        ambiguous = "%" in target or "\\" in target or any(c > "~" or c <= " " for c in target)
        if shape == "v2" and not v2 and not ambiguous:
            return "%d: open-inference error shape on a v1 path: %r" % (status, resp.body[:120])
        if shape == "v1" and v2 and not (ambiguous or lenient or status in (411, 413, 414, 431)):
            return "%d: v1 error shape on a /v2 route: %r" % (status, resp.body[:120])
        return None
    # 200
    if tmpl in ("/v1/detect", "/v1/models/{name}/detect"):
        if ctype.startswith("image/png"):
            return None if resp.body.startswith(b"\x89PNG\r\n\x1a\n") else "200 image/png body is not a PNG"
        if ctype.startswith("image/jpeg"):
            return None if resp.body.startswith(b"\xff\xd8\xff") else "200 image/jpeg body is not a JPEG"
        try:
            doc = json.loads(resp.body)
        except ValueError:
            return "200 detect body is not JSON: %r" % resp.body[:120]
        if not isinstance(doc, dict) or not isinstance(doc.get("detections"), list):
            return "200 detect body has no \"detections\" array: %r" % resp.body[:120]
        return None
    if tmpl is not None and tmpl.endswith("/infer"):
        try:
            doc = json.loads(resp.body)
        except ValueError:
            return "200 infer body is not JSON: %r" % resp.body[:120]
        if not isinstance(doc, dict) or not isinstance(doc.get("outputs"), list) or "model_name" not in doc:
            return "200 infer body lacks outputs/model_name: %r" % resp.body[:120]
        return None
    if "json" in ctype:
        try:
            json.loads(resp.body)
        except ValueError:
            return "200 %s body is not JSON: %r" % (ctype, resp.body[:120])
    return None
