#!/usr/bin/env python3
"""Reference values from pycocotools for the Swift COCO module's tests (Tests/COCOTests).

Usage: coco_reference.py OUT_DIR [--seed N]

Writes, all seeded and deterministic:
  OUT_DIR/rle.json            masks -> compressed strings, areas, boxes; merges; mask and box IoUs;
                              polygons and boxes rasterized by frPyObjects; uncompressed RLEs.
  OUT_DIR/eval/NAME/gt.json   a random COCO ground truth (polygons, RLEs, crowd regions)
  OUT_DIR/eval/NAME/dt.json   random detections in COCO results format
  OUT_DIR/eval/NAME/expected.json
                              COCOeval results (stats, precision, recall) for bbox and segm, plus
                              counts that show the scenario exercises what it is named after.
"""
import argparse
import copy
import io
import json
import os
import sys
from contextlib import redirect_stdout

import numpy as np
from pycocotools import mask as maskUtils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def s(rle):
    """Compressed counts as str."""
    c = rle['counts']
    return c.decode('ascii') if isinstance(c, bytes) else c


def bits(mask):
    return ''.join('1' if v else '0' for v in mask.reshape(-1))  # row-major


# ---------------------------------------------------------------- masks and polygons

def random_mask(rng, h, w, kind):
    if kind == 'empty':
        return np.zeros((h, w), np.uint8)
    if kind == 'full':
        return np.ones((h, w), np.uint8)
    if kind == 'blobs':
        m = np.zeros((h, w), np.uint8)
        for _ in range(rng.integers(1, 5)):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            r = rng.uniform(0.5, max(h, w) / 2 + 1)
            yy, xx = np.mgrid[0:h, 0:w]
            m |= ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.uint8)
        return m
    p = {'sparse': 0.05, 'half': 0.5, 'dense': 0.95}[kind]
    return (rng.random((h, w)) < p).astype(np.uint8)


def encode(mask):
    return maskUtils.encode(np.asfortranarray(mask))


