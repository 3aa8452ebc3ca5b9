"""Starts and watches the real `rcnn serve` process for the endpoint fuzzer.

The server runs from the repository root (so Config/server.json and the default model are
found), on 127.0.0.1 with port 0, with the access log off; its standard error goes to a log file,
from which the bound port is read ("listening on 127.0.0.1:PORT"). Not thread-safe except
`alive()` and `rss_kb()`, which only read.
"""

import atexit
import os
import re
import signal
import subprocess
import time

from http_wire import Connection, NoResponse, Req


class ServerError(Exception):
    pass


_LIVE = set()


@atexit.register
def _stop_all():
    """Servers still running when the fuzzer exits (Ctrl-C, SIGTERM, an exception) are stopped."""
    for s in list(_LIVE):
        s.stop(timeout=5)


class Server:
    def __init__(self, binary, repo, log_path, extra_env=None):
        self.binary = os.path.abspath(binary)
        self.repo = repo
        self.log_path = log_path
        self.extra_env = extra_env or {}
        self.proc = None
        self.port = None

    def start(self, ready_timeout=180):
        env = dict(os.environ)
        env.update({"RCNN_ACCESS_LOG": "0", "RCNN_WARMUP_RUNS": "1"})
        env.update(self.extra_env)
        self.log = open(self.log_path, "wb")
        self.log_offset = 0
        self.proc = subprocess.Popen([self.binary, "serve", "--host", "127.0.0.1", "--port", "0"], cwd=self.repo, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        _LIVE.add(self)
        deadline = time.time() + ready_timeout
        while self.port is None or self.port == 0:
            if self.proc.poll() is not None:
                raise ServerError("the server exited with %s before listening:\n%s" % (self.proc.returncode, self.log_tail()))
            if time.time() > deadline:
                self.stop()
                raise ServerError("the server did not report its port within %d s" % ready_timeout)
            m = re.search(rb"listening on [^ ]*:(\d+)", open(self.log_path, "rb").read())
            if m:
                self.port = int(m.group(1))
                break
            time.sleep(0.05)
        conn = Connection(self.port, 10)
        while True:
            if self.proc.poll() is not None:
                raise ServerError("the server exited with %s while warming up:\n%s" % (self.proc.returncode, self.log_tail()))
            if time.time() > deadline:
                self.stop()
                raise ServerError("/readyz did not answer 200 within %d s" % ready_timeout)
            try:
                if conn.exchange(Req("GET", "/readyz").encode()).status == 200:
                    break
            except (NoResponse, OSError):
                conn.close()
            time.sleep(0.1)
        conn.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_description(self):
        rc = self.proc.poll() if self.proc else None
        if rc is None:
            return "running"
        if rc < 0:
            try:
                return "killed by %s" % signal.Signals(-rc).name
            except ValueError:
                return "killed by signal %d" % -rc
        return "exited with status %d" % rc

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            pass
        return None

    def log_tail(self, lines=30):
        try:
            text = open(self.log_path, "rb").read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def crash_signature(self):
        """A short key for the crash: the Swift runtime's fatal error line, or the backtracer's
        reason plus the crashed thread's first frame in the repository's sources (function and
        file:line, without addresses), else how the process ended."""
        text = self.log_tail(3000)
        m = re.search(r"(Fatal error: [^\n]*)", text)
        if m:
            return m.group(1)[:200]
        reason = re.search(r"Program crashed: (.*?) at 0x[0-9a-f]+", text)
        frame = None
        crashed = re.split(r"Thread \d+(?: \"[^\"]*\")? crashed:", text, maxsplit=1)
        if len(crashed) == 2:
            for line in crashed[1].splitlines():
                f = re.search(r"0x[0-9a-f]+ (.*?)(?: \+ \d+)? in \S+ at (?:\S*/)?(Sources/\S+)", line)
                if f:
                    frame = "%s (%s)" % (f.group(1), f.group(2))
                    break
                if line.startswith("Thread "):
                    break
        if reason:
            return "%s in %s" % (reason.group(1), frame or "unknown frame")
        return self.exit_description()

    def crashed_thread(self, lines=14):
        """The backtracer's frames of the crashed thread (or the log's last lines)."""
        text = self.log_tail(3000)
        parts = re.split(r"(Thread \d+(?: \"[^\"]*\")? crashed:)", text, maxsplit=1)
        if len(parts) < 3:
            return self.log_tail(lines)
        body = [l for l in parts[2].splitlines() if l.strip()]
        return "\n".join([parts[1]] + body[:lines])

    def stop(self, timeout=10):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.port = None
        _LIVE.discard(self)
