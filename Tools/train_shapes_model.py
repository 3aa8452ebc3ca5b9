#!/usr/bin/env python3
"""Time-boxed, seeded CPU training of the "shapes" Mask R-CNN (Tools/shapes_model.py) from scratch.

Usage:
    python Tools/train_shapes_model.py --data .cache/shapes --out .cache/train_run --minutes 95

Reads DATA/train and DATA/val (Tools/make_shapes_dataset.py output). Writes to OUT:
  train.log       timestamped losses, LR, speed, schedule re-plans, evaluations (flushed each line)
  checkpoint.pth  model.state_dict() only (torchvision names), rewritten atomically every
                  --ckpt-minutes and at the end, so a usable checkpoint always exists
  eval.json       final pycocotools bbox/segm numbers on --eval-images val images

Schedule: linear warm-up, then cosine decay to zero at the planned total iteration count. The total
is planned from the measured speed after the first iterations and re-planned every 50 iterations
from the recent speed and the time left, so the LR schedule completes when --minutes elapse even if
the CPU is shared with other jobs for a while.

Keypoints: --keypoints adds the keypoint branch (shapes_model.add_keypoint_branch) and trains it on
the dataset's 4 extreme points (flips swap "left" and "right"); --train-only keypoints freezes
everything else (requires_grad False, backbone BatchNorm in eval mode, the RPN/box/mask outputs
exactly those of the --init-from weights), skips the mask branch in training steps (its loss would
not train anything), optimises only loss_keypoint, and checks at the end that every frozen tensor
is bit-identical to the initial weights. Evaluations add pycocotools keypoint AP (OKS sigmas
shapes_model.KEYPOINT_OKS_SIGMAS). --evaluate-only evaluates the --init-from weights and exits.
"""
import argparse
import contextlib
import json
import math
import os
import random
import sys
import time

# Waiting OpenMP threads sleep instead of spinning: the CPU is shared with compilers and tests.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shapes_model import (KEYPOINT_FLIP_INDEX, KEYPOINT_OKS_SIGMAS, MODEL_KWARGS,  # noqa: E402
                          NUM_CLASSES, build_model, is_keypoint_parameter, parameter_count)

LOG = None


def log(msg):
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}Z {msg}"
    print(line, flush=True)
    LOG.write(line + "\n")
    LOG.flush()


class ShapesDataset(torch.utils.data.Dataset):
    """COCO-format shapes split -> (float image tensor CHW in [0,1], torchvision target dict)."""

    def __init__(self, split_dir, flip_prob=0.0, seed=0):
        with open(os.path.join(split_dir, "instances.json")) as f:
            coco = json.load(f)
        self.img_dir = os.path.join(split_dir, "images")
        by_image = {}
        for a in coco["annotations"]:
            by_image.setdefault(a["image_id"], []).append(a)
        self.images = [im for im in coco["images"] if by_image.get(im["id"])]
        self.anns = by_image
        self.flip_prob = flip_prob
        self.seed = seed
        self.epoch = 0

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        im = self.images[idx]
        img = np.array(Image.open(os.path.join(self.img_dir, im["file_name"])).convert("RGB"))
        anns = self.anns[im["id"]]
        masks = np.stack([mask_utils.decode(a["segmentation"]) for a in anns])
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                           a["bbox"][1] + a["bbox"][3]] for a in anns], dtype=np.float32)
        # COCO keypoints [x, y, v] * K in pixel-centre coordinates -> float [N, K, 3]
        keypoints = None
        if all("keypoints" in a for a in anns):
            keypoints = np.array([a["keypoints"] for a in anns], dtype=np.float32).reshape(len(anns), -1, 3)
        # deterministic flip decision per (seed, epoch, image)
        rng = random.Random(hash((self.seed, self.epoch, idx)) & 0xFFFFFFFF)
        if rng.random() < self.flip_prob:
            w = img.shape[1]
            img = img[:, ::-1]
            masks = masks[:, :, ::-1]
            boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
            if keypoints is not None:
                # continuous coordinates: a pixel centre x + 0.5 maps to (w - 1 - x) + 0.5
                keypoints = keypoints[:, KEYPOINT_FLIP_INDEX].copy()
                keypoints[:, :, 0] = w - keypoints[:, :, 0]
        image = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 255.0
        target = {
            "boxes": torch.from_numpy(boxes),
            "labels": torch.tensor([a["category_id"] for a in anns], dtype=torch.int64),
            "masks": torch.from_numpy(np.ascontiguousarray(masks)),
            "image_id": torch.tensor(im["id"]),
        }
        if keypoints is not None:
            target["keypoints"] = torch.from_numpy(keypoints)
        return image, target


