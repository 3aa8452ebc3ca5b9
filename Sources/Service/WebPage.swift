import HTTP

/// The web page served at `GET /`: pick or drop an image, choose model, pipeline and score
/// threshold, and see the boxes, labels, translucent masks and (keypoint models) poses drawn over it, with a table of the
/// detections and the per-stage timings.
///
/// One self-contained document (inline CSS and JavaScript, no external scripts, fonts or images)
/// that talks only to this server: `GET /v1/models`, then `POST /v1/models/{name}/detect` with
/// `masks=rle`; the masks' COCO compressed RLE is decoded in the page. An optional API key field
/// sends `Authorization: Bearer` on those calls.
enum WebPage {
    static var response: HTTPResponse {
        var r = HTTPResponse(status: 200, body: Array(html.utf8))
        r.headers.replaceOrAdd(name: "Content-Type", value: "text/html; charset=utf-8")
        r.headers.replaceOrAdd(name: "Content-Security-Policy", value: "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:")
        return r
    }

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rcnn: object detection</title>
<style>
  :root { --fg: #1d2430; --muted: #5c6675; --line: #d9dee6; --accent: #2f6fde; --bg: #f6f8fb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { padding: 14px 22px; background: #fff; border-bottom: 1px solid var(--line); display: flex; align-items: baseline; gap: 14px; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: var(--muted); }
  main { display: grid; grid-template-columns: 320px 1fr; gap: 18px; padding: 18px 22px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px; }
  label { display: block; margin: 10px 0 4px; font-weight: 600; }
  select, input[type=text], input[type=password] { width: 100%; padding: 6px 8px; border: 1px solid var(--line); border-radius: 5px; font: inherit; }
  input[type=range] { width: 100%; }
  #drop { border: 2px dashed var(--line); border-radius: 8px; padding: 22px 10px; text-align: center; color: var(--muted); cursor: pointer; }
  #drop.over { border-color: var(--accent); background: #eef4ff; }
  button { margin-top: 14px; width: 100%; padding: 9px; border: 0; border-radius: 6px; background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
  button:disabled { background: #9fb4da; cursor: default; }
  #status { margin-top: 10px; color: var(--muted); min-height: 1.4em; white-space: pre-wrap; }
  #status.error { color: #b3261e; }
  #view { width: 100%; max-width: 720px; height: auto; display: block; border-radius: 6px; background: #eef0f3; }
  table { border-collapse: collapse; width: 100%; margin-top: 12px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
  th { color: var(--muted); font-weight: 600; }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
  .cols { display: grid; grid-template-columns: 2fr 1fr; gap: 18px; }
  @media (max-width: 900px) { main, .cols { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header><h1>rcnn</h1><span>R-CNN family object detection</span></header>
<main>
  <section>
    <div id="drop" tabindex="0">Drop an image here<br>or click to choose one<input id="file" type="file" accept="image/jpeg,image/png" hidden></div>
    <label for="model">Model</label>
    <select id="model"></select>
    <label for="pipeline">Pipeline</label>
    <select id="pipeline"></select>
    <label for="threshold">Score threshold: <output id="thresholdValue">0.50</output></label>
    <input id="threshold" type="range" min="0" max="1" step="0.01" value="0.5">
    <label for="slice">Large images</label>
    <select id="slice">
      <option value="auto">Slice if large (auto)</option>
      <option value="off">Whole image</option>
      <option value="on">Always slice</option>
    </select>
    <label for="apikey">API key (only if the server needs one)</label>
    <input id="apikey" type="password" autocomplete="off" placeholder="none">
    <button id="run" disabled>Detect</button>
    <div id="status">Loading models...</div>
  </section>
  <section>
    <canvas id="view" width="640" height="360"></canvas>
    <div class="cols">
      <div><table id="detections"><thead><tr><th>#</th><th>label</th><th>score</th><th>box [x1, y1, x2, y2]</th><th>mask px</th><th>keypoints</th></tr></thead><tbody></tbody></table></div>
      <div><table id="timings"><thead><tr><th>stage</th><th>ms</th></tr></thead><tbody></tbody></table></div>
    </div>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const palette = [[230, 57, 70], [42, 157, 143], [69, 123, 157], [244, 162, 97], [131, 56, 236], [255, 190, 11], [58, 134, 255], [251, 86, 7], [6, 214, 160], [239, 71, 111]];
let models = [], file = null, image = null, lastDoc = null;

function setStatus(text, isError) { $("status").textContent = text; $("status").className = isError ? "error" : ""; }
function headers(extra) {
  const h = Object.assign({}, extra || {});
  const key = $("apikey").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}
async function errorText(resp) {
  try { const j = await resp.json(); return (j.error && (j.error.message || j.error)) || resp.statusText; } catch (e) { return resp.statusText; }
}

async function loadModels() {
  try {
    const resp = await fetch("/v1/models", { headers: headers() });
    if (!resp.ok) throw new Error(resp.status + " " + await errorText(resp));
    models = (await resp.json()).models;
    $("model").innerHTML = "";
    for (const m of models) $("model").add(new Option(m.name + " (" + m.architecture + ")", m.name));
    fillPipelines();
    setStatus(models.length + " model(s). Choose an image.");
  } catch (e) { setStatus("Could not list models: " + e.message, true); }
  updateButton();
}
function fillPipelines() {
  const m = models.find((x) => x.name === $("model").value);
  $("pipeline").innerHTML = "";
  for (const p of (m ? m.pipelines : [])) $("pipeline").add(new Option(p === "mask" ? "Mask R-CNN (boxes + masks)" : p === "faster" ? "Faster R-CNN (boxes)" : p === "fast" ? "Fast R-CNN (selective search)" : p === "rcnn" ? "R-CNN (selective search, slow)" : p, p));
}
function updateButton() { $("run").disabled = !(file && models.length); }

function chooseFile(f) {
  if (!f) return;
  file = f;
  const url = URL.createObjectURL(f);
  const img = new Image();
  img.onload = () => { image = img; lastDoc = null; draw(); setStatus(f.name + ": " + img.naturalWidth + " x " + img.naturalHeight + ". Press Detect."); };
  img.onerror = () => setStatus("The browser cannot show this file; the server may still decode it.", true);
  img.src = url;
  updateButton();
}

// COCO compressed RLE (pycocotools rleFrString): 6-bit chunks from char code - 48, 5 data bits each,
// bit 0x20 = more chunks, sign from bit 0x10 of the last; from the third count on, a delta.
function rleCounts(s) {
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let x = 0, k = 0, more = 1;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++; k++;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}
// Runs alternate 0s and 1s over the pixels in column-major order; returns a row-major 0/1 array.
function decodeMask(mask) {
  const h = mask.size[0], w = mask.size[1], out = new Uint8Array(h * w), counts = rleCounts(mask.counts);
  let i = 0, v = 0;
  for (const n of counts) {
    if (v) for (let j = i; j < i + n; j++) out[(j % h) * w + Math.floor(j / h)] = 1;
    i += n; v ^= 1;
  }
  return out;
}

function draw() {
  const c = $("view"), ctx = c.getContext("2d");
  if (!image) return;
  c.width = image.naturalWidth; c.height = image.naturalHeight;
  ctx.drawImage(image, 0, 0);
  const dets = lastDoc ? lastDoc.detections : [];
  const masked = dets.filter((d) => d.mask && d.mask.counts);
  if (masked.length) {
    const data = ctx.getImageData(0, 0, c.width, c.height);
    for (const d of masked) {
      if (d.mask.size[0] !== c.height || d.mask.size[1] !== c.width) continue;
      const m = decodeMask(d.mask), col = palette[d.class_id % palette.length];
      d.maskPixels = 0;
      for (let p = 0; p < m.length; p++) {
        if (!m[p]) continue;
        d.maskPixels++;
        const o = p * 4;
        for (let k = 0; k < 3; k++) data.data[o + k] = Math.round(data.data[o + k] * 0.55 + col[k] * 0.45);
      }
    }
    ctx.putImageData(data, 0, 0);
  }
  const lw = Math.max(2, Math.round(c.width / 320));
  ctx.font = "bold " + Math.max(12, Math.round(c.width / 45)) + "px system-ui, sans-serif";
  ctx.textBaseline = "top";
  for (const d of dets) {
    const [x1, y1, x2, y2] = d.box, col = "rgb(" + palette[d.class_id % palette.length].join(",") + ")";
    ctx.lineWidth = lw; ctx.strokeStyle = col; ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = d.label + " " + d.score.toFixed(2), tw = ctx.measureText(text).width + 8, th = parseInt(ctx.font.split(" ")[1]) + 6;
    const ty = y1 - th >= 0 ? y1 - th : y1;
    ctx.fillStyle = col; ctx.fillRect(x1, ty, tw, th);
    ctx.fillStyle = "#fff"; ctx.fillText(text, x1 + 4, ty + 3);
  }
  // Poses (keypoint models): the skeleton between keypoints scoring above 0, then the keypoints.
  const model = models.find((x) => x.name === (lastDoc ? lastDoc.model : "")), skeleton = (model && model.skeleton) || [];
  for (const d of dets) {
    if (!d.keypoints) continue;
    const col = "rgb(" + palette[d.class_id % palette.length].join(",") + ")", shown = d.keypoints.map((k) => k[2] > 0);
    ctx.lineWidth = lw; ctx.strokeStyle = col;
    for (const [a, b] of skeleton) {
      if (!shown[a] || !shown[b]) continue;
      ctx.beginPath(); ctx.moveTo(d.keypoints[a][0], d.keypoints[a][1]); ctx.lineTo(d.keypoints[b][0], d.keypoints[b][1]); ctx.stroke();
    }
    d.keypointsShown = 0;
    d.keypoints.forEach((k, i) => {
      if (!shown[i]) return;
      d.keypointsShown++;
      ctx.beginPath(); ctx.arc(k[0], k[1], lw + 2, 0, 2 * Math.PI);
      ctx.fillStyle = "#fff"; ctx.fill();
      ctx.beginPath(); ctx.arc(k[0], k[1], lw + 1, 0, 2 * Math.PI);
      ctx.fillStyle = col; ctx.fill();
    });
  }
  fillTables();
}

function fillTables() {
  const body = $("detections").tBodies[0], tbody = $("timings").tBodies[0];
  body.innerHTML = ""; tbody.innerHTML = "";
  if (!lastDoc) return;
  lastDoc.detections.forEach((d, i) => {
    const r = body.insertRow(), col = "rgb(" + palette[d.class_id % palette.length].join(",") + ")";
    r.insertCell().textContent = i + 1;
    const l = r.insertCell(), sw = document.createElement("span");
    sw.className = "swatch"; sw.style.background = col; l.append(sw, d.label);
    r.insertCell().textContent = d.score.toFixed(3);
    r.insertCell().textContent = "[" + d.box.map((v) => v.toFixed(1)).join(", ") + "]";
    r.insertCell().textContent = d.maskPixels === undefined ? "" : d.maskPixels;
    r.insertCell().textContent = d.keypoints ? d.keypointsShown + "/" + d.keypoints.length : "";
  });
  for (const [stage, ms] of Object.entries(lastDoc.timings_ms)) {
    const r = tbody.insertRow();
    r.insertCell().textContent = stage;
    r.insertCell().textContent = ms.toFixed(1);
  }
}

async function detect() {
  if (!file) return;
  $("run").disabled = true;
  setStatus("Detecting...");
  const q = new URLSearchParams({ score_threshold: $("threshold").value, pipeline: $("pipeline").value, masks: "rle", slice: $("slice").value });
  const started = performance.now();
  try {
    const resp = await fetch("/v1/models/" + encodeURIComponent($("model").value) + "/detect?" + q, {
      method: "POST", headers: headers({ "Content-Type": file.type || "application/octet-stream" }), body: file,
    });
    if (!resp.ok) throw new Error(resp.status + " " + await errorText(resp));
    lastDoc = await resp.json();
    draw();
    setStatus(lastDoc.detections.length + " detection(s) by " + lastDoc.model + " (" + lastDoc.pipeline +
              (lastDoc.slicing ? ", " + lastDoc.slicing.tiles + " tiles" : "") + ") in " +
              (performance.now() - started).toFixed(0) + " ms round trip.");
    document.body.dataset.detections = String(lastDoc.detections.length);
  } catch (e) {
    setStatus("Detection failed: " + e.message, true);
  }
  updateButton();
}

$("drop").addEventListener("click", () => $("file").click());
$("drop").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
$("file").addEventListener("change", (e) => chooseFile(e.target.files[0]));
for (const ev of ["dragenter", "dragover"]) $("drop").addEventListener(ev, (e) => { e.preventDefault(); $("drop").classList.add("over"); });
for (const ev of ["dragleave", "drop"]) $("drop").addEventListener(ev, (e) => { e.preventDefault(); $("drop").classList.remove("over"); });
$("drop").addEventListener("drop", (e) => chooseFile(e.dataTransfer.files[0]));
$("model").addEventListener("change", fillPipelines);
$("threshold").addEventListener("input", () => { $("thresholdValue").textContent = Number($("threshold").value).toFixed(2); });
$("apikey").addEventListener("change", loadModels);
$("run").addEventListener("click", detect);
loadModels();
</script>
</body>
</html>
"""#
}
