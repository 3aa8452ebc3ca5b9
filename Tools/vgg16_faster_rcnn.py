"""Faster R-CNN on a VGG-16 backbone, the original Fast/Faster R-CNN network, built from torchvision
modules so that the converter (Tools/convert_torchvision.py) and the parity fixtures can use it.

torchvision ships no VGG detector, so this module defines the shape the papers describe:

  backbone   torchvision's `vgg16().features` without its last max pool: conv1_1 .. conv5_3 with
             ReLUs and four 2x2 max pools, one feature map "0" of 512 channels at stride 16.
  rpn        AnchorGenerator sizes (128, 256, 512) x ratios (0.5, 1, 2) on that one map (9 anchors
             per position), RPNHead(512, 9).
  box head   RoI max pooling to 7x7 at spatial scale 1/16 (`RoIPoolOnFeatures`, Fast R-CNN's RoI
             pooling layer; `roi_pool="roi_align"` gives MultiScaleRoIAlign on the single map instead),
             fc6 and fc7 of 4096 with ReLU (`TwoMLPHead`), `FastRCNNPredictor`.
  transform  shorter side 600, longer side at most 1000 (the papers' test scale), ImageNet mean/std.
  test-time  RPN keeps 6000 boxes before and 300 after NMS (Faster R-CNN, section 3.3).

State-dict names: `backbone.body.{i}.weight|bias` with `i` the index in `vgg16().features`
(0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28), then torchvision's usual `rpn.*` and `roi_heads.*`.
A user's own VGG-16 Faster R-CNN converts when its state_dict uses these names.
"""
import collections

import torch
import torchvision
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign

STRIDE = 16
POOL_SIZE = 7


class VGGBackbone(nn.Module):
    """`features` of a torchvision VGG (conv 3x3 pad 1 + ReLU, 2x2 max pools) up to its last ReLU;
    returns {"0": map} like torchvision's other detection backbones."""

    def __init__(self, features, out_channels):
        super().__init__()
        self.body = features
        self.out_channels = out_channels

    def forward(self, x):
        return collections.OrderedDict([("0", self.body(x))])


class RoIPoolOnFeatures(MultiScaleRoIAlign):
    """RoI max pooling (`torchvision.ops.roi_pool`) of one named feature map at a fixed spatial
    scale, with the call signature RoIHeads expects of its `box_roi_pool` (a MultiScaleRoIAlign
    subclass only because FasterRCNN checks that type; nothing of RoIAlign runs)."""

    def __init__(self, featmap_name, output_size, spatial_scale):
        super().__init__([featmap_name], output_size, 0)
        self.featmap_name = featmap_name
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, features, proposals, image_shapes):
        return torchvision.ops.roi_pool(features[self.featmap_name], proposals,
                                        (self.output_size, self.output_size), self.spatial_scale)


def vgg16_backbone():
    features = torchvision.models.vgg16(weights=None).features
    body = nn.Sequential(*list(features.children())[:-1])  # drop pool5: conv5_3 at stride 16
    return VGGBackbone(body, 512)


def fasterrcnn_vgg16(weights=None, weights_backbone=None, num_classes=21, roi_pool="roi_pool", **kwargs):
    """A randomly initialised VGG-16 Faster R-CNN (see the module docstring); `kwargs` override the
    FasterRCNN arguments (thresholds, sizes)."""
    if weights is not None or weights_backbone is not None:
        raise ValueError("fasterrcnn_vgg16 has no published weights; load a state_dict instead")
    backbone = vgg16_backbone()
    anchors = AnchorGenerator(sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),))
    if roi_pool == "roi_pool":
        pool = RoIPoolOnFeatures("0", POOL_SIZE, 1.0 / STRIDE)
    elif roi_pool == "roi_align":
        pool = MultiScaleRoIAlign(["0"], POOL_SIZE, 2)
    else:
        raise ValueError(f"roi_pool must be roi_pool or roi_align, not {roi_pool!r}")
    args = {"min_size": 600, "max_size": 1000, "rpn_pre_nms_top_n_test": 6000,
            "rpn_post_nms_top_n_test": 300}
    args.update(kwargs)
    return FasterRCNN(
        backbone,
        num_classes=None,
        rpn_anchor_generator=anchors,
        box_roi_pool=pool,
        box_head=TwoMLPHead(512 * POOL_SIZE * POOL_SIZE, 4096),
        box_predictor=FastRCNNPredictor(4096, num_classes),
        **args,
    )


def vgg_body_config(body, unsupported):
    """Config of a VGG body: `stages` = conv widths per stage; a 2x2 max pool follows every stage but
    the last. Raises through `unsupported(where, module)` on anything else."""
    stages, current, in_channels = [], [], 3
    children = list(body.children())
    i = 0
    while i < len(children):
        m = children[i]
        where = f"backbone.body.{i}"
        if isinstance(m, nn.Conv2d):
            if tuple(m.kernel_size) != (3, 3) or tuple(m.stride) != (1, 1) or tuple(m.padding) != (1, 1) \
                    or tuple(m.dilation) != (1, 1) or m.groups != 1 or m.bias is None \
                    or m.in_channels != in_channels:
                unsupported(where, m)
            if i + 1 >= len(children) or not isinstance(children[i + 1], nn.ReLU):
                unsupported(f"backbone.body.{i + 1}", children[i + 1] if i + 1 < len(children) else None)
            current.append(int(m.out_channels))
            in_channels = m.out_channels
            i += 2
        elif isinstance(m, nn.MaxPool2d):
            if m.kernel_size not in (2, (2, 2)) or m.stride not in (2, (2, 2)) or m.padding not in (0, (0, 0)) \
                    or m.ceil_mode or not current:
                unsupported(where, m)
            stages.append(current)
            current = []
            i += 1
        else:
            unsupported(where, m)
    if not current:
        raise ValueError("backbone.body ends with a max pool; the engine expects the last conv's ReLU")
    stages.append(current)
    return {"type": "vgg", "stages": stages, "return_layers": {str(len(children) - 1): "0"},
            "norm": None, "norm_eps": None}
