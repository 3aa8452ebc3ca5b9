"""Requests as structures, their wire form, and a minimal HTTP/1.1 response reader.

A `Req` keeps the parts the mutators work on (method, path, query pairs, headers, a structured
body) and serializes them into one well-framed HTTP/1.1 request: the fuzzer targets the layers
above the HTTP parser, so the request head stays parseable unless a mutation means otherwise.
Standard library only. Nothing here is shared between threads.
"""

import json
import re
import socket


class Raw:
    """A JSON token written verbatim (NaN, 1e999, a 400-digit integer, a broken fragment)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return "Raw(%r)" % self.text[:40]


class Obj:
    """A JSON object as (key, value) pairs, so keys may repeat and keep their order."""

    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = list(pairs)


_MARK = re.compile(r'"(?:\\u0001|\x01)(\d+)(?:\\u0001|\x01)"')


def emit_json(v, ascii_only=True):
    """The JSON text of `v` (dict, Obj, list, str, int, float incl. NaN, bool, None, Raw), compact.

    The C encoder does the work; Raw and Obj go through `default` as numbered placeholder strings
    that are then replaced by their text.
    """
    specials = []

    def default(o):
        if isinstance(o, Raw):
            specials.append(o.text)
        elif isinstance(o, Obj):
            specials.append("{" + ",".join(emit_json(k, ascii_only) + ":" + emit_json(x, ascii_only) for k, x in o.pairs) + "}")
        else:
            specials.append(json.dumps(str(o)))
        return "\x01%d\x01" % (len(specials) - 1)

    text = json.dumps(v, ensure_ascii=ascii_only, separators=(",", ":"), default=default, check_circular=False)
    if specials:
        text = _MARK.sub(lambda m: specials[int(m.group(1))], text)
    return text


class Part:
    """One multipart/form-data part: header lines (already formatted, without CRLF) and a body."""

    def __init__(self, name, body, filename=None, content_type=None):
        self.headers = []
        disp = 'form-data; name="%s"' % name if name is not None else "form-data"
        if filename is not None:
            disp += '; filename="%s"' % filename
        self.headers.append("Content-Disposition: " + disp)
        if content_type:
            self.headers.append("Content-Type: " + content_type)
        self.body = body if isinstance(body, bytes) else str(body).encode()


class Multipart:
    """A multipart body: boundary, parts, and the framing knobs the mutators turn."""

    def __init__(self, parts, boundary=None):
        self.parts = parts
        self.boundary = boundary or "fuzzboundary"
        self.closing = True       # write the closing `--boundary--`
        self.preamble = b""
        self.epilogue = b"\r\n"
        self.newline = b"\r\n"

    def encode(self):
        nl = self.newline
        d = b"--" + self.boundary.encode("utf-8", "surrogateescape")
        out = [self.preamble]
        for p in self.parts:
            out.append(d + nl)
            for h in p.headers:
                out.append(h.encode("utf-8", "surrogateescape") + nl)
            out.append(nl)
            out.append(p.body)
            out.append(nl)
        if self.closing:
            out.append(d + b"--" + self.epilogue)
        return b"".join(out)


class V2Binary:
    """An open-inference body with the binary tensor data extension: JSON header, then `tail`.

    `header_length` overrides the Inference-Header-Content-Length value (None: the true length).
    """

    def __init__(self, header, tail):
        self.header = header
        self.tail = tail
        self.header_length = None


class Req:
    """One request. `body` is bytes, a JSON value (dict/Obj/list/Raw...), a Multipart or a V2Binary.

    `kind` names the seed family (for reports), `inference` marks requests the fuzzer means to
    run through the model (valid image, valid options).
    """

    def __init__(self, method, path, query=None, headers=None, body=None, kind=""):
        self.method = method
        self.path = path
        self.query = list(query or [])      # (key, value) pairs, already percent-encoded
        self.headers = list(headers or [])  # (name, value) pairs
        self.body = body
        self.kind = kind
        self.inference = False
        self.byte_mutated = False
        self.head_mutated = False           # method, target or headers changed by a mutation
        self.ascii_json = True
        self.body_override = None           # bytes after byte-level mutation
        self.version = "HTTP/1.1"
        self.chunks = None                  # chunk sizes: send the body chunked (None: Content-Length)

    def copy(self):
        import copy
        return copy.deepcopy(self)

    def header(self, name):
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return None

    def set_header(self, name, value):
        n = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != n]
        if value is not None:
            self.headers.append((name, value))

    def body_bytes(self):
        """The body on the wire, setting the headers it implies (IHCL) when not set already."""
        if self.body_override is not None:
            return self.body_override
        b = self.body
        if b is None:
            return b""
        if isinstance(b, bytes):
            return b
        if isinstance(b, Multipart):
            return b.encode()
        if isinstance(b, V2Binary):
            head = emit_json(b.header, self.ascii_json).encode("utf-8", "surrogatepass")
            if self.header("Inference-Header-Content-Length") is None:
                n = len(head) if b.header_length is None else b.header_length
                self.headers.append(("Inference-Header-Content-Length", str(n)))
            return head + b.tail
        return emit_json(b, self.ascii_json).encode("utf-8", "surrogatepass")

    def target(self):
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(k if v is None else "%s=%s" % (k, v) for k, v in self.query)

    def encode(self):
        """The complete request: head plus body with a Content-Length (or none for bodiless GETs)."""
        body = self.body_bytes()
        lines = ["%s %s %s" % (self.method, self.target(), self.version), "Host: 127.0.0.1"]
        for k, v in self.headers:
            lines.append("%s: %s" % (k, v))
        if self.chunks is not None:
            lines.append("Transfer-Encoding: chunked")
            out, i = [], 0
            for n in self.chunks:
                piece = body[i:i + n]
                i += len(piece)
                if piece:
                    out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
            if i < len(body):
                out.append(b"%x\r\n%s\r\n" % (len(body) - i, body[i:]))
            body = b"".join(out) + b"0\r\n\r\n"
        elif body or self.method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: %d" % len(body))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
        return head + body


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last wins)
        self.body = body

    @property
    def closes(self):
        return "close" in self.headers.get("connection", "").lower()


class NoResponse(Exception):
    """The connection ended (or broke) before a complete response arrived."""


def read_response(sock, buf, head_only=False):
    """Reads one response from `sock`; `buf` is a bytearray of bytes already received (kept
    for the next response). Raises NoResponse on EOF/reset, socket.timeout on a hang."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(buf) > 1 << 20:
            raise NoResponse("header section over 1 MiB")
        chunk = sock.recv(65536)
        if not chunk:
            raise NoResponse("EOF before the response head" + (" (%d bytes)" % len(buf) if buf else ""))
        buf += chunk
    head = bytes(buf[:end]).decode("latin-1")
    del buf[:end + 4]
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise NoResponse("malformed status line %r" % lines[0][:80])
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if not sep:
            raise NoResponse("malformed header line %r" % line[:80])
        headers[k.strip().lower()] = v.strip()
    if status < 200:  # 100 Continue: the real response follows
        return read_response(sock, buf, head_only)
    if head_only or status in (204, 304):
        return Response(status, headers, b"")
    cl = headers.get("content-length")
    if cl is None or not cl.isdigit():
        raise NoResponse("response %d without a Content-Length" % status)
    n = int(cl)
    while len(buf) < n:
        chunk = sock.recv(max(65536, n - len(buf)))
        if not chunk:
            raise NoResponse("EOF inside a %d-byte body (%d read)" % (n, len(buf)))
        buf += chunk
    body = bytes(buf[:n])
    del buf[:n]
    return Response(status, headers, body)


class Connection:
    """A keep-alive client connection that reconnects when the server closed it."""

    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.sock = None
        self.buf = bytearray()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = bytearray()

    def exchange(self, wire, head_only=False, timeout=None):
        """Sends `wire` and returns its Response. A stale keep-alive connection (closed by the
        server while idle) is retried once on a fresh one; other failures raise."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(timeout or self.timeout)
            try:
                try:
                    self.sock.sendall(wire)
                except (BrokenPipeError, ConnectionResetError):
                    if not fresh:
                        raise NoResponse("stale")
                    # The server may have answered early (e.g. 413) and closed: read it.
                resp = read_response(self.sock, self.buf, head_only)
                if resp.closes:
                    self.close()
                return resp
            except (NoResponse, ConnectionResetError, BrokenPipeError) as e:
                self.close()
                if fresh or attempt == 1:
                    raise NoResponse(str(e))
            except socket.timeout:
                self.close()
                raise
        raise NoResponse("unreachable")