def collate(batch):
    return tuple(zip(*batch))


@torch.no_grad()
def evaluate(model, split_dir, n_images, log_prefix="eval"):
    """pycocotools bbox + segm (+ keypoint) AP on the first n_images of a split, with torchvision
    inference (keypoint AP when the model has a keypoint branch and the split has keypoints)."""
    was_training = model.training
    model.eval()
    gt = COCO(os.path.join(split_dir, "instances.json"))
    img_ids = sorted(gt.getImgIds())[:n_images]
    results = []
    kp_results = []
    with_kp = model.roi_heads.has_keypoint() and \
        all("keypoints" in a for a in gt.dataset["annotations"])
    t0 = time.time()
    for iid in img_ids:
        info = gt.loadImgs(iid)[0]
        img = np.asarray(Image.open(os.path.join(split_dir, "images", info["file_name"]))
                         .convert("RGB"))
        x = torch.from_numpy(img.copy()).permute(2, 0, 1).float() / 255.0
        out = model([x])[0]
        masks = (out["masks"][:, 0] > 0.5).numpy().astype(np.uint8)
        for k in range(len(out["scores"])):
            x1, y1, x2, y2 = out["boxes"][k].tolist()
            rle = mask_utils.encode(np.asfortranarray(masks[k]))
            rle["counts"] = rle["counts"].decode("ascii")
            results.append({"image_id": iid, "category_id": int(out["labels"][k]),
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(out["scores"][k]),
                            "segmentation": rle})
            if with_kp:
                kp = out["keypoints"][k]
                kp_results.append({"image_id": iid, "category_id": int(out["labels"][k]),
                                   "keypoints": [round(float(v), 3) for v in
                                                 torch.cat([kp[:, :2], torch.ones(len(kp), 1)], 1).reshape(-1)],
                                   "score": float(out["scores"][k])})
    secs = time.time() - t0
    stats = {"images": len(img_ids), "detections": len(results),
             "seconds_per_image": secs / max(1, len(img_ids))}
    if results:
        dt = gt.loadRes(results)
        for iou_type in ("bbox", "segm"):
            ev = COCOeval(gt, dt, iou_type)
            ev.params.imgIds = img_ids
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            s = ev.stats
            stats[iou_type] = {"AP": s[0], "AP50": s[1], "AP75": s[2], "APs": s[3], "APm": s[4],
                               "APl": s[5], "AR100": s[8]}
            log(f"{log_prefix} {iou_type}: AP {s[0]:.4f} AP50 {s[1]:.4f} AP75 {s[2]:.4f} "
                f"APs {s[3]:.4f} APm {s[4]:.4f} APl {s[5]:.4f} AR100 {s[8]:.4f}")
    if kp_results:
        ev = COCOeval(gt, gt.loadRes(kp_results), "keypoints")
        ev.params.imgIds = img_ids
        ev.params.kpt_oks_sigmas = np.array(KEYPOINT_OKS_SIGMAS, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        s = ev.stats
        stats["keypoints"] = {"AP": s[0], "AP50": s[1], "AP75": s[2], "APm": s[3], "APl": s[4],
                              "AR": s[5], "oks_sigmas": list(KEYPOINT_OKS_SIGMAS)}
        log(f"{log_prefix} keypoints: AP {s[0]:.4f} AP50 {s[1]:.4f} AP75 {s[2]:.4f} "
            f"APm {s[3]:.4f} APl {s[4]:.4f} AR {s[5]:.4f} (OKS sigmas {KEYPOINT_OKS_SIGMAS})")
    log(f"{log_prefix}: {len(img_ids)} images, {len(results)} detections, "
        f"{stats['seconds_per_image']:.3f} s/image")
    if was_training:
        set_train_mode(model)
    return stats


def scheduled_lr(it, peak, warmup_iters, total_iters):
    """The learning rate at iteration `it`: linear warm-up to `peak` over `warmup_iters`, then cosine
    decay to 0 at `total_iters` (the peak while no total is planned yet)."""
    if it < warmup_iters:
        return peak * (0.001 + 0.999 * it / warmup_iters)
    if total_iters is None:
        return peak
    p = min(1.0, (it - warmup_iters) / max(1, total_iters - warmup_iters))
    return peak * 0.5 * (1.0 + math.cos(math.pi * p))


def set_train_mode(model):
    """model.train(), except that frozen BatchNorm and dropout layers (no parameter requiring
    grad) stay in eval mode, so that BatchNorm running statistics do not move. (The model, RPN and
    RoIHeads themselves stay in training mode: that selects their training proposals and losses.)"""
    model.train()
    for module in model.modules():
        if isinstance(module, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.Dropout)) and \
                not any(p.requires_grad for p in module.parameters()):
            module.eval()


