#!/usr/bin/env python3
"""Floods a running `rcnn serve` past its inference queue and checks what admission control promises.

    python3 Tests/Hostile/flood.py --port PORT --pid PID --image IMAGE [--clients 16] [--seconds 20]
        [--rss-bound-mb 600] [--query OPTIONS] [--baseline]

Standard library only. `--clients` threads post IMAGE to /v1/detect as fast as they can, each on
a fresh connection, retrying at once after a 503 (the worst case: clients that ignore
Retry-After). The server should run with few workers and a short queue (CLITests starts it with
RCNN_WORKERS=1, RCNN_QUEUE_DEPTH=2), so most requests are refused. Checked:

  answers      every request gets 200 (detections JSON) or 503 with Retry-After and the JSON error
               code "overloaded"; nothing else, no reset, no hang; both kinds occur
  refusals     counted by when they came: before the body was sent (the client sends the head with
               Expect: 100-continue and uploads only after 100 Continue), which costs the server
               no upload and no decode, or after it (a slot taken between head and body)
  memory       the server's resident memory, sampled every 10 ms during the flood, stays under
               --rss-bound-mb above its idle baseline
  afterwards   the server is alive, /healthz answers 200 and a detection succeeds

Prints the counts, accepted throughput (200s per second), the refusal rate, the peak memory and
the server's CPU time (from /proc) while flooding; exits 1 if any check failed.
"""
import argparse
import json
import os
import socket
import threading
import time

from checks import FAILURES, check, rss_mb

ARGS = None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def read_response(sock, deadline):
    """(status, headers dict with lower-case names, body bytes) of one response."""
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head ({len(data)} bytes)")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a response body")
        body += chunk
    return status, headers, body


def detect(image, query="score_threshold=0.5", timeout=120):
    """Posts the image the way the flood does: the head first with Expect: 100-continue, the body
    only once the server asks for it (or has said nothing for 5 s). Returns (status, headers, body,
    body_sent)."""
    deadline = time.monotonic() + timeout
    sock = socket.create_connection(("127.0.0.1", ARGS.port), timeout=timeout)
    try:
        head = (f"POST /v1/detect?{query} HTTP/1.1\r\nHost: flood\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(image)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        sock.sendall(head.encode())
        first = b""
        try:
            sock.settimeout(5)
            first = sock.recv(65536)
        except socket.timeout:
            pass
        if first.startswith(b"HTTP/1.1 100"):
            rest = first.split(b"\r\n\r\n", 1)[1]
            sock.sendall(image)
            return (*read_with_prefix(sock, rest, deadline), True)
        if first:
            return (*read_with_prefix(sock, first, deadline), False)
        sock.sendall(image)
        return (*read_response(sock, deadline), True)
    finally:
        sock.close()


class Prefixed:
    """A socket whose first recv returns bytes already read."""

    def __init__(self, sock, prefix):
        self.sock, self.prefix = sock, prefix

    def settimeout(self, t):
        self.sock.settimeout(t)

    def recv(self, n):
        if self.prefix:
            p, self.prefix = self.prefix, b""
            return p
        return self.sock.recv(n)


def read_with_prefix(sock, prefix, deadline):
    return read_response(Prefixed(sock, prefix), deadline)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rss-bound-mb", type=float, default=600)
    p.add_argument("--query", default="score_threshold=0.5", help="detection options of every request")
    p.add_argument("--baseline", action="store_true",
                   help="a measurement within the queue's capacity: 503s are not required")
    ARGS = p.parse_args()
    image = open(ARGS.image, "rb").read()

    # Baseline: one detection, then idle long enough for the server's idle trim.
    status, _, _, _ = detect(image)
    check(status == 200, "warm-up detection", f"status {status}")
    time.sleep(2.5)
    baseline = rss_mb(ARGS.pid)

    lock = threading.Lock()
    counts = {"200": 0, "503": 0, "other": 0, "503_before_body": 0, "503_after_body": 0, "errors": 0}
    problems = []
    stop = time.monotonic() + ARGS.seconds
    peak = [baseline]

    def sampler():
        while time.monotonic() < stop + 0.5:
            peak[0] = max(peak[0], rss_mb(ARGS.pid))
            time.sleep(0.01)

    def client():
        while time.monotonic() < stop:
            try:
                status, headers, body, sent = detect(image, ARGS.query)
            except Exception as e:  # noqa: BLE001 - a reset or hang is a failure to report
                with lock:
                    counts["errors"] += 1
                    problems.append(f"{type(e).__name__}: {e}")
                continue
            with lock:
                if status == 200:
                    counts["200"] += 1
                    if "detections" not in json.loads(body):
                        problems.append("200 without detections")
                elif status == 503:
                    counts["503"] += 1
                    counts["503_before_body" if not sent else "503_after_body"] += 1
                    code = json.loads(body).get("error", {}).get("code")
                    if headers.get("retry-after") != "1" or code != "overloaded":
                        problems.append(f"503 with Retry-After {headers.get('retry-after')!r}, code {code!r}")
                else:
                    counts["other"] += 1
                    problems.append(f"status {status}: {body[:200]!r}")

    cpu0, t0 = cpu_seconds(ARGS.pid), time.monotonic()
    threads = [threading.Thread(target=sampler)] + [threading.Thread(target=client) for _ in range(ARGS.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(ARGS.pid) - cpu0

    total = counts["200"] + counts["503"] + counts["other"] + counts["errors"]
    print(f"flood: {ARGS.clients} clients for {elapsed:.1f} s: {total} requests, {counts['200']} x 200 "
          f"({counts['200'] / elapsed:.2f}/s accepted), {counts['503']} x 503 ({counts['503'] / elapsed:.0f}/s; "
          f"{counts['503_before_body']} before the body was sent), {counts['other']} other, {counts['errors']} errors; "
          f"server CPU {cpu / elapsed:.2f} cores; RSS baseline {baseline:.0f} MB, peak {peak[0]:.0f} MB "
          f"(+{peak[0] - baseline:.0f} MB, bound +{ARGS.rss_bound_mb:.0f} MB)", flush=True)
    check(not problems, "every answer is 200 or 503 overloaded with Retry-After",
          "; ".join(sorted(set(problems))[:5]))
    check(counts["200"] > 0, "some requests were served", str(counts["200"]))
    if not ARGS.baseline:
        check(counts["503"] > 0, "the flood went past the queue (some 503s)", str(counts["503"]))
        check(counts["503_before_body"] > 0, "refusals from the headers, before the upload",
              f"{counts['503_before_body']} of {counts['503']}")
    check(peak[0] - baseline <= ARGS.rss_bound_mb, "memory stayed under the bound",
          f"+{peak[0] - baseline:.0f} MB against +{ARGS.rss_bound_mb:.0f} MB")
    status, _, _, _ = detect(image)
    check(status == 200, "detection after the flood", f"status {status}")
    print(f"{len(FAILURES)} failed check(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    raise SystemExit(main())
