#!/usr/bin/env python3
"""Structure-aware fuzzer for every rcnn endpoint above the HTTP parser, against the real server.

Starts `rcnn serve` (port 0, access log off) from the repository root, waits for /readyz, then
sends seeded, mutated requests from `--connections` keep-alive client threads (see seeds.py and
mutations.py) and checks every response (oracle.py), the server's liveness, a health check every
`--check-every` inputs (/healthz and a known-good detect must answer 200) and its RSS after the
run against the RSS after warm-up. A crash, hang, 5xx or malformed answer is written to
`--out`/crashes or /failures as the raw request; `--replay FILE` sends such a file again.
Thread i draws its inputs from Random("seed:i"), so a run's inputs repeat for the same seed.

    python3 Fuzz/endpoints/fuzz_endpoints.py --count 20000
    python3 Fuzz/endpoints/fuzz_endpoints.py --count 1000000 --connections 4 --keep-going
    python3 Fuzz/endpoints/fuzz_endpoints.py --replay .cache/fuzz-endpoints/crashes/crash-....http

Exit status: 0 clean, 1 findings, 2 setup error. Standard library only.
"""

import argparse
import hashlib
import os
import random
import re
import socket
import sys
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from http_wire import Connection, NoResponse, Req  # noqa: E402
from mutations import Mutator  # noqa: E402
import oracle  # noqa: E402
from seeds import REPO, Images, Seeds  # noqa: E402
from server import Server, ServerError  # noqa: E402

INFER_TEMPLATES = ("/v1/detect", "/v1/models/{name}/detect", "/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer")