def random_polygon(rng, cx, cy, radius, n=None, decimals=2):
    n = n or int(rng.integers(3, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.3, 1.0, n) * radius
    xs = cx + radii * np.cos(angles)
    ys = cy + radii * np.sin(angles)
    poly = np.stack([xs, ys], 1).reshape(-1)
    return [round(float(v), decimals) for v in poly]


def rle_fixtures(rng):
    out = {'masks': [], 'uncompressed': [], 'merges': [], 'ious': [], 'polygons': [],
           'boxes': [], 'box_ious': []}
    shapes = [(1, 1), (1, 7), (7, 1), (1, 60), (60, 1), (2, 2), (5, 5), (13, 17), (31, 8),
              (64, 48), (100, 120), (257, 129)]
    kinds = ['empty', 'full', 'sparse', 'half', 'dense', 'blobs']
    masks_by_shape = {}
    for h, w in shapes:
        for kind in kinds:
            for _ in range(2 if kind in ('half', 'blobs', 'sparse') else 1):
                m = random_mask(rng, h, w, kind)
                r = encode(m)
                out['masks'].append({'h': h, 'w': w, 'bits': bits(m), 'counts': s(r),
                                     'area': int(maskUtils.area(r)),
                                     'bbox': [float(v) for v in maskUtils.toBbox(r)]})
                masks_by_shape.setdefault((h, w), []).append((m, r))
    r = encode(np.zeros((0, 5), np.uint8))
    out['masks'].append({'h': 0, 'w': 5, 'bits': '', 'counts': s(r), 'area': 0, 'bbox': [0.0] * 4})
    # A large mask: counts above 2^16 and long strings.
    m = random_mask(rng, 700, 900, 'blobs')
    r = encode(m)
    out['masks'].append({'h': 700, 'w': 900, 'bits': bits(m), 'counts': s(r),
                         'area': int(maskUtils.area(r)), 'bbox': [float(v) for v in maskUtils.toBbox(r)]})

    # Uncompressed RLEs (as crowd annotations store them), including non-canonical zero runs.
    for _ in range(40):
        h, w = int(rng.integers(1, 80)), int(rng.integers(1, 80))
        total, counts = h * w, []
        while sum(counts) < total:
            counts.append(int(min(rng.integers(0, 3) if rng.random() < 0.2 else rng.integers(1, 200),
                                  total - sum(counts))))
        r = maskUtils.frPyObjects({'size': [h, w], 'counts': counts}, h, w)
        out['uncompressed'].append({'h': h, 'w': w, 'counts': counts, 'string': s(r),
                                    'area': int(maskUtils.area(r)),
                                    'bbox': [float(v) for v in maskUtils.toBbox(r)]})

    # Merges of 2 and 3 masks of one shape, and of different shapes.
    for (h, w), items in masks_by_shape.items():
        for n in (2, 3):
            for _ in range(3):
                chosen = [items[i][1] for i in rng.choice(len(items), n)]
                out['merges'].append({'inputs': [{'size': [h, w], 'counts': s(c)} for c in chosen],
                                      'union': s(maskUtils.merge(chosen, 0)),
                                      'intersection': s(maskUtils.merge(chosen, 1)),
                                      'size': [h, w]})
    a, b = masks_by_shape[(5, 5)][0][1], masks_by_shape[(13, 17)][0][1]
    merged = maskUtils.merge([a, b])
    out['merges'].append({'inputs': [{'size': [5, 5], 'counts': s(a)}, {'size': [13, 17], 'counts': s(b)}],
                          'union': s(merged), 'intersection': s(maskUtils.merge([a, b], 1)),
                          'size': [int(v) for v in merged['size']]})

    # Mask IoU with crowd flags, plus a ground truth of another size (IoU -1).
    for (h, w), items in masks_by_shape.items():
        dts = [items[i][1] for i in rng.choice(len(items), 6)]
        gts = [items[i][1] for i in rng.choice(len(items), 5)]
        crowd = [int(v) for v in rng.integers(0, 2, len(gts))]
        if (h, w) == (13, 17):
            gts.append(encode(np.ones((h + 1, w), np.uint8)))
            crowd.append(0)
        iou = maskUtils.iou(dts, gts, crowd)
        out['ious'].append({'dt': [{'size': [h, w], 'counts': s(r)} for r in dts],
                            'gt': [{'size': [int(g['size'][0]), int(g['size'][1])], 'counts': s(g)} for g in gts],
                            'crowd': crowd, 'iou': np.asarray(iou).tolist()})

    # Polygons: random, off-image, integer, repeated vertices, tiny, multi-part.
    for i in range(150):
        h, w = int(rng.integers(1, 120)), int(rng.integers(1, 120))
        parts = []
        for _ in range(int(rng.integers(1, 4))):
            radius = float(rng.choice([0.3, 2.0, 10.0, 40.0, 100.0]))
            cx, cy = rng.uniform(-10, w + 10), rng.uniform(-10, h + 10)
            poly = random_polygon(rng, cx, cy, radius, decimals=int(rng.choice([0, 1, 2, 6])))
            if i % 7 == 0:  # repeated vertex and the first point repeated at the end
                poly = poly[:2] + poly[:2] + poly[2:] + poly[:2]
            parts.append(poly)
        merged = maskUtils.merge(maskUtils.frPyObjects(parts, h, w))
        out['polygons'].append({'h': h, 'w': w, 'parts': parts, 'counts': s(merged),
                                'single': [s(maskUtils.frPyObjects([p], h, w)[0]) for p in parts]})

    # Boxes rasterized (frBbox), fractional and off-image.
    for _ in range(80):
        h, w = int(rng.integers(1, 100)), int(rng.integers(1, 100))
        box = [round(float(v), 2) for v in (rng.uniform(-5, w), rng.uniform(-5, h),
                                             rng.uniform(0, w), rng.uniform(0, h))]
        r = maskUtils.frPyObjects(np.array([box], dtype=np.double), h, w)[0]
        out['boxes'].append({'h': h, 'w': w, 'box': box, 'counts': s(r)})

    # Box IoU with crowd flags: overlapping, touching, nested, empty boxes.
    for _ in range(30):
        dts = [[round(float(v), 2) for v in (rng.uniform(0, 50), rng.uniform(0, 50),
                                             rng.uniform(0, 30), rng.uniform(0, 30))] for _ in range(7)]
        gts = [[round(float(v), 2) for v in (rng.uniform(0, 50), rng.uniform(0, 50),
                                             rng.uniform(0, 30), rng.uniform(0, 30))] for _ in range(5)]
        gts.append([dts[0][0] + dts[0][2], dts[0][1], 5.0, 5.0])  # touches dts[0]
        gts.append([dts[1][0] + 1, dts[1][1] + 1, 0.0, 4.0])      # zero width
        gts.append([dts[2][0] - 1, dts[2][1] - 1, dts[2][2] + 2, dts[2][3] + 2])  # contains dts[2]
        crowd = [int(v) for v in rng.integers(0, 2, len(gts))]
        iou = maskUtils.iou(dts, gts, crowd)
        out['box_ious'].append({'dt': dts, 'gt': gts, 'crowd': crowd, 'iou': np.asarray(iou).tolist()})
    return out


# ---------------------------------------------------------------- evaluation scenarios

SCENARIOS = {
    # name: options (see make_scenario)
    'normal': dict(images=40),
    'no_detections': dict(images=12, no_dets=True),
    'class_without_gt': dict(images=25, cats_without_gt=[7]),
    'class_without_dets': dict(images=25, cats_without_dets=[3]),
    'crowd': dict(images=30, crowd=0.5),
    'score_ties': dict(images=30, ties=True),
    'area_ranges': dict(images=30, sizes=(2.0, 5.0, 12.0, 60.0, 110.0)),
    'many_detections': dict(images=12, extra_dets=150),
    'rle_ground_truth': dict(images=30, gt_rle=True, crowd=0.3),
    'mask_results': dict(images=30, results='segm', crowd=0.3),
    'box_results': dict(images=25, results='bbox'),
}
CATEGORY_IDS = [1, 3, 7, 12]


def polygon_box(parts, h, w):
    xs = np.concatenate([np.array(p[0::2]) for p in parts])
    ys = np.concatenate([np.array(p[1::2]) for p in parts])
    x0, y0 = max(0.0, xs.min()), max(0.0, ys.min())
    x1, y1 = min(float(w), xs.max()), min(float(h), ys.max())
    return [round(float(x0), 2), round(float(y0), 2), round(float(max(x1 - x0, 0)), 2),
            round(float(max(y1 - y0, 0)), 2)]


def shoelace(parts):
    total = 0.0
    for p in parts:
        x, y = np.array(p[0::2]), np.array(p[1::2])
        total += 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return round(float(total), 3)


def make_scenario(rng, images=30, no_dets=False, cats_without_gt=(), cats_without_dets=(), crowd=0.0,
                  ties=False, sizes=(3.0, 8.0, 20.0, 45.0, 90.0), extra_dets=0, gt_rle=False,
                  results='both'):
    image_ids = [int(v) for v in rng.choice(100000, images, replace=False) + 1]
    imgs = [{'id': i, 'width': int(rng.integers(40, 320)), 'height': int(rng.integers(40, 320)),
             'file_name': '%d.jpg' % i} for i in image_ids]
    cats = [{'id': c, 'name': 'class%d' % c, 'supercategory': 'thing'} for c in CATEGORY_IDS]
    gt_cats = [c for c in CATEGORY_IDS if c not in cats_without_gt]
    anns, dets = [], []

    def score():
        return float(rng.choice([0.25, 0.5, 0.75, 0.9])) if ties else round(float(rng.random()), 6)

    def det_from_parts(img, cat, parts):
        h, w = img['height'], img['width']
        rle = maskUtils.merge(maskUtils.frPyObjects(parts, h, w))
        d = {'image_id': img['id'], 'category_id': cat, 'score': score()}
        if results in ('both', 'bbox'):
            d['bbox'] = polygon_box(parts, h, w)
        if results in ('both', 'segm'):
            d['segmentation'] = {'size': [h, w], 'counts': s(rle)}
        return d

    for img in imgs:
        h, w = img['height'], img['width']
        if rng.random() < 0.1:
            continue  # an image with nothing at all
        for _ in range(int(rng.integers(0, 9))):
            cat = int(rng.choice(gt_cats))
            radius = float(rng.choice(sizes)) * rng.uniform(0.7, 1.3)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            is_crowd = rng.random() < crowd
            parts = [random_polygon(rng, cx, cy, radius)]
            if rng.random() < 0.2:
                parts.append(random_polygon(rng, cx + radius, cy, radius / 2))
            ann = {'id': 0, 'image_id': img['id'], 'category_id': cat, 'iscrowd': 0}
            rle = maskUtils.merge(maskUtils.frPyObjects(parts, h, w))
            if is_crowd:
                m = maskUtils.decode(rle)
                counts, prev, run = [], 0, 0
                for v in m.reshape(-1, order='F'):
                    if v != prev:
                        counts.append(run); run = 0; prev = v
                    run += 1
                counts.append(run)
                ann.update(iscrowd=1, segmentation={'size': [h, w], 'counts': [int(c) for c in counts]},
                           area=float(maskUtils.area(rle)), bbox=[float(v) for v in maskUtils.toBbox(rle)])
            else:
                ann.update(segmentation=parts, area=shoelace(parts), bbox=polygon_box(parts, h, w))
                if gt_rle and rng.random() < 0.5:
                    ann['segmentation'] = {'size': [h, w], 'counts': s(rle)}
            if rng.random() < 0.1:
                ann['ignore'] = 1  # pycocotools overwrites this with iscrowd
            anns.append(ann)
            # Detections of this object: most found, some twice, some with the wrong class.
            for copy_index in range(int(rng.choice([0, 1, 1, 1, 2]) if not is_crowd else rng.integers(0, 4))):
                jitter = radius * rng.uniform(0.02, 0.3)
                moved = [[round(v + rng.normal(0, jitter), 2) for v in p] for p in parts]
                det_cat = cat if rng.random() < 0.9 else int(rng.choice(CATEGORY_IDS))
                dets.append(det_from_parts(img, det_cat, moved))
        for index in range(int(rng.poisson(2)) + extra_dets):
            radius = float(rng.choice(sizes)) * rng.uniform(0.5, 1.5)
            parts = [random_polygon(rng, rng.uniform(0, w), rng.uniform(0, h), radius)]
            # Extra detections go to one category so that an (image, category) pair has more
            # than 100 and the cap applies.
            cat = CATEGORY_IDS[0] if index >= 2 and extra_dets else int(rng.choice(CATEGORY_IDS))
            dets.append(det_from_parts(img, cat, parts))
    ann_ids = rng.permutation(len(anns) * 3)[:len(anns)] + 1
    for ann, i in zip(anns, ann_ids):
        ann['id'] = int(i)
    if no_dets:
        dets = []
    dets = [d for d in dets if d['category_id'] not in cats_without_dets]
    order = rng.permutation(len(dets))
    dets = [dets[i] for i in order]
    file_order = rng.permutation(len(imgs))
    dataset = {'info': {'description': 'random'}, 'images': [imgs[i] for i in file_order],
               'annotations': anns, 'categories': cats}
    return dataset, dets


def run_eval(dataset, dets, iou_type, use_cats=1, img_ids=None):
    gt = COCO()
    gt.dataset = copy.deepcopy(dataset)
    with redirect_stdout(io.StringIO()):
        gt.createIndex()
        if dets:
            dt = gt.loadRes(copy.deepcopy(dets))
        else:  # loadRes fails on an empty list; an empty results COCO is what it would mean
            dt = COCO()
            dt.dataset = {'images': list(gt.dataset['images']), 'annotations': [],
                          'categories': copy.deepcopy(gt.dataset['categories'])}
            dt.createIndex()
        E = COCOeval(gt, dt, iou_type)
        E.params.useCats = use_cats
        if img_ids is not None:
            E.params.imgIds = img_ids
        E.evaluate()
        E.accumulate()
    text = io.StringIO()
    with redirect_stdout(text):
        E.summarize()
    matched = ignored = evaluated = 0
    for e in E.evalImgs:
        if e is None or e['aRng'] != E.params.areaRng[0]:
            continue
        evaluated += len(e['dtIds'])
        matched += int(np.count_nonzero(e['dtMatches'][0]))
        ignored += int(np.count_nonzero(np.logical_and(e['dtMatches'][0], e['dtIgnore'][0])))
    loadres = [{'area': float(a['area']), 'bbox': [float(v) for v in a['bbox']]}
               for a in dt.dataset['annotations']]
    return {'iouType': iou_type, 'useCats': use_cats, 'imgIds': img_ids,
            'stats': [float(v) for v in E.stats],
            'precision': E.eval['precision'].reshape(-1).tolist(),
            'recall': E.eval['recall'].reshape(-1).tolist(),
            'scores': E.eval['scores'].reshape(-1).tolist(),
            'summary': text.getvalue().rstrip('\n'),
            'evaluated_dets': evaluated, 'matched50': matched, 'matched_ignored50': ignored,
            'loadres': loadres}


def eval_fixtures(rng, out_dir):
    for name, options in SCENARIOS.items():
        dataset, dets = make_scenario(rng, **options)
        runs = [run_eval(dataset, dets, 'bbox'), run_eval(dataset, dets, 'segm')]
        if name == 'normal':
            runs.append(run_eval(dataset, dets, 'bbox', use_cats=0))
            runs.append(run_eval(dataset, dets, 'segm', use_cats=0))
            some = sorted(img['id'] for img in dataset['images'])[::3]
            runs.append(run_eval(dataset, dets, 'bbox', img_ids=some))
        per_pair = {}
        for d in dets:
            per_pair.setdefault((d['image_id'], d['category_id']), []).append(d['score'])
        facts = {
            'detections': len(dets),
            'ground_truths': len(dataset['annotations']),
            'crowd': sum(a['iscrowd'] for a in dataset['annotations']),
            'rle_ground_truths': sum(isinstance(a['segmentation'], dict) for a in dataset['annotations']),
            'max_dets_per_image_category': max((len(v) for v in per_pair.values()), default=0),
            'tied_scores': sum(len(v) - len(set(v)) for v in per_pair.values()),
            'categories_with_gt': sorted({a['category_id'] for a in dataset['annotations']}),
            'categories_with_dets': sorted({d['category_id'] for d in dets}),
        }
        folder = os.path.join(out_dir, 'eval', name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, 'gt.json'), 'w') as f:
            json.dump(dataset, f)
        with open(os.path.join(folder, 'dt.json'), 'w') as f:
            json.dump(dets, f)
        with open(os.path.join(folder, 'expected.json'), 'w') as f:
            json.dump({'name': name, 'facts': facts, 'runs': runs}, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir')
    parser.add_argument('--seed', type=int, default=20240601)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, 'rle.json'), 'w') as f:
        json.dump(rle_fixtures(rng), f)
    eval_fixtures(rng, args.out_dir)
    with open(os.path.join(args.out_dir, 'scenarios.json'), 'w') as f:
        json.dump(sorted(SCENARIOS), f)
    print('wrote', args.out_dir)


if __name__ == '__main__':
    sys.exit(main())