@contextlib.contextmanager
def mask_branch_off(model, enabled):
    """Removes the mask branch from roi_heads for the duration (its loss is not needed)."""
    rh = model.roi_heads
    saved = rh.mask_roi_pool, rh.mask_head, rh.mask_predictor
    if enabled:
        rh.mask_roi_pool = rh.mask_head = rh.mask_predictor = None
    try:
        yield
    finally:
        rh.mask_roi_pool, rh.mask_head, rh.mask_predictor = saved


def load_initial_weights(model, path, allow_missing_keypoints):
    """Loads a state_dict .pth or the shipped .safetensors into `model`; keypoint-branch keys may
    be missing when `allow_missing_keypoints` (they keep their random initialisation)."""
    if path.endswith(".safetensors"):
        # The shipped weights (Weights/shapes_mask_rcnn.safetensors) hold the same state_dict
        # minus BatchNorm's num_batches_tracked counters.
        from safetensors.torch import load_file
        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    bad_missing = [k for k in missing if not k.endswith("num_batches_tracked")
                   and not (allow_missing_keypoints and is_keypoint_parameter(k))]
    if unexpected or bad_missing:
        raise SystemExit(f"{path}: does not match the model (missing {bad_missing}, unexpected {unexpected})")
    return [k for k in missing if is_keypoint_parameter(k)]


