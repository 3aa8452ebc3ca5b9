#!/usr/bin/env python3
"""The small Mask R-CNN shipped as rcnn's embedded default model ("shapes").

Built only from stock torchvision (0.14) modules so that the Swift engine, which mirrors
torchvision, can run the exported state_dict unchanged:

  backbone   MobileNetV3-Large `features` (norm_layer=torch.nn.BatchNorm2d, i.e. eps 1e-5),
             wrapped in BackboneWithFPN, returning the *last* block of each stride:
               features.6  -> FPN "0" (40 ch,  stride 8)
               features.12 -> FPN "1" (112 ch, stride 16)
               features.16 -> FPN "2" (960 ch, stride 32)
             + LastLevelMaxPool -> "pool" (stride 64); FPN out_channels 128.
  rpn        AnchorGenerator sizes ((16,), (32,), (64,), (128,)), ratios (0.5, 1, 2) on every
             level; RPNHead(128, 3).
  box head   MultiScaleRoIAlign(["0", "1", "2"], 7, 2), TwoMLPHead(128*7*7, 512),
             FastRCNNPredictor(512, num_classes).
  mask head  MultiScaleRoIAlign(["0", "1", "2"], 14, 2), MaskRCNNHeads(128, [128]*4, 1),
             MaskRCNNPredictor(128, 128, num_classes).
  keypoints  (optional, build_model(keypoints=True)) MultiScaleRoIAlign(["0", "1", "2"], 14, 2),
             KeypointRCNNHeads(128, [128]*4), KeypointRCNNPredictor(128, 4): the 4 extreme points
             "top", "right", "bottom", "left" of each shape's full silhouette
             (Tools/make_shapes_dataset.py), 56x56 heatmaps per RoI. torchvision's MaskRCNN takes no
             keypoint arguments, but its RoIHeads runs masks and keypoints together, so the branch
             is set on model.roi_heads after construction.
  transform  min_size = max_size = 448 (the dataset's 320 px scenes are upscaled 1.4x, which
             gives the smallest objects, ~10 px, more feature cells), ImageNet mean/std
             (torchvision defaults).

Run it directly to print the feature shapes and the parameter count.
"""
import torch
import torchvision
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

CLASSES = ["circle", "square", "triangle", "star", "hexagon", "ring", "cross", "ellipse"]
NUM_CLASSES = len(CLASSES) + 1  # + background (label 0)
# The keypoint branch's points (Tools/make_shapes_dataset.py), the skeleton as 0-based index pairs
# (the dataset's COCO categories list the same pairs 1-based), and the per-keypoint OKS sigma used
# by the keypoint evaluation (pycocotools' default sigmas are COCO's 17 person keypoints).
KEYPOINT_NAMES = ["top", "right", "bottom", "left"]
KEYPOINT_SKELETON = [[0, 1], [1, 2], [2, 3], [3, 0]]
KEYPOINT_FLIP_INDEX = [0, 3, 2, 1]  # a horizontal flip swaps "right" and "left"
KEYPOINT_OKS_SIGMAS = [0.05] * len(KEYPOINT_NAMES)

# Everything needed to rebuild the model (and to write the Swift engine's model config).
MODEL_KWARGS = {
    "architecture": "maskrcnn_mobilenet_v3_large_fpn",
    "backbone": "mobilenet_v3_large",
    "backbone_norm": "BatchNorm2d(eps=1e-5)",
    "return_layers": {"6": "0", "12": "1", "16": "2"},  # features index -> FPN level name
    "in_channels_list": [40, 112, 960],
    "fpn_out_channels": 128,
    "fpn_extra_block": "LastLevelMaxPool",
    "fpn_levels": ["0", "1", "2", "pool"],
    "fpn_strides": [8, 16, 32, 64],
    "anchor_sizes": [[16], [32], [64], [128]],
    "aspect_ratios": [0.5, 1.0, 2.0],
    "roi_featmap_names": ["0", "1", "2"],
    "box_roi_output_size": 7,
    "mask_roi_output_size": 14,
    "roi_sampling_ratio": 2,
    "box_head_representation_size": 512,
    "mask_head_layers": [128, 128, 128, 128],
    "mask_head_dilation": 1,
    "mask_predictor_dim_reduced": 128,
    # keypoint branch (only with build_model(keypoints=True))
    "keypoint_roi_output_size": 14,
    "keypoint_head_layers": [128, 128, 128, 128],
    "num_keypoints": len(KEYPOINT_NAMES),
    "min_size": 448,
    "max_size": 448,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    # torchvision defaults except the RPN test-time top-n (speed; the scenes hold <= 8 objects).
    "rpn_pre_nms_top_n_train": 2000,
    "rpn_post_nms_top_n_train": 2000,
    "rpn_pre_nms_top_n_test": 500,
    "rpn_post_nms_top_n_test": 300,
    "rpn_nms_thresh": 0.7,
    "rpn_fg_iou_thresh": 0.7,
    "rpn_bg_iou_thresh": 0.3,
    "rpn_batch_size_per_image": 256,
    "rpn_positive_fraction": 0.5,
    "rpn_score_thresh": 0.0,
    "box_score_thresh": 0.05,
    "box_nms_thresh": 0.5,
    "box_detections_per_img": 100,
    "box_fg_iou_thresh": 0.5,
    "box_bg_iou_thresh": 0.5,
    # training-only: fewer sampled RoIs per image than the default 512 (CPU time; <= 8 objects)
    "box_batch_size_per_image": 128,
    "box_positive_fraction": 0.25,
}

