#!/usr/bin/env python3
"""Hostile clients against a running `rcnn serve`, while a well-behaved client keeps using it.

    python3 Tests/Hostile/hostile_clients.py --port PORT --pid PID --image Samples/shapes_val_0000.jpg
        [--max-connections 64] [--read-timeout 2] [--max-pixels 16000000] [--flood 2000]

Standard library only. The server is expected to run with the limits given here (the Swift test
CLITests.testHostileClients starts it so). Phases, each checked for the exact answer a careful
server gives:

  smuggling      Content-Length with Transfer-Encoding, conflicting or malformed lengths, obfuscated
                 Transfer-Encoding, oversized chunk sizes: 400/501, and the connection closed so a
                 request tucked behind the first one is never answered
  headers        thousands of header fields, one megabyte-long field, an overlong request line: 431/414
  paths          invalid percent-encoding, invalid UTF-8 (encoded and raw), NUL, traversal: a JSON 400/404
  slowloris      connections that dribble a header byte at a time: each answered 408 (JSON error,
                 Connection: close) by the read timeout, then closed
  disconnects    clients that vanish mid-body, and mid-response (RST): no effect on anyone else
  bombs          PNG and JPEG declaring huge dimensions (413 before any pixel memory), a highly
                 compressed PNG within the limit (decoded, answered, memory released)
  flood          --flood connections opened at once: at most --max-connections are held, the rest get
                 503 + Retry-After or wait in the backlog; once they go, the server serves again

Meanwhile a legitimate client posts the image to /v1/detect and polls /healthz in a loop: every
request outside the flood must succeed (200); during the flood it may also get 503. At the end
the server process must still be running, and its resident memory (after the same legitimate
requests as at the start) within --memory-slack-mb of the baseline measured before the attacks.
Prints one line per check and a summary; exits 1 if any check failed.
"""
import argparse
import json
import os
import resource
import selectors
import socket
import struct
import threading
import time
import zlib

from checks import FAILURES, check, rss_mb

ARGS = None


