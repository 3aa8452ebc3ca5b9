"""What the hostile-client scripts (hostile_clients.py, flood.py) share: the check reporter and the
server's resident memory. Standard library only; imported from the scripts' own folder."""

FAILURES = []


def check(ok, name, detail=""):
    """Prints one `ok`/`FAIL` line and records a failure; returns `ok`."""
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILURES.append(f"{name}: {detail}")
    return ok


def rss_mb(pid):
    """The process's resident memory in MB (VmRSS), NaN when /proc does not say."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
