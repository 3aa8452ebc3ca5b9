#!/usr/bin/env bash
# Measures the embedded default model on the generator's held-out split (500 images, seed 2) with
# the Swift engine (`rcnn eval`), then scores the same detections with pycocotools, prints both,
# and exits 1 if any of the 24 numbers differs by more than 1e-6.
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
.venv/bin/python Tools/coco_eval_reference.py --annotations "$DATA/val/instances.json" \
    --results "$OUT/results.json" --segm | tee "$OUT/pycocotools.json"
# Both sides are compared at full precision: `rcnn eval --json` writes Swift doubles (shortest
# round-trip form) and coco_eval_reference.py prints pycocotools' `stats` array via json.dumps, not
# its 3-decimal summary. Tolerance 1e-6 (the same as ParityTests.EvalAgreementTests): the two
# implementations do the same double-precision arithmetic and differ only in summation order
# (~1e-15), while any real disagreement (one detection matched differently, one tie broken the
# other way) moves an AP or AR by at least 1/(ground-truth objects) ~ 1e-4 on 500 images.
# Exits 1 when any of the 24 numbers differs by more, or when either side lacks one.
.venv/bin/python - "$OUT/rcnn_eval.json" "$OUT/pycocotools.json" <<'PY'
import json, sys
TOLERANCE = 1e-6
ours, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
print(f"{'':6s}" + "".join(f"{n:>8s}" for n in names))
worst, bad = 0.0, []
for t in ("bbox", "segm"):
    if t not in ours or t not in ref or len(ref[t]) != len(names) or set(ours[t]) != set(names):
        bad.append(f"{t}: missing numbers (rcnn eval {sorted(ours.get(t, {}))}, pycocotools {ref.get(t)})")
        continue
    print(f"{t:6s}" + "".join(f"{ours[t][n]:8.3f}" for n in names))
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