def connect(timeout=10):
    s = socket.create_connection(("127.0.0.1", ARGS.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s, timeout=30):
    """(status, headers dict, body bytes) of one response, or (None, {}, b"") if the peer closed
    without answering."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            chunk = b""
        if not chunk:
            return None, {}, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body[:n] if n else body


def exchange(raw, timeout=30):
    """Sends raw bytes on a new connection; returns (status, headers, body, rest) where `rest` is
    whatever else arrived before the server closed (a second response would show up there)."""
    s = connect()
    try:
        s.sendall(raw)
        status, headers, body = read_response(s, timeout)
        rest = b""
        s.settimeout(3)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return status, headers, body, rest
    finally:
        s.close()


def request(method, path, body=b"", headers=None, timeout=60):
    h = {"Host": "127.0.0.1", "Connection": "close", "Content-Length": str(len(body))}
    h.update(headers or {})
    raw = f"{method} {path} HTTP/1.1\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in h.items()).encode() + b"\r\n" + body
    s = connect(timeout)
    try:
        s.sendall(raw)
        return read_response(s, timeout)
    finally:
        s.close()


def is_json_error(headers, body):
    try:
        return headers.get("content-type", "").startswith("application/json") and "error" in json.loads(body)
    except ValueError:
        return False


# ------------------------------------------------------------------------------------------------
# the legitimate client

class LegitClient(threading.Thread):
    def __init__(self, image):
        super().__init__(daemon=True)
        self.image = image
        self.phase = "start"
        self.results = []  # (phase, route, status or error, seconds)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for route in ("/healthz", "/v1/detect"):
                t0 = time.time()
                try:
                    if route == "/healthz":
                        status, _, _ = request("GET", route, timeout=60)
                    else:
                        status, _, _ = request("POST", route + "?score_threshold=0.5", self.image,
                                               {"Content-Type": "image/jpeg"}, timeout=ARGS.detect_timeout)
                except OSError as e:
                    status = f"{type(e).__name__}"
                self.results.append((self.phase, route, status, time.time() - t0))
            time.sleep(0.2)


# ------------------------------------------------------------------------------------------------
# attacks

def smuggling():
    post = b"POST /v1/detect HTTP/1.1\r\nHost: x\r\n"
    tail = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"   # must never be answered
    # The one right status for each (Sources/HTTP/HTTPRequestParser.swift's framing rules): a
    # transfer coding other than exactly "chunked" is 501, every other ambiguity 400.
    cases = {
        "content-length with transfer-encoding": (400, post + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + tail),
        "two different content-lengths": (400, post + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!" + tail),
        "content-length list": (400, post + b"Content-Length: 5, 6\r\n\r\nhello!" + tail),
        "negative content-length": (400, post + b"Content-Length: -1\r\n\r\n" + tail),
        "content-length with sign": (400, post + b"Content-Length: +5\r\n\r\nhello" + tail),
        "space before colon": (400, post + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + tail),
        "obfuscated transfer-encoding": (501, post + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + tail),
        "chunked not last": (501, post + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + tail),
        "chunk size overflow": (400, post + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n" + tail),
        "chunk size not hex": (400, post + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + tail),
        "bare LF line endings with CL": (400, b"POST /v1/detect HTTP/1.1\nHost: x\nContent-Length: 0\nTransfer-Encoding: chunked\n\n" + tail),
        "HTTP/1.0 with chunked": (400, b"POST /v1/detect HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + tail),
    }
    for name, (want, raw) in cases.items():
        status, headers, body, rest = exchange(raw)
        check(status == want and is_json_error(headers, body) and b"HTTP/1.1" not in rest,
              f"smuggling: {name}", f"status {status} (want {want}), {len(rest)} bytes after the response")


def header_floods():
    many = "".join(f"X-Flood-{i}: {i}\r\n" for i in range(5000)).encode()
    status, headers, body, _ = exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    check(status == 431 and is_json_error(headers, body), "headers: 5000 fields", f"status {status}")
    status, headers, body, _ = exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    check(status == 431 and is_json_error(headers, body), "headers: one 1 MiB field", f"status {status}")
    status, headers, body, _ = exchange(b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    # The request line is read against its own limit first, so it overflows as 414, never 431.
    check(status == 414 and is_json_error(headers, body), "headers: 200 kB request line", f"status {status}")


def bad_paths():
    # Percent-escapes that decode to invalid UTF-8 (or NUL) make the path malformed: 400. The
    # query is decoded by the parser too, before any routing, so a bad one is 400 (not 405).
    cases = {
        "/v1/models/%FF%FE": 400, "/v1/models/%C0%AF": 400, "/v1/models/%zz": 400,
        "/v1/models/%": 400, "/v1/models/..%2F..%2Fetc%2Fpasswd": 404, "/%00": 400,
        "/v1/models/%E2%82": 400, "/v1/models/%E2%82%AC": 404, "/v1/detect?score_threshold=%FF": 400,
    }
    for path, want in cases.items():
        status, headers, body, _ = exchange(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        check(status == want and is_json_error(headers, body), f"paths: {path}", f"status {status} (want {want})")
    # Raw bytes outside visible ASCII in the request target: the request line is malformed, 400.
    for raw in (b"GET /v1/models/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /v1/\xc3\x28 HTTP/1.1\r\nHost: x\r\n\r\n"):
        status, headers, body, _ = exchange(raw)
        check(status == 400 and is_json_error(headers, body), f"paths: raw bytes {raw[4:20]!r}", f"status {status}")


def slowloris(n=20):
    """Each connection dribbles a header byte every ~0.5 s. The read timeout must end every one the
    same way: a complete 408 response (JSON error, Connection: close) and then the close (EOF, or a
    reset provoked by a byte we sent after it), within the read timeout plus slack."""
    socks = []
    for _ in range(n):
        s = connect()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    t0 = time.time()
    answered = {}   # i -> (seconds, first bytes of the answer)
    deadline = t0 + ARGS.read_timeout + 10
    while len(answered) < n and time.time() < deadline:
        for i, s in enumerate(socks):
            if i in answered:
                continue
            try:
                s.sendall(b"X")   # one byte of a header name every ~0.5 s
                s.settimeout(0.02)
                data = s.recv(1, socket.MSG_PEEK)
                answered[i] = (time.time() - t0, data)
            except socket.timeout:
                pass
            except OSError:
                answered[i] = (time.time() - t0, b"")   # reset before any answer: checked below
        time.sleep(0.5)
    took = max((v[0] for v in answered.values()), default=float("inf"))
    exact = 0
    problems = []
    for i, s in enumerate(socks):
        if i not in answered:
            problems.append(f"#{i} still open after {deadline - t0:.0f} s")
            continue
        status, headers, body = read_response(s, timeout=5)
        s.settimeout(5)
        try:
            after = s.recv(65536)
            closed = after == b""
        except ConnectionResetError:
            after, closed = b"", True
        except socket.timeout:
            after, closed = b"", False
        if status == 408 and is_json_error(headers, body) and headers.get("connection") == "close" and closed:
            exact += 1
        else:
            problems.append(f"#{i}: status {status}, connection {headers.get('connection')!r}, "
                            f"{'closed' if closed else 'left open'}, {len(after)} bytes after")
    for s in socks:
        s.close()
    check(exact == n and took <= ARGS.read_timeout + 5, "slowloris: every dribbling connection got 408 and was closed",
          f"{exact}/{n} answered 408 then closed, the last after {took:.1f} s (read timeout {ARGS.read_timeout} s)"
          + (f"; {'; '.join(problems[:3])}" if problems else ""))


def disconnects(image):
    for i in range(30):
        s = connect()
        s.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n"
                  + image[: len(image) // 2])
        s.close()
    for i in range(30):
        s = connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))   # close = RST
        s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(10)
        s.close()
    # A detection whose client is gone before the answer is written.
    for i in range(3):
        s = connect()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(f"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: {len(image)}\r\n\r\n".encode() + image)
        s.close()
    status, _, _ = request("GET", "/healthz")
    check(status == 200, "disconnects: 30 mid-body, 30 mid-response (RST), 3 abandoned detections", f"then /healthz {status}")


def png(width, height, raw_rows):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw_rows) + chunk(b"IEND", b""))


def jpeg_with_size(jpeg, width, height):
    """The JPEG with its SOF dimensions rewritten."""
    data = bytearray(jpeg)
    i = 2
    while i < len(data) - 9:
        if data[i] != 0xFF:
            raise ValueError("not a marker")
        marker = data[i + 1]
        length = (data[i + 2] << 8) | data[i + 3]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + length
    raise ValueError("no SOF marker")


def bombs(image):
    tiny_rows = zlib.compress(b"\x00" * 64)
    cases = [
        ("PNG 100000 x 100000", png(100_000, 100_000, tiny_rows)),
        ("PNG 2^31-1 x 1", png(2**31 - 1, 1, tiny_rows)),
        ("PNG 6000 x 6000 (36 MP, over the limit), 100 kB of zlib", png(6000, 6000, zlib.compress(b"\x00" * (6000 * 3 + 1) * 6000, 9))),
        ("JPEG 65000 x 65000", jpeg_with_size(image, 65000, 65000)),
        ("JPEG 65535 x 1", jpeg_with_size(image, 65535, 1)),   # past libjpeg's own 65500 cap: 400
    ]
    for name, data in cases:
        t0 = time.time()
        status, headers, body = request("POST", "/v1/detect", data, {"Content-Type": "application/octet-stream"})
        want = (400,) if "65535" in name else (413,)
        check(status in want and is_json_error(headers, body), f"bombs: {name} ({len(data)} bytes)",
              f"status {status} in {time.time() - t0:.2f} s: {body[:120]!r}")
    # Within the limit: 3000 x 3000 of one colour, 27 MB of pixels from about 26 kB: decoded and answered.
    side = 3000
    data = png(side, side, zlib.compress((b"\x00" + b"\x80" * side * 3) * side, 9))
    status, headers, body = request("POST", "/v1/detect", data, {"Content-Type": "image/png"}, timeout=ARGS.detect_timeout)
    check(status == 200, f"bombs: PNG {side} x {side} within the limit ({len(data)} bytes)", f"status {status}")


def flood(legit):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = ARGS.flood + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    n = min(ARGS.flood, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64)
    legit.phase = "flood"
    sel = selectors.DefaultSelector()
    socks = []
    t0 = time.time()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", ARGS.port))
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    # Collect what the server says within a few seconds: 503s for connections past the cap.
    answers = {}
    deadline = time.time() + 5
    while time.time() < deadline:
        for key, _ in sel.select(timeout=0.2):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            answers[key.fileobj.fileno()] = data
            sel.unregister(key.fileobj)
    busy = sum(1 for d in answers.values() if d.startswith(b"HTTP/1.1 503") and b"Retry-After" in d)
    opened = time.time() - t0
    for s in socks:
        s.close()
    sel.close()
    check(busy > 0 or n <= ARGS.max_connections, f"flood: {n} connections at once",
          f"{busy} answered 503 with Retry-After, {len(answers) - busy} closed otherwise, "
          f"{n - len(answers)} silent (held or in the backlog) after {opened:.1f} s")
    legit.phase = "after flood"
    t0 = time.time()
    status = None
    while time.time() - t0 < 30:
        try:
            status, _, _ = request("GET", "/healthz", timeout=10)
        except OSError:
            status = None
        if status == 200:
            break
        time.sleep(0.2)
    check(status == 200, "flood: served again once the connections are gone", f"after {time.time() - t0:.1f} s")


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--max-connections", type=int, default=64)
    ap.add_argument("--read-timeout", type=float, default=2)
    ap.add_argument("--flood", type=int, default=2000)
    ap.add_argument("--memory-slack-mb", type=float, default=64)
    ap.add_argument("--detect-timeout", type=float, default=120,
                    help="seconds a detection may take (raise it for sanitizer builds)")
    ARGS = ap.parse_args()
    image = open(ARGS.image, "rb").read()

    def settle():
        for _ in range(5):
            status, _, _ = request("POST", "/v1/detect", image, {"Content-Type": "image/jpeg"}, timeout=ARGS.detect_timeout)
            if status != 200:
                return status
        # The server gives freed memory back after 1 s without requests (MemoryPolicy + scheduler).
        time.sleep(2.5)
        return 200

    check(settle() == 200, "baseline: five detections")
    baseline = rss_mb(ARGS.pid)
    print(f"     server RSS baseline: {baseline:.0f} MB", flush=True)
    legit = LegitClient(image)
    legit.start()
    t_start = time.time()
    for phase, fn in (("smuggling", smuggling), ("headers", header_floods), ("paths", bad_paths),
                      ("slowloris", slowloris), ("disconnects", lambda: disconnects(image)),
                      ("bombs", lambda: bombs(image))):
        legit.phase = phase
        fn()
        print(f"     server RSS after {phase}: {rss_mb(ARGS.pid):.0f} MB", flush=True)
    flood(legit)
    print(f"     server RSS after flood: {rss_mb(ARGS.pid):.0f} MB", flush=True)
    legit.phase = "end"
    time.sleep(1)
    legit.stop.set()
    legit.join(timeout=2 * ARGS.detect_timeout + 60)
    peak_phase = max(legit.results, key=lambda r: r[3]) if legit.results else None

    outside = [r for r in legit.results if r[0] != "flood"]
    bad = [r for r in outside if r[2] != 200]
    during = [r for r in legit.results if r[0] == "flood"]
    # At least two rounds of /healthz + /v1/detect (a sanitizer build manages few more).
    check(len(outside) >= 4 and not bad, "legitimate client outside the flood",
          f"{len(outside) - len(bad)}/{len(outside)} requests succeeded; failures {bad[:5]}")
    check(all(r[2] in (200, 503) for r in during), "legitimate client during the flood",
          f"{len(during)} requests: {sorted(set(str(r[2]) for r in during))}")
    if peak_phase:
        print(f"     slowest legitimate request: {peak_phase[1]} in {peak_phase[3]:.2f} s during {peak_phase[0]}")
    check(os.path.exists(f"/proc/{ARGS.pid}"), "server still running", f"pid {ARGS.pid}")
    check(settle() == 200, "after: five detections")
    after = rss_mb(ARGS.pid)
    check(after <= baseline + ARGS.memory_slack_mb, "memory back to baseline",
          f"RSS {baseline:.0f} MB before, {after:.0f} MB after (slack {ARGS.memory_slack_mb:.0f} MB)")
    print(f"{len(FAILURES)} failed check(s) in {time.time() - t_start:.0f} s")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    raise SystemExit(main())
