#!/usr/bin/env python3
"""pycocotools' COCOeval on a COCO annotations file and a results file; prints the stats for each
IoU type as JSON: {"bbox": [...12], "segm": [...12], "keypoints": [...10]}.

    .venv/bin/python Tools/coco_eval_reference.py --annotations instances.json --results results.json [--segm] [--keypoints]
    .venv/bin/python Tools/coco_eval_reference.py --keypoint-fixtures OUT_DIR [--seed N]

The second form writes the reference fixtures of the Swift keypoint evaluation tests
(Tests/COCOTests/COCOKeypointEvalTests.swift), seeded and deterministic:
  OUT_DIR/scenarios.json            the scenario names
  OUT_DIR/NAME/gt.json              a random ground truth with keypoints (crowd regions, people with
                                    no labelled keypoints, num_keypoints 0, several categories with
                                    different keypoint counts and sigmas)
  OUT_DIR/NAME/dt.json              random keypoint detections in COCO results format
  OUT_DIR/NAME/expected.json        the sigmas used per category; COCOeval's 10 stats, precision,
                                    recall and summary; computeOks' matrix for every image and
                                    category; counts that show the scenario is not vacuous.
pycocotools has one hard-coded sigma list (COCO's 17 person keypoints); categories with other
keypoints are evaluated by a COCOeval whose computeOks swaps in that category's sigmas, and
nothing else of pycocotools is changed.
"""
import argparse
import contextlib
import io
import json
import os

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def evaluate_files(args):
    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(args.annotations)
        results = json.load(open(args.results))
        iou_types = ["bbox"] + (["segm"] if args.segm else []) + (["keypoints"] if args.keypoints else [])
        for iou_type in iou_types:
            res = [dict(r) for r in results]
            if iou_type == "bbox":
                for r in res:
                    r.pop("segmentation", None)
            if iou_type == "keypoints":
                # Keypoint results as torchvision's reference writes them: no box or mask, so
                # loadRes takes a detection's area from its keypoints' extent.
                res = [{k: v for k, v in r.items() if k not in ("bbox", "segmentation")} for r in res if "keypoints" in r]
            dt = gt.loadRes(res) if res else COCO()
            e = COCOeval(gt, dt, iou_type)
            if iou_type == "keypoints" and args.keypoint_sigmas:
                e.params.kpt_oks_sigmas = np.array([float(v) for v in args.keypoint_sigmas.split(",")])
            if args.image_ids:
                e.params.imgIds = [int(i) for i in args.image_ids.split(",")]
            e.evaluate()
            e.accumulate()
            e.summarize()
            out[iou_type] = [float(v) for v in e.stats]
    print(json.dumps(out))


# ---------------------------------------------------------------- keypoint fixtures

PERSON_KEYPOINTS = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
PERSON_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7],
                   [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5],
                   [4, 6], [5, 7]]
# id -> (name, keypoint names, skeleton, sigmas or None for pycocotools' default).
CATEGORIES = {
    1: ("person", PERSON_KEYPOINTS, PERSON_SKELETON, None),
    2: ("hand", ["wrist", "thumb", "index", "middle", "little"], [[1, 2], [1, 3], [1, 4], [1, 5]],
        [0.025, 0.035, 0.035, 0.03, 0.045]),
    3: ("quadruped", ["head", "tail", "left_paw", "right_paw"], [[1, 2], [2, 3], [2, 4]],
        [0.05, 0.08, 0.06, 0.07]),
}


class PerCategorySigmasEval(COCOeval):
    """COCOeval('keypoints') with a category's own sigmas in computeOks."""

    def __init__(self, gt, dt, sigmas):
        super().__init__(gt, dt, 'keypoints')
        self.default_sigmas = self.params.kpt_oks_sigmas
        self.sigmas = sigmas

    def computeOks(self, imgId, catId):
        given = self.sigmas.get(catId)
        self.params.kpt_oks_sigmas = self.default_sigmas if given is None else np.array(given)
        return super().computeOks(imgId, catId)


