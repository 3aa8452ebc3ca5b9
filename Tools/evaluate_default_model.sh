#!/usr/bin/env bash
# Measures the embedded default model on the generator's held-out split (500 images, seed 2) with
# the Swift engine (`rcnn eval`), then scores the same detections with pycocotools, and prints both.
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
.venv/bin/python - "$OUT/rcnn_eval.json" "$OUT/pycocotools.json" <<'PY'
import json, sys
ours, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
print(f"{'':6s}" + "".join(f"{n:>8s}" for n in names))
worst = 0.0
for t in ("bbox", "segm"):
    print(f"{t:6s}" + "".join(f"{ours[t][n]:8.3f}" for n in names))
    worst = max(worst, max(abs(ours[t][n] - v) for n, v in zip(names, ref[t])))
print(f"largest difference rcnn eval vs pycocotools: {worst:.2e}")
PY
