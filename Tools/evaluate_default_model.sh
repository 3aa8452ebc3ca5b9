#!/usr/bin/env bash
# Measures the embedded default model on the generator's held-out split (500 images, seed 2) with
# the Swift engine (`rcnn eval`), then scores the same detections with pycocotools, prints both,
# and exits 1 if any number (12 bbox, 12 segm, 10 keypoints) differs by more than 1e-6.
#
#   bash Tools/evaluate_default_model.sh            # needs a release build: swift build -c release
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=.cache/shapes
OUT=.cache/eval
mkdir -p "$OUT"
if [ ! -f "$DATA/val/instances.json" ]; then
    .venv/bin/python Tools/make_shapes_dataset.py --out "$DATA" --split val --count 500 --seed 2
fi
.build/release/rcnn eval --config Config/models/shapes_mask_rcnn.json \
    --annotations "$DATA/val/instances.json" --images "$DATA/val/images" \
    --output "$OUT/results.json" --json | tee "$OUT/rcnn_eval.json"
SIGMAS=$(.venv/bin/python -c 'import json; s = json.load(open("Config/models/shapes_mask_rcnn.json")).get("keypoint_sigmas"); print(",".join(map(repr, s)) if s else "")')
KEYPOINTS=()
if [ -n "$SIGMAS" ]; then KEYPOINTS=(--keypoints --keypoint-sigmas "$SIGMAS"); fi
.venv/bin/python Tools/coco_eval_reference.py --annotations "$DATA/val/instances.json" \
    --results "$OUT/results.json" --segm "${KEYPOINTS[@]}" | tee "$OUT/pycocotools.json"
# Both sides are compared at full precision: `rcnn eval --json` writes Swift doubles (shortest
# round-trip form) and coco_eval_reference.py prints pycocotools' `stats` array via json.dumps, not
# its 3-decimal summary. Tolerance 1e-6 (the same as ParityTests.EvalAgreementTests): the two
# implementations do the same double-precision arithmetic and differ only in summation order
# (~1e-15), while any real disagreement (one detection matched differently, one tie broken the
# other way) moves an AP or AR by at least 1/(ground-truth objects) ~ 1e-4 on 500 images.
# Exits 1 when any number differs by more, or when either side lacks one.
.venv/bin/python - "$OUT/rcnn_eval.json" "$OUT/pycocotools.json" <<'PY'
import json, sys
TOLERANCE = 1e-6
ours, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
NAMES = {"bbox": ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"],
         "keypoints": ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]}
NAMES["segm"] = NAMES["bbox"]
worst, bad = 0.0, []
for t in ("bbox", "segm") + (("keypoints",) if "keypoints" in ref or "keypoints" in ours else ()):
    names = NAMES[t]
    print(f"{t:10s}" + "".join(f"{n:>8s}" for n in names))
    if t not in ours or t not in ref or len(ref[t]) != len(names) or set(ours[t]) != set(names):
        bad.append(f"{t}: missing numbers (rcnn eval {sorted(ours.get(t, {}))}, pycocotools {ref.get(t)})")
        continue
    print(f"{'':10s}" + "".join(f"{ours[t][n]:8.3f}" for n in names))
    for n, v in zip(names, ref[t]):
        d = abs(ours[t][n] - v)
        worst = max(worst, d)
        if not d <= TOLERANCE:
            bad.append(f"{t} {n}: rcnn eval {ours[t][n]!r}, pycocotools {v!r} (difference {d:.2e})")
print(f"largest difference rcnn eval vs pycocotools: {worst:.2e} (tolerance {TOLERANCE:.0e})")
if bad:
    print("rcnn eval and pycocotools disagree:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