def save_checkpoint(model, out_dir):
    path = os.path.join(out_dir, "checkpoint.pth")
    torch.save(model.state_dict(), path + ".tmp")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, required=True, help="training time budget")
    ap.add_argument("--max-iters", type=int, default=0, help="optional hard cap (for tests)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    ap.add_argument("--lr", type=float, default=0.0)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--warmup-iters", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fixed-threads", action="store_true",
                    help="always use --threads (default: drop to 1 thread while other processes "
                         "keep the CPUs busy, where 2 OpenMP threads would only thrash)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--monitor-minutes", type=float, default=20.0,
                    help="small eval (--monitor-images val images) this often; 0 disables")
    ap.add_argument("--monitor-images", type=int, default=50)
    ap.add_argument("--eval-images", type=int, default=200)
    ap.add_argument("--box-batch-size-per-image", type=int, default=0,
                    help="RoIs sampled per image for the box head (training only; also caps the mask "
                         "head's positive RoIs at a quarter of it); 0 keeps shapes_model's value")
    ap.add_argument("--input-size", type=int, default=0,
                    help="train at this square input size (min_size = max_size) instead of the model's")
    ap.add_argument("--keypoints", action="store_true",
                    help="add the keypoint branch (its weights are initialised randomly when "
                         "--init-from has none)")
    ap.add_argument("--train-only", choices=["all", "keypoints"], default="all",
                    help="keypoints: freeze everything but the keypoint branch (implies --keypoints)")
    ap.add_argument("--evaluate-only", action="store_true",
                    help="evaluate the --init-from weights on --eval-images val images, write "
                         "OUT/eval.json and exit")
    ap.add_argument("--init-from", default=None,
                    help="start from these weights (a state_dict .pth, or the shipped .safetensors) instead of scratch; the "
                         "schedule (warm-up, cosine decay over --minutes) starts afresh")
    args = ap.parse_args()
    if args.lr == 0.0:
        args.lr = 1e-3 if args.optimizer == "adamw" else 0.02
    if args.weight_decay == 0.0:
        args.weight_decay = 0.05 if args.optimizer == "adamw" else 1e-4
    if args.train_only == "keypoints":
        args.keypoints = True
        if not args.init_from:
            raise SystemExit("--train-only keypoints needs --init-from (the frozen weights)")

    os.makedirs(args.out, exist_ok=True)
    global LOG
    LOG = open(os.path.join(args.out, "train.log"), "a")
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    log(f"args: {vars(args)}")
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    cfg = dict(MODEL_KWARGS)
    if args.box_batch_size_per_image:
        cfg["box_batch_size_per_image"] = args.box_batch_size_per_image
    if args.input_size:
        cfg["min_size"] = cfg["max_size"] = args.input_size
    log(f"model: {json.dumps(cfg)}")

    model = build_model(NUM_CLASSES, cfg, keypoints=args.keypoints)
    if args.init_from:
        fresh = load_initial_weights(model, args.init_from, allow_missing_keypoints=args.keypoints)
        log(f"initialised from {args.init_from}"
            + (f" (keypoint branch: {len(fresh)} tensors randomly initialised)" if fresh else ""))
    log(f"parameters: {parameter_count(model):,}")
    train_dir = os.path.join(args.data, "train")
    val_dir = os.path.join(args.data, "val")
    if args.evaluate_only:
        stats = evaluate(model, val_dir, args.eval_images, log_prefix="eval")
        with open(os.path.join(args.out, "eval.json"), "w") as f:
            json.dump(stats, f, indent=2)
        log("done")
        return
    keypoints_only = args.train_only == "keypoints"
    frozen = {}
    if keypoints_only:
        for name, p in model.named_parameters():
            p.requires_grad_(is_keypoint_parameter(name))
        frozen = {k: v.detach().clone() for k, v in model.state_dict().items()
                  if not is_keypoint_parameter(k)}
        n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
        log(f"training only the keypoint branch: {n_train:,} trainable parameters, "
            f"{len(frozen)} frozen state_dict tensors")
    set_train_mode(model)
    ds = ShapesDataset(train_dir, flip_prob=0.5, seed=args.seed)
    log(f"train images: {len(ds)}")
    gen = torch.Generator()
    gen.manual_seed(args.seed)

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]  # BN and biases
    groups = [{"params": decay, "weight_decay": args.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if args.optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=args.lr)
    else:
        opt = torch.optim.SGD(groups, lr=args.lr, momentum=0.9)

    budget = args.minutes * 60.0
    t_start = time.time()
    last_ckpt = t_start
    last_monitor = t_start
    total_iters = None  # planned after measuring speed
    it = 0
    epoch = 0
    sec_per_iter = None
    window_t, window_it = time.time(), 0
    meters = {}
    done = False
    while not done:
        ds.epoch = epoch
        loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True,
                                             num_workers=0, collate_fn=collate, generator=gen,
                                             drop_last=True)
        for images, targets in loader:
            if not args.fixed_threads and it % 10 == 0 and args.threads > 1:
                # others' load = 1-min load average minus our own busy threads; with hysteresis
                others = os.getloadavg()[0] - torch.get_num_threads()
                want = torch.get_num_threads()
                if others >= 1.0:
                    want = 1
                elif others < 0.5:
                    want = args.threads
                if want != torch.get_num_threads():
                    torch.set_num_threads(want)
                    log(f"iter {it}: load from other processes ~{others:.1f}; using {want} thread(s)")
            lr = scheduled_lr(it, args.lr, args.warmup_iters, total_iters)
            for g in opt.param_groups:
                g["lr"] = lr

            with mask_branch_off(model, keypoints_only):
                losses = model(list(images), list(targets))
            # (frozen parts: their losses carry no gradient and are only logged)
            loss = losses["loss_keypoint"] if keypoints_only else sum(losses.values())
            if not torch.isfinite(loss):
                log(f"iter {it}: non-finite loss {losses}; skipping batch")
                opt.zero_grad(set_to_none=True)
                it += 1
                continue
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 10.0)
            opt.step()
            it += 1
            window_it += 1
            for k, v in losses.items():
                meters[k] = meters.get(k, 0.0) + float(v)
            meters["loss"] = meters.get("loss", 0.0) + float(loss)

            now = time.time()
            elapsed = now - t_start
            # (re)plan the total iteration count from the recent speed and the time left
            if it % 50 == 0 and window_it > 0:
                recent = (now - window_t) / window_it
                sec_per_iter = recent if sec_per_iter is None else 0.5 * sec_per_iter + 0.5 * recent
                window_t, window_it = now, 0
                remaining = max(0.0, budget - elapsed)
                planned = it + int(remaining / sec_per_iter)
                if total_iters is None:
                    log(f"measured {1 / sec_per_iter:.3f} it/s ({sec_per_iter:.2f} s/it, batch "
                        f"{args.batch_size}); planned total iterations {planned}")
                elif it % 500 == 0:
                    log(f"re-plan at iter {it}: {sec_per_iter:.2f} s/it, total {total_iters} -> "
                        f"{planned}")
                total_iters = max(planned, it + 1)
                if args.max_iters:
                    total_iters = min(total_iters, args.max_iters)
            if it % args.log_every == 0:
                n = args.log_every
                parts = " ".join(f"{k} {v / n:.4f}" for k, v in sorted(meters.items()))
                log(f"iter {it}/{total_iters} epoch {epoch} lr {lr:.6f} {parts} "
                    f"elapsed {elapsed / 60:.1f}m")
                meters = {}
            if now - last_ckpt >= args.ckpt_minutes * 60:
                save_checkpoint(model, args.out)
                last_ckpt = now
                log(f"checkpoint saved at iter {it}")
            if args.monitor_minutes > 0 and now - last_monitor >= args.monitor_minutes * 60:
                t_m = time.time()
                evaluate(model, val_dir, args.monitor_images, log_prefix=f"monitor@{it}")
                # don't count the monitoring time against the schedule's speed estimate
                window_t += time.time() - t_m
                last_monitor = time.time()
            if (total_iters is not None and it >= total_iters) or \
                    (args.max_iters and it >= args.max_iters) or elapsed > budget + 300:
                done = True
                break
        epoch += 1

    save_checkpoint(model, args.out)
    if frozen:
        state = model.state_dict()
        changed = [k for k, v in frozen.items() if not torch.equal(v, state[k])]
        log(f"frozen tensors: {len(frozen) - len(changed)} of {len(frozen)} bit-identical to the "
            f"initial weights" + (f"; CHANGED: {changed}" if changed else ""))
    log(f"training finished: {it} iterations, {epoch} epochs (partial counts), "
        f"{(time.time() - t_start) / 60:.1f} min; checkpoint {os.path.join(args.out, 'checkpoint.pth')}")
    stats = evaluate(model, val_dir, args.eval_images, log_prefix="final eval")
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(stats, f, indent=2)
    log("done")


if __name__ == "__main__":
    main()