class Run:
    """Shared state of one fuzzing run: counters, findings, stop flags. Lock-protected."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.sent = 0
        self.statuses = Counter()
        self.inference_sent = 0      # requests generated to pass validation (valid image + options)
        self.inference_200 = 0       # 200s from detect/infer routes: inference ran
        self.failures = 0
        self.crashes = []            # (signature, path)
        self.signatures = set()
        self.stop = threading.Event()
        self.down = threading.Event()
        self.saved = 0
        self.first_crash_at = {}
        self.internal_errors = 0     # exceptions in the fuzzer's own threads
        self.known_raw = {}          # signature read from the dead server's log -> triaged signature

    def take(self):
        with self.lock:
            a = self.args
            if self.stop.is_set() or (a.count and self.sent >= a.count) or (a.seconds and time.time() - self.t0 >= a.seconds):
                return None
            self.sent += 1
            return self.sent

    def save(self, folder, prefix, wire, note):
        os.makedirs(folder, exist_ok=True)
        name = "%s-%s.http" % (prefix, hashlib.sha1(wire).hexdigest()[:12])
        path = os.path.join(folder, name)
        with self.lock:
            self.saved += 1
            if self.saved > 200:
                return path + " (not written: over 200 files this run)"
        with open(path, "wb") as f:
            f.write(wire)
        with open(path[:-5] + ".txt", "w") as f:
            f.write(note + "\n")
        return path


class Worker:
    """One client thread: its RNG, seeds, mutator, connection and the request in flight."""

    def __init__(self, run, index, images, model_info):
        self.run = run
        self.index = index
        self.rng = random.Random("%s:%d" % (run.args.seed, index))
        self.seeds = Seeds(self.rng, images, *model_info)
        self.mut = Mutator(self.rng, self.seeds, run.args.without)
        self.splice = []
        self.inflight = None
        self.conn = None

    def next_request(self):
        a, run, r = self.run.args, self.run, self.rng
        # The inference lane (thread 0) keeps inference near --inference-fraction of all inputs.
        if self.index == 0 and run.inference_sent < a.inference_fraction * max(run.sent, 1):
            self.seeds.decoy = False
            req = self.seeds.any()
            while req.kind == "get":
                req = self.seeds.any()
            c = r.random()
            if c < 0.3:
                self.mut.m_option(req) if req.path.startswith("/v1/") else self.mut.m_v2_inputs(req)
            elif c < 0.45:
                self.mut.m_bytes(req, self.splice)
            req.inference = True
            with run.lock:
                run.inference_sent += 1
            return req
        if r.random() < 0.03:
            self.seeds.decoy = False
            return self.seeds.post_decode()
        self.seeds.decoy = True
        req = self.seeds.any()
        if r.random() < 0.9:
            self.mut.mutate(req, self.splice, a.byte_rate)
        return req

    def loop(self):
        try:
            self._loop()
        except Exception:  # a bug in the fuzzer itself: stop the run and say so
            import traceback
            traceback.print_exc()
            with self.run.lock:
                self.run.internal_errors += 1
            self.run.stop.set()

    def _loop(self):
        run, a = self.run, self.run.args
        self.conn = Connection(run.port, a.timeout)
        while not run.down.is_set():
            n = run.take()
            if n is None:
                break
            req = self.next_request()
            wire = req.encode()
            if len(self.splice) < 64 and req.body is not None and self.rng.random() < 0.05:
                self.splice.append(req.body_bytes())
            self.inflight = (n, req, wire)
            try:
                resp = self.conn.exchange(wire, head_only=req.method == "HEAD",
                                          timeout=a.inference_timeout if req.inference else a.timeout)
            except socket.timeout:
                self.inflight = None
                if not run.server.alive():
                    self.inflight = (n, req, wire)
                    run.down.set()
                    break
                note = "no response within %s s (hang) to input #%d (%s)" % (a.timeout, n, req.kind)
                self.fail(wire, "hang", note)
                continue
            except (NoResponse, OSError) as e:
                time.sleep(0.05)
                if not run.server.alive() or not self._alive_after(0.5):
                    run.down.set()
                    break
                self.inflight = None
                self.fail(wire, "noresponse", "connection ended without a response (%s) to input #%d (%s); server alive" % (e, n, req.kind))
                continue
            self.inflight = None
            problem = oracle.check(req.method, req.target(), req.head_mutated or req.byte_mutated, resp)
            tmpl = oracle.route(oracle.decoded_path(req.target()))
            with run.lock:
                run.statuses[resp.status] += 1
                if resp.status == 200 and tmpl in INFER_TEMPLATES and req.method == "POST":
                    run.inference_200 += 1
            if problem:
                self.fail(wire, "status%d" % resp.status, "input #%d (%s): %s" % (n, req.kind, problem))
        self.conn.close()

    def _alive_after(self, seconds):
        time.sleep(seconds)
        return self.run.server.alive()

    def fail(self, wire, prefix, note):
        run = self.run
        with run.lock:
            run.failures += 1
        path = run.save(os.path.join(run.args.out, "failures"), prefix, wire, note)
        print("FAILURE: %s\n  saved %s\n  replay: python3 Fuzz/endpoints/fuzz_endpoints.py --replay %s" % (note, path, path), flush=True)
        if not run.args.keep_going:
            run.stop.set()


def health_check(server, seeds, timeout):
    """None, or what is wrong: /healthz and a known-good detect must answer 200 (503 retried)."""
    conn = Connection(server.port, timeout)
    try:
        r = conn.exchange(Req("GET", "/healthz").encode())
        if r.status != 200:
            return "/healthz answered %d" % r.status
        for _ in range(30):
            r = conn.exchange(seeds.known_good().encode(), timeout=120)
            if r.status != 503:
                break
            time.sleep(1)
        if r.status != 200 or oracle.check("POST", "/v1/detect", False, r):
            return "known-good detect answered %d: %r" % (r.status, r.body[:200])
        return None
    except (NoResponse, OSError, socket.timeout) as e:
        return "health check got no answer: %s" % e
    finally:
        conn.close()


def inference_count(server):
    """The server's own count of inference runs (sum of rcnn_inference_duration_seconds_count)."""
    try:
        conn = Connection(server.port, 30)
        body = conn.exchange(Req("GET", "/metrics").encode()).body.decode("utf-8", "replace")
        conn.close()
        return sum(int(float(v)) for v in re.findall(r"^rcnn_inference_duration_seconds_count\{[^}]*\} (\S+)", body, re.M))
    except (NoResponse, OSError, socket.timeout, ValueError):
        return None