def make_gt(rng, ann_id, img, cat, kpt_count, crowd, zero_visible, inconsistent):
    w_img, h_img = img['width'], img['height']
    size = float(np.exp(rng.uniform(np.log(12), np.log(300))))
    w = min(size * rng.uniform(0.6, 1.4), w_img - 1)
    h = min(size * rng.uniform(0.6, 1.4), h_img - 1)
    x, y = rng.uniform(0, w_img - w), rng.uniform(0, h_img - h)
    kps = []
    mode = 'none' if rng.random() < zero_visible else ('all' if rng.random() < 0.5 else 'partial')
    for _ in range(kpt_count):
        v = 0 if mode == 'none' else int(rng.integers(1, 3) if mode == 'all' else rng.integers(0, 3))
        if v == 0 and rng.random() < 0.7:
            kps += [0, 0, 0]  # COCO writes unlabelled keypoints as zeros
        else:
            kps += [round(x + rng.uniform(0, w), 2), round(y + rng.uniform(0, h), 2), v]
    is_crowd = rng.random() < crowd
    labelled = sum(1 for v in kps[2::3] if v > 0)
    num = 0 if is_crowd and rng.random() < 0.7 else labelled
    if rng.random() < inconsistent:  # the field, not the flags, decides whether it is ignored
        num = int(rng.integers(1, 4)) if num == 0 else 0
    return {'id': ann_id, 'image_id': img['id'], 'category_id': cat, 'iscrowd': int(is_crowd),
            'bbox': [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
            'area': round(w * h * rng.uniform(0.5, 0.95), 2), 'keypoints': kps, 'num_keypoints': num}


def sigmas_of(cat):
    given = CATEGORIES[cat][3]
    return given if given is not None else (np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62,
                                                       1.07, 1.07, .87, .87, .89, .89]) / 10.0).tolist()


def det_near(rng, gt, spread, with_box):
    """A detection around a ground truth; `spread` scales the error in units of the OKS scale."""
    cat = gt['category_id']
    sig = sigmas_of(cat)
    scale = np.sqrt(max(gt['area'], 1.0))
    x, y, w, h = gt['bbox']
    kps = []
    for k, s in enumerate(sig):
        gx, gy, v = gt['keypoints'][3 * k:3 * k + 3]
        if v > 0:
            px = gx + rng.normal(0, spread * s * 2 * scale)
            py = gy + rng.normal(0, spread * s * 2 * scale)
        else:
            px = x + rng.uniform(-0.8, 1.8) * w
            py = y + rng.uniform(-0.8, 1.8) * h
        kps += [round(float(px), 3), round(float(py), 3), round(float(rng.uniform(0, 1)), 3)]
    det = {'image_id': gt['image_id'], 'category_id': cat, 'keypoints': kps, 'score': float(rng.random())}
    if with_box:
        det['bbox'] = [round(x + rng.normal(0, 3), 2), round(y + rng.normal(0, 3), 2),
                       round(w * rng.uniform(0.8, 1.2), 2), round(h * rng.uniform(0.8, 1.2), 2)]
    return det


def det_random(rng, img, cat, with_box):
    w_img, h_img = img['width'], img['height']
    size = rng.uniform(10, 250)
    x, y = rng.uniform(0, w_img - 1), rng.uniform(0, h_img - 1)
    kps = []
    for _ in CATEGORIES[cat][1]:
        kps += [round(float(x + rng.uniform(0, size)), 3), round(float(y + rng.uniform(0, size)), 3),
                round(float(rng.uniform(0, 1)), 3)]
    det = {'image_id': img['id'], 'category_id': cat, 'keypoints': kps, 'score': float(rng.random())}
    if with_box:
        det['bbox'] = [round(x, 2), round(y, 2), round(size, 2), round(size, 2)]
    return det


def make_scenario(rng, images, cats, gts_per_image, crowd, zero_visible, inconsistent, extra_dets,
                  with_box=False, dets_per_gt=(0, 3)):
    dataset = {'images': [], 'annotations': [], 'categories': []}
    for cat in cats:
        name, names, skeleton, _ = CATEGORIES[cat]
        dataset['categories'].append({'id': cat, 'name': name, 'supercategory': name,
                                      'keypoints': names, 'skeleton': skeleton})
    dets = []
    ann_id = 1
    for i in range(images):
        img = {'id': 100 + 3 * i, 'width': int(rng.integers(200, 641)), 'height': int(rng.integers(200, 641)),
               'file_name': f'{i}.jpg'}
        dataset['images'].append(img)
        for cat in cats:
            for _ in range(int(rng.integers(0, gts_per_image + 1))):
                gt = make_gt(rng, ann_id, img, cat, len(CATEGORIES[cat][1]), crowd, zero_visible, inconsistent)
                ann_id += 1
                dataset['annotations'].append(gt)
                for _ in range(int(rng.integers(dets_per_gt[0], dets_per_gt[1] + 1))):
                    dets.append(det_near(rng, gt, float(np.exp(rng.uniform(np.log(0.05), np.log(3)))), with_box))
            for _ in range(int(rng.integers(0, extra_dets + 1))):
                dets.append(det_random(rng, img, cat, with_box))
    rng.shuffle(dets)
    return dataset, dets


