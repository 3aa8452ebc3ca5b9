#!/usr/bin/env python3
"""Drives the web page at / in headless Chromium, the way a person would use it.

Chromium is controlled over the DevTools protocol through --remote-debugging-pipe (file
descriptors 3 and 4, NUL-terminated JSON), so nothing beyond the Python standard library is needed.
The script opens the page from a running server, waits for the model list, hands the page a sample
image (as a File, the same object a file picker or a drop gives), sets the score threshold, presses
Detect, and then checks what the page shows: the detections table has as many rows as the server's
own answer for the same request, the canvas differs from the plain image where the boxes and masks
are drawn, and the timings table lists the stages. It saves a screenshot and prints a JSON summary;
the exit status is 0 only when every check passed.

Usage: browser_check.py --base http://127.0.0.1:PORT --image Samples/x.jpg --screenshot out.png
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request


class Chromium:
    def __init__(self, exe):
        self.profile = tempfile.mkdtemp(prefix="rcnn-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes replies on fd 4. Copy both ends out of the way
        # first (the pipes may themselves be fds 3 and 4); dup2 leaves the copies inheritable, and
        # every other pipe end is close-on-exec.
        def child_fds():
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--user-data-dir=" + self.profile, "--window-size=1280,900", "about:blank"],
            preexec_fn=child_fds, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.buffer = b""

    def send(self, method, params=None, session=None, timeout=120):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" not in self.buffer:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
        raise TimeoutError(method)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--threshold", default="0.3")
    ap.add_argument("--slice", default="auto", help="the page's 'Large images' choice: auto (its default), off, on")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = ap.parse_args()
    raw = open(args.image, "rb").read()

    chrome = Chromium(args.chromium)
    summary = {"checks": {}}
    try:
        target = chrome.send("Target.createTarget", {"url": args.base + "/"})["targetId"]
        session = chrome.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

        def js(expr, await_promise=False):
            r = chrome.send("Runtime.evaluate", {"expression": expr, "awaitPromise": await_promise, "returnByValue": True}, session)
            if "exceptionDetails" in r:
                raise RuntimeError(f"page error in {expr[:60]}...: {r['exceptionDetails']}")
            return r["result"].get("value")

        def wait_for(expr, what, timeout=60):
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    if js(expr):
                        return
                except RuntimeError:
                    pass
                time.sleep(0.2)
            raise TimeoutError(what + ": " + str(js("document.getElementById('status') && document.getElementById('status').textContent")))

        wait_for("document.getElementById('model') && document.getElementById('model').options.length > 0", "model list")
        model = js("document.getElementById('model').value")
        pipeline = js("document.getElementById('pipeline').value")
        # The page gets a File, exactly what the picker or a drop would give it.
        js("(() => { const b = atob('%s'); const a = new Uint8Array(b.length); for (let i = 0; i < b.length; i++) a[i] = b.charCodeAt(i);"
           " const f = new File([a], 'sample.jpg', {type: 'image/jpeg'}); chooseFile(f);"
           " const t = document.getElementById('threshold'); t.value = '%s'; t.dispatchEvent(new Event('input'));"
           " document.getElementById('slice').value = '%s'; })()"
           % (base64.b64encode(raw).decode(), args.threshold, args.slice))
        wait_for("image !== null && !document.getElementById('run').disabled", "image loaded")
        js("document.getElementById('run').click()")
        wait_for("document.body.dataset.detections !== undefined || document.getElementById('status').className === 'error'", "detections", timeout=180)
        page = js("""(() => {
            const c = document.getElementById('view'), ctx = c.getContext('2d');
            const drawn = ctx.getImageData(0, 0, c.width, c.height).data;
            const plain = document.createElement('canvas'); plain.width = c.width; plain.height = c.height;
            const p = plain.getContext('2d'); p.drawImage(image, 0, 0);
            const orig = p.getImageData(0, 0, c.width, c.height).data;
            let changed = 0;
            for (let i = 0; i < drawn.length; i += 4) if (drawn[i] !== orig[i] || drawn[i+1] !== orig[i+1] || drawn[i+2] !== orig[i+2]) changed++;
            const rows = [...document.querySelectorAll('#detections tbody tr')].map(r => [...r.cells].map(c => c.textContent));
            const stages = [...document.querySelectorAll('#timings tbody tr')].map(r => r.cells[0].textContent);
            return {status: document.getElementById('status').textContent, error: document.getElementById('status').className === 'error',
                    detections: Number(document.body.dataset.detections), rows: rows, stages: stages,
                    canvas: [c.width, c.height], changedPixels: changed};
        })()""")
        shot = chrome.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

        # The server's own answer for the same request.
        req = urllib.request.Request(
            f"{args.base}/v1/models/{model}/detect?score_threshold={args.threshold}&pipeline={pipeline}&masks=rle&slice={args.slice}",
            data=raw, headers={"Content-Type": "image/jpeg"})
        expected = json.loads(urllib.request.urlopen(req, timeout=180).read())
        n = len(expected["detections"])

        checks = summary["checks"]
        checks["no_error"] = not page["error"]
        checks["has_detections"] = n > 0
        checks["table_rows_match_server"] = len(page["rows"]) == n == page["detections"]
        checks["labels_match_server"] = [r[1] for r in page["rows"]] == [d["label"] for d in expected["detections"]]
        checks["scores_match_server"] = [r[2] for r in page["rows"]] == ["%.3f" % d["score"] for d in expected["detections"]]
        checks["mask_pixels_shown"] = pipeline != "mask" or all(r[4] not in ("", "0") for r in page["rows"])
        # Keypoint models: the table counts the keypoints shown (score above 0) out of all of them.
        checks["keypoints_shown"] = all(
            r[5] == (f"{sum(1 for k in d['keypoints'] if k[2] > 0)}/{len(d['keypoints'])}" if d.get("keypoints") else "")
            for r, d in zip(page["rows"], expected["detections"]))
        checks["canvas_has_drawing"] = page["changedPixels"] > 100
        checks["canvas_is_image_size"] = page["canvas"] == [expected["image"]["width"], expected["image"]["height"]]
        checks["timings_listed"] = "backbone" in page["stages"] and "total" in page["stages"]
        # A sliced answer says so in the status line, with the server's tile count.
        checks["slicing_shown"] = ("slicing" in expected) == ("tiles" in page["status"]) and (
            "slicing" not in expected or f"{expected['slicing']['tiles']} tiles" in page["status"])
        summary.update({"model": model, "pipeline": pipeline, "server_detections": n, "sliced": "slicing" in expected, "page": {k: page[k] for k in ("status", "detections", "stages", "canvas", "changedPixels")},
                        "rows": page["rows"][:5], "screenshot": args.screenshot})
    finally:
        chrome.close()
    summary["ok"] = all(summary["checks"].values()) and bool(summary["checks"])
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