def model_info(server):
    import json
    try:
        conn = Connection(server.port, 30)
        doc = json.loads(conn.exchange(Req("GET", "/v1/models").encode()).body)["models"][0]
        conn.close()
        return doc["name"], [c for c in doc["classes"] if c != "__background__"], doc["pipelines"]
    except Exception:  # the defaults in seeds.py serve
        return ("shapes_mask_rcnn", None, None)


def triage(run, candidates, make_server):
    """Replays each in-flight request of the crashed server alone, on a fresh server (restarted
    only after a crash); returns the confirmed (signature, saved path, input number) crashes."""
    a = run.args
    confirmed = []
    srv = None
    for n, req, wire in candidates:
        if srv is None:
            srv = make_server()
        try:
            Connection(srv.port, a.timeout).exchange(wire, head_only=req.method == "HEAD", timeout=a.inference_timeout)
        except (NoResponse, OSError, socket.timeout):
            pass
        time.sleep(0.3)
        if not srv.alive():
            srv.stop()
            sig = srv.crash_signature()
            note = "input #%d (%s) kills the server: %s\n--- server log ---\n%s" % (n, req.kind, sig, srv.crashed_thread(30))
            confirmed.append((sig, run.save(os.path.join(a.out, "crashes"), "crash", wire, note), n))
            srv = None
    if srv is not None:
        srv.stop()
    return confirmed