_MASKRCNN_ARGS = [
    "min_size", "max_size", "image_mean", "image_std",
    "rpn_pre_nms_top_n_train", "rpn_pre_nms_top_n_test", "rpn_post_nms_top_n_train",
    "rpn_post_nms_top_n_test", "rpn_nms_thresh", "rpn_fg_iou_thresh", "rpn_bg_iou_thresh",
    "rpn_batch_size_per_image", "rpn_positive_fraction", "rpn_score_thresh",
    "box_score_thresh", "box_nms_thresh", "box_detections_per_img", "box_fg_iou_thresh",
    "box_bg_iou_thresh", "box_batch_size_per_image", "box_positive_fraction",
]


def build_model(num_classes=NUM_CLASSES, cfg=MODEL_KWARGS, keypoints=False):
    """Returns the torchvision MaskRCNN described by `cfg` (randomly initialised); with
    `keypoints`, its roi_heads also carry the keypoint branch (see add_keypoint_branch)."""
    features = torchvision.models.mobilenet_v3_large(
        weights=None, norm_layer=torch.nn.BatchNorm2d).features
    backbone = BackboneWithFPN(
        features,
        return_layers=dict(cfg["return_layers"]),
        in_channels_list=list(cfg["in_channels_list"]),
        out_channels=cfg["fpn_out_channels"],
        extra_blocks=LastLevelMaxPool(),
    )
    c = cfg["fpn_out_channels"]
    anchors = AnchorGenerator(
        sizes=tuple(tuple(s) for s in cfg["anchor_sizes"]),
        aspect_ratios=(tuple(cfg["aspect_ratios"]),) * len(cfg["anchor_sizes"]),
    )
    rpn_head = RPNHead(c, len(cfg["aspect_ratios"]))
    names = list(cfg["roi_featmap_names"])
    box_roi_pool = MultiScaleRoIAlign(names, cfg["box_roi_output_size"], cfg["roi_sampling_ratio"])
    rep = cfg["box_head_representation_size"]
    box_head = TwoMLPHead(c * cfg["box_roi_output_size"] ** 2, rep)
    box_predictor = FastRCNNPredictor(rep, num_classes)
    mask_roi_pool = MultiScaleRoIAlign(names, cfg["mask_roi_output_size"], cfg["roi_sampling_ratio"])
    mask_head = MaskRCNNHeads(c, list(cfg["mask_head_layers"]), cfg["mask_head_dilation"])
    mask_predictor = MaskRCNNPredictor(cfg["mask_head_layers"][-1],
                                       cfg["mask_predictor_dim_reduced"], num_classes)
    model = MaskRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=anchors,
        rpn_head=rpn_head,
        box_roi_pool=box_roi_pool,
        box_head=box_head,
        box_predictor=box_predictor,
        mask_roi_pool=mask_roi_pool,
        mask_head=mask_head,
        mask_predictor=mask_predictor,
        **{k: cfg[k] for k in _MASKRCNN_ARGS},
    )
    if keypoints:
        add_keypoint_branch(model, cfg)
    return model


def add_keypoint_branch(model, cfg=MODEL_KWARGS):
    """Sets the keypoint RoI pool, head and predictor on `model.roi_heads` (RoIHeads.has_keypoint()
    checks exactly these three), randomly initialised as torchvision initialises them. In training
    mode RoIHeads then adds "loss_keypoint" (targets need "keypoints": float [N, K, 3]); in eval
    mode every result has "keypoints" [N, K, 3] and "keypoints_scores" [N, K]."""
    c = cfg["fpn_out_channels"]
    layers = list(cfg["keypoint_head_layers"])
    rh = model.roi_heads
    rh.keypoint_roi_pool = MultiScaleRoIAlign(list(cfg["roi_featmap_names"]),
                                              cfg["keypoint_roi_output_size"], cfg["roi_sampling_ratio"])
    rh.keypoint_head = KeypointRCNNHeads(c, layers)
    rh.keypoint_predictor = KeypointRCNNPredictor(layers[-1], cfg["num_keypoints"])
    return model


def is_keypoint_parameter(name):
    """True for the state_dict / named_parameters names of the keypoint branch."""
    return name.startswith(("roi_heads.keypoint_head.", "roi_heads.keypoint_predictor."))


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    torch.manual_seed(0)
    m = build_model(keypoints=True)
    m.eval()
    size = MODEL_KWARGS["min_size"]
    x = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        y = x
        for i, blk in enumerate(torchvision.models.mobilenet_v3_large(weights=None).features):
            y = blk(y)
            print(f"features.{i}: {tuple(y.shape)}  stride {size // y.shape[-1]}")
        out = m.backbone(x)
        for k, v in out.items():
            print(f"FPN level {k!r}: {tuple(v.shape)}  stride {size // v.shape[-1]}")
    n = parameter_count(m)
    kp = sum(p.numel() for k, p in m.named_parameters() if is_keypoint_parameter(k))
    print(f"keypoint branch: {kp:,} parameters; without it {n - kp:,}")
    buffers = sum(b.numel() for b in m.buffers())
    print(f"parameters: {n:,} ({n * 4 / 2**20:.1f} MiB fp32); buffers {buffers:,}")