def run_keypoint_eval(dataset, dets, sigmas, img_ids=None):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(dataset))
        gt.createIndex()
        dt = gt.loadRes(json.loads(json.dumps(dets)))
    e = PerCategorySigmasEval(gt, dt, sigmas)
    if img_ids is not None:
        e.params.imgIds = img_ids
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        e.evaluate()
        e.accumulate()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        e.summarize()
    all_range = [0 ** 2, 1e5 ** 2]
    evaluated = [ev for ev in e.evalImgs if ev is not None and ev['aRng'] == all_range]
    matched50 = sum(int(np.count_nonzero(ev['dtMatches'][0])) for ev in evaluated)
    matched_ignored50 = sum(int(np.count_nonzero(np.logical_and(ev['dtMatches'][0] > 0, ev['dtIgnore'][0])))
                            for ev in evaluated)
    oks = []
    for (img_id, cat_id), matrix in sorted(e.ious.items()):
        if len(matrix) == 0:
            continue
        dts = sorted(e._dts[img_id, cat_id], key=lambda d: -d['score'])[:e.params.maxDets[-1]]
        oks.append({'image_id': int(img_id), 'category_id': int(cat_id), 'dt_ids': [d['id'] for d in dts],
                    'gt_ids': [g['id'] for g in e._gts[img_id, cat_id]],
                    'matrix': np.asarray(matrix).tolist()})
    run = {'imgIds': img_ids, 'stats': [float(v) for v in e.stats],
           'precision': e.eval['precision'].ravel().tolist(), 'recall': e.eval['recall'].ravel().tolist(),
           'summary': printed.getvalue().rstrip('\n'), 'matched50': matched50,
           'matched_ignored50': matched_ignored50,
           'loadres': [{'id': a['id'], 'area': float(a['area']), 'bbox': [float(v) for v in a['bbox']]}
                       for a in dt.dataset['annotations']]}
    return run, oks