def fuzz(args):
    images = Images()
    log_dir = args.out
    os.makedirs(log_dir, exist_ok=True)
    for old in os.listdir(log_dir):  # the previous run's server logs
        if re.fullmatch(r"server-\d+\.log", old):
            os.remove(os.path.join(log_dir, old))
    starts = [0]

    def make_server():
        starts[0] += 1
        s = Server(args.binary, REPO, os.path.join(log_dir, "server-%d.log" % starts[0]))
        s.start()
        return s

    run = Run(args)
    try:
        run.server = make_server()
    except (ServerError, OSError) as e:
        print("fuzz-endpoints: cannot start the server: %s" % e, file=sys.stderr)
        return 2
    run.port = run.server.port
    info = model_info(run.server)
    check_seeds = Seeds(random.Random(0), images, *info)
    problem = health_check(run.server, check_seeds, args.timeout)
    if problem:
        print("fuzz-endpoints: the server is unhealthy before fuzzing: %s" % problem, file=sys.stderr)
        run.server.stop()
        return 2
    time.sleep(1.5)  # memory release after idle: the baseline is the trimmed, warmed-up server
    rss_warm = run.server.rss_kb()
    rss_peak = rss_warm or 0
    infer_base = inference_count(run.server) or 0
    workers = [Worker(run, i, images, info) for i in range(args.connections)]
    print("fuzz-endpoints: server pid %d port %d, %d connection(s), seed %s, warm RSS %.0f MiB"
          % (run.server.proc.pid, run.port, args.connections, args.seed, (rss_warm or 0) / 1024), flush=True)
    run.t0 = time.time()
    restarted = False
    last_check = 0
    last_report = time.time()
    while True:
        threads = [threading.Thread(target=w.loop, daemon=True) for w in workers]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(0.1)
            if not run.server.alive():
                run.down.set()
            rss = run.server.rss_kb() if run.server.alive() else None
            if rss:
                rss_peak = max(rss_peak, rss)
            if run.sent - last_check >= args.check_every and not run.down.is_set():
                last_check = run.sent
                problem = health_check(run.server, check_seeds, args.timeout)
                if problem:  # a server that is dying (the backtracer takes a second or two) is a crash
                    for _ in range(50):
                        if not run.server.alive():
                            break
                        time.sleep(0.1)
                if problem and run.server.alive():
                    with run.lock:
                        run.failures += 1
                    print("FAILURE: periodic health check after %d inputs: %s" % (run.sent, problem), flush=True)
                    if not args.keep_going:
                        run.stop.set()
            if time.time() - last_report > 10:
                last_report = time.time()
                el = last_report - run.t0
                print("  %d inputs, %.0f/s, %s" % (run.sent, run.sent / el, dict(sorted(run.statuses.items()))), flush=True)
        if not run.down.is_set():
            break
        # The server died: find which in-flight request did it.
        sig = run.server.crash_signature()
        at = run.sent
        candidates = [w.inflight for w in workers if w.inflight is not None]
        print("CRASH: the server %s after %d inputs (%s); %d request(s) in flight, replaying each"
              % (run.server.exit_description(), at, sig, len(candidates)), flush=True)
        run.server.stop()
        if sig in run.known_raw and args.keep_going:
            # The same dying words as a crash already triaged: count it, skip the replays.
            run.crashes.append((run.known_raw[sig], None))
            print("  known crash (same backtrace): %s" % run.known_raw[sig], flush=True)
            confirmed = []
        else:
            confirmed = triage(run, candidates, make_server)
            for s, _, _ in confirmed:
                run.known_raw[sig] = s
        if not confirmed and sig not in run.known_raw:
            paths = [run.save(os.path.join(args.out, "crashes"), "unconfirmed", c[2], "in flight when the server died (%s)" % sig) for c in candidates]
            confirmed = [(sig + " (not reproduced alone)", p, at) for p in paths]
        for s, p, n in confirmed:
            new = s not in run.signatures
            run.signatures.add(s)
            run.crashes.append((s, p))
            if new:
                run.first_crash_at[s] = at
            print("  %s crash: %s\n  saved %s\n  replay: python3 Fuzz/endpoints/fuzz_endpoints.py --replay %s%s"
                  % ("NEW" if new else "known", s, p, p, "" if args.binary == parser_default() else " --binary " + args.binary), flush=True)
        if not args.keep_going or run.stop.is_set() or (args.count and run.sent >= args.count):
            run.server = None
            break
        run.server = make_server()
        run.port = run.server.port
        for w in workers:
            w.inflight = None
        run.down.clear()
        restarted = True  # the dead server's counters are gone: no server-side inference count
        rss_warm = None  # and no comparable RSS baseline
    elapsed = time.time() - run.t0
    result = 0
    rss_end = None
    infer_server = None
    if run.server is not None and run.server.alive():
        problem = health_check(run.server, check_seeds, args.timeout)
        if problem:
            run.failures += 1
            print("FAILURE: final health check: %s" % problem)
        infer_server = None if restarted else (inference_count(run.server) or 0) - infer_base
        time.sleep(2.0)  # let the idle memory release run, as for the baseline
        rss_end = run.server.rss_kb()
        if rss_warm and rss_end and rss_end - rss_warm > args.rss_growth_mb * 1024:
            run.failures += 1
            print("FAILURE: RSS grew from %.0f MiB after warm-up to %.0f MiB after the run (bound: +%d MiB)"
                  % (rss_warm / 1024, rss_end / 1024, args.rss_growth_mb))
        run.server.stop()
    if run.failures or run.crashes:
        result = 1
    if run.internal_errors:
        print("fuzz-endpoints: %d client thread(s) stopped on an exception in the fuzzer (traceback above)" % run.internal_errors)
        result = 2
    mib = lambda kb: "%.0f" % (kb / 1024) if kb else "n/a"
    print("fuzz-endpoints: inputs=%d seconds=%.1f rate=%.0f/s statuses=%s inference_sent=%d inference_200=%d inference_server=%s "
          "failures=%d crashes=%d (distinct %d) rss_mib warm=%s end=%s peak=%s seed=%s connections=%d"
          % (run.sent, elapsed, run.sent / max(elapsed, 1e-9), dict(sorted(run.statuses.items())), run.inference_sent,
             run.inference_200, infer_server if infer_server is not None else "n/a", run.failures, len(run.crashes),
             len(run.signatures), mib(rss_warm), mib(rss_end), mib(rss_peak), args.seed, args.connections))
    for s in sorted(run.first_crash_at, key=run.first_crash_at.get):
        print("  crash first seen after %d inputs: %s" % (run.first_crash_at[s], s))
    return result


def replay(args):
    """Sends each saved request to a fresh server; reports the response and whether it survived."""
    bad = 0
    for path in args.replay:
        wire = open(path, "rb").read()
        srv = Server(args.binary, REPO, os.path.join(args.out, "server-replay.log"))
        try:
            srv.start()
        except (ServerError, OSError) as e:
            print("cannot start the server: %s" % e, file=sys.stderr)
            return 2
        first = wire.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        method, target = (first + ["", ""])[:2]
        try:
            resp = Connection(srv.port, args.timeout).exchange(wire, head_only=method == "HEAD", timeout=args.inference_timeout)
            problem = oracle.check(method, target, True, resp)
            print("%s: %d %s %r" % (path, resp.status, resp.headers.get("content-type", ""), resp.body[:300]))
        except (NoResponse, OSError, socket.timeout) as e:
            problem = "no response: %s" % e
        time.sleep(0.3)
        if not srv.alive():
            problem = "the server %s: %s\n%s" % (srv.exit_description(), srv.crash_signature(), srv.crashed_thread())
        print("  " + (problem or "ok: answered as expected, server alive"))
        bad += problem is not None
        srv.stop()
    return 1 if bad else 0


def parser_default():
    return os.path.join(REPO, ".build", "release", "rcnn")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=parser_default(), help="rcnn executable (default .build/release/rcnn)")
    ap.add_argument("--count", type=int, default=20000, help="inputs to send (0: no limit, use --seconds)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this many seconds (0: no limit)")
    ap.add_argument("--seed", default="1", help="RNG seed; thread i uses Random('SEED:i')")
    ap.add_argument("--connections", type=int, default=4, help="parallel keep-alive client threads")
    ap.add_argument("--inference-fraction", type=float, default=0.01, help="share of inputs sent as valid requests that run the model")
    ap.add_argument("--byte-rate", type=float, default=0.15, help="share of mutated inputs also given a byte-level body mutation")
    ap.add_argument("--check-every", type=int, default=5000, help="health check (healthz + known-good detect) every N inputs")
    ap.add_argument("--timeout", type=float, default=20, help="seconds a non-inference request may take before it counts as a hang")
    ap.add_argument("--inference-timeout", type=float, default=120, help="the same for requests meant to reach inference")
    ap.add_argument("--rss-growth-mb", type=int, default=400, help="fail if RSS after the run exceeds RSS after warm-up by more")
    ap.add_argument("--without", default="", help="comma-separated mutations to leave out (e.g. v2_shape,v2_binary_size "
                    "to fuzz past known crashes); names as in mutations.py without the m_ prefix")
    ap.add_argument("--keep-going", action="store_true", help="after a crash or failure, record it, restart and continue")
    ap.add_argument("--out", default=os.path.join(REPO, ".cache", "fuzz-endpoints"), help="crashes/, failures/ and server logs")
    ap.add_argument("--replay", nargs="+", metavar="FILE", help="send saved request(s) to a fresh server and check the answer")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        print("fuzz-endpoints: %s is not an executable (build with swift build -c release)" % args.binary, file=sys.stderr)
        return 2
    if args.replay:
        os.makedirs(args.out, exist_ok=True)
        return replay(args)
    return fuzz(args)


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so atexit stops the server
    sys.exit(main())