def facts_of(dataset, dets):
    gts = dataset['annotations']
    per_image_cat = {}
    for d in dets:
        key = (d['image_id'], d['category_id'])
        per_image_cat[key] = per_image_cat.get(key, 0) + 1
    scores = [d['score'] for d in dets]
    return {
        'ground_truths': len(gts), 'detections': len(dets),
        'crowd': sum(g['iscrowd'] for g in gts),
        'zero_visible': sum(1 for g in gts if not any(v > 0 for v in g['keypoints'][2::3])),
        'zero_visible_not_ignored': sum(1 for g in gts if not any(v > 0 for v in g['keypoints'][2::3])
                                        and g['num_keypoints'] > 0 and not g['iscrowd']),
        'num_keypoints_zero': sum(1 for g in gts if g['num_keypoints'] == 0),
        'medium': sum(1 for g in gts if 32 ** 2 <= g['area'] <= 96 ** 2),
        'large': sum(1 for g in gts if g['area'] > 96 ** 2),
        'keypoint_counts': sorted({len(g['keypoints']) // 3 for g in gts}),
        'max_dets_per_image_category': max(per_image_cat.values(), default=0),
        'tied_scores': len(scores) - len(set(scores)),
        'dets_with_box': sum(1 for d in dets if 'bbox' in d),
    }


KEYPOINT_SCENARIOS = {
    # name: make_scenario arguments, and image subsets to evaluate besides all images.
    'normal': (dict(images=14, cats=[1, 2, 3], gts_per_image=4, crowd=0.08, zero_visible=0.15,
                    inconsistent=0.08, extra_dets=2), True),
    'crowd_and_unlabelled': (dict(images=10, cats=[1, 3], gts_per_image=5, crowd=0.35, zero_visible=0.45,
                                  inconsistent=0.2, extra_dets=2), False),
    'many_detections': (dict(images=4, cats=[1, 2], gts_per_image=8, crowd=0.05, zero_visible=0.1,
                             inconsistent=0.05, extra_dets=20, dets_per_gt=(2, 4)), False),
    'results_with_boxes': (dict(images=8, cats=[1, 2], gts_per_image=4, crowd=0.1, zero_visible=0.15,
                                inconsistent=0.05, extra_dets=2, with_box=True), False),
    'small': (dict(images=1, cats=[1], gts_per_image=0, crowd=0, zero_visible=0, inconsistent=0,
                   extra_dets=0), False),
}


def small_scenario(rng):
    """One image, one person category: a fully labelled person, a partly labelled one, one with no
    labelled keypoints (num_keypoints 0), one with none labelled but num_keypoints 2 (the enlarged
    box path, not ignored), and a crowd region; six detections with distinct scores."""
    dataset, _ = make_scenario(rng, **KEYPOINT_SCENARIOS['small'][0])
    img = dataset['images'][0]
    img['width'], img['height'] = 640, 480
    shapes = [(40, 60, 120, 200, 'all', 0), (300, 50, 90, 160, 'partial', 0), (200, 250, 80, 120, 'none', 0),
              (450, 240, 70, 150, 'none', 2), (500, 20, 120, 200, 'none', 0)]
    gts = []
    for n, (x, y, w, h, mode, num) in enumerate(shapes):
        kps = []
        for k in range(17):
            v = {'all': 2, 'partial': [0, 1, 2][k % 3], 'none': 0}[mode]
            kps += [x + (k * 7) % w, y + (k * 11) % h, v] if v else [0, 0, 0]
        gts.append({'id': n + 1, 'image_id': img['id'], 'category_id': 1, 'iscrowd': int(n == 4),
                    'bbox': [x, y, w, h], 'area': w * h * 0.7, 'keypoints': kps,
                    'num_keypoints': num if mode == 'none' else sum(1 for v in kps[2::3] if v > 0)})
    dataset['annotations'] = gts
    dets = [det_near(rng, gts[0], 0.1, False), det_near(rng, gts[0], 1.0, False), det_near(rng, gts[1], 0.3, False),
            det_near(rng, gts[2], 0.5, False), det_near(rng, gts[3], 0.5, False), det_near(rng, gts[4], 0.5, False)]
    # One far outside the enlarged box of the unlabelled person, so its OKS is below 1.
    dets[4]['keypoints'] = [v + 260 if i % 3 == 0 else v for i, v in enumerate(dets[4]['keypoints'])]
    for n, d in enumerate(dets):
        d['score'] = 0.9 - 0.1 * n
    return dataset, dets


def keypoint_fixtures(rng, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, (arguments, subset) in KEYPOINT_SCENARIOS.items():
        dataset, dets = small_scenario(rng) if name == 'small' else make_scenario(rng, **arguments)
        cats = [c['id'] for c in dataset['categories']]
        sigmas = {cat: CATEGORIES[cat][3] for cat in cats if CATEGORIES[cat][3] is not None}
        runs = []
        run, oks = run_keypoint_eval(dataset, dets, sigmas)
        runs.append(run)
        if subset:
            ids = [img['id'] for img in dataset['images']][::2]
            runs.append(run_keypoint_eval(dataset, dets, sigmas, img_ids=ids)[0])
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, 'gt.json'), 'w') as f:
            json.dump(dataset, f)
        with open(os.path.join(folder, 'dt.json'), 'w') as f:
            json.dump(dets, f)
        with open(os.path.join(folder, 'expected.json'), 'w') as f:
            json.dump({'name': name, 'facts': facts_of(dataset, dets),
                       'sigmas': {str(cat): sigmas_of(cat) for cat in cats},
                       'custom_sigmas': {str(cat): s for cat, s in sigmas.items()},
                       'runs': runs, 'oks': oks}, f)
    with open(os.path.join(out_dir, 'scenarios.json'), 'w') as f:
        json.dump(sorted(KEYPOINT_SCENARIOS), f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations")
    p.add_argument("--results")
    p.add_argument("--segm", action="store_true", help="also evaluate segm")
    p.add_argument("--keypoints", action="store_true", help="also evaluate keypoints (COCO's person sigmas unless --keypoint-sigmas)")
    p.add_argument("--keypoint-sigmas", help="comma-separated OKS sigmas, one per keypoint, for every category")
    p.add_argument("--image-ids", default=None, help="comma-separated subset of image ids")
    p.add_argument("--keypoint-fixtures", metavar="OUT_DIR", help="write the keypoint test fixtures instead")
    p.add_argument("--seed", type=int, default=20240611)
    args = p.parse_args()
    if args.keypoint_fixtures:
        keypoint_fixtures(np.random.default_rng(args.seed), args.keypoint_fixtures)
    elif args.annotations and args.results:
        evaluate_files(args)
    else:
        p.error("give --annotations and --results, or --keypoint-fixtures OUT_DIR")


if __name__ == "__main__":
    main()
