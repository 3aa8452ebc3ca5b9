#!/usr/bin/env python3
"""Convert a torchvision Faster/Mask R-CNN checkpoint into rcnn's `NAME.json` + `NAME.safetensors`.

    python3 Tools/convert_torchvision.py --arch maskrcnn_resnet50_fpn --checkpoint model.pth \
        --name maskrcnn_resnet50_fpn --out Config/models [--classes classes.txt] [thresholds...]

The checkpoint is a state_dict, or a dict with a "model" key (torchvision's reference training
scripts save that). The model is rebuilt with the torchvision builder for `--arch` (weights=None,
weights_backbone=None, num_classes read from the box predictor, plus any threshold flags), the
state_dict is loaded strictly, and then:

  * the config is written by introspecting the live model object (`config_from_model`), so every
    value in it is the one torchvision itself uses (transform sizes, anchors, RPN top-n, heads...);
  * the weights are written from `model.state_dict()` (legacy key names already upgraded by
    torchvision's own `_load_from_state_dict` hooks), every tensor contiguous float32 under its
    exact name, `num_batches_tracked` dropped.

`--arch fasterrcnn_vgg16` is the VGG-16 Faster R-CNN defined in Tools/vgg16_faster_rcnn.py (torchvision
has no builder for it); its checkpoints must use the state_dict names documented there.

Other scripts (our training script) call `config_from_model` / `convert_model` directly on any
GeneralizedRCNN built from the stock modules supported here; anything else raises
`UnsupportedModel` naming the module. The file formats are described in Docs/model-config.md.

Classes: `--classes FILE` (one name per line; if it has num_classes-1 lines, "__background__" is
prepended), else torchvision's COCO category names when num_classes == 91, "person" for a keypoint
model with one class, else "class_N".

Keypoints: `--arch keypointrcnn_resnet50_fpn` (both published versions, and heads of other widths
and keypoint counts): the count is read from the predictor; names from `--keypoint-names FILE`,
else COCO's 17 person keypoints with their skeleton and OKS sigmas when the count is 17.

Batch-norm eps: torchvision's `fasterrcnn_resnet50_fpn(weights=COCO_V1)`,
`maskrcnn_resnet50_fpn(weights=COCO_V1)` and `keypointrcnn_resnet50_fpn(weights=COCO_V1)` (not its
COCO_LEGACY weights) run their backbone's FrozenBatchNorm2d with eps=0.0
(`overwrite_eps`, a backwards-compatibility fix); a model built with weights=None uses 1e-5. Pass
`--backbone-bn-eps 0` when converting those COCO checkpoints (or models fine-tuned from them) to
match torchvision exactly. The eps in use is recorded in the config (`backbone.norm_eps`).
"""
import argparse
import collections
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torch import nn
from torchvision.models import resnet as tv_resnet
from torchvision.models import mobilenetv3 as tv_mobilenetv3
from torchvision.models.detection import faster_rcnn as tv_faster_rcnn
from torchvision.models.detection import keypoint_rcnn as tv_keypoint_rcnn
from torchvision.models.detection import mask_rcnn as tv_mask_rcnn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool
from torchvision.ops.misc import Conv2dNormActivation, FrozenBatchNorm2d, SqueezeExcitation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vgg16_faster_rcnn as vgg  # noqa: E402  (the VGG-16 Faster R-CNN torchvision does not ship)

FORMAT_VERSION = 1

ARCHS = (
    "fasterrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "maskrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "fasterrcnn_vgg16",
    "keypointrcnn_resnet50_fpn",
)

# COCO's person keypoints (the order torchvision's keypointrcnn_resnet50_fpn predicts), the
# skeleton as 0-based index pairs, and the per-keypoint OKS sigmas of COCO's keypoint evaluation.
COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
COCO_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
    (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
COCO_KEYPOINT_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
                        0.107, 0.107, 0.087, 0.087, 0.089, 0.089)

# CLI flag -> torchvision builder keyword (FasterRCNN/MaskRCNN __init__ argument).
THRESHOLD_FLAGS = (
    ("box_score_thresh", float),
    ("box_nms_thresh", float),
    ("box_detections_per_img", int),
    ("rpn_pre_nms_top_n_test", int),
    ("rpn_post_nms_top_n_test", int),
    ("rpn_nms_thresh", float),
    ("rpn_score_thresh", float),
    ("min_size", int),
    ("max_size", int),
)

_BN_TYPES = (nn.BatchNorm2d, FrozenBatchNorm2d)


class ConversionError(Exception):
    """A checkpoint or argument problem, reported to the user without a traceback."""


class UnsupportedModel(ConversionError):
    """The model contains a module the rcnn engine does not implement."""


# ----------------------------------------------------------------------------------------------
# safetensors (written by hand: the format is 8 bytes + JSON + raw data, see Docs/model-config.md)

_ST_DTYPES = {
    np.dtype("float32"): "F32",
    np.dtype("float64"): "F64",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}


def write_safetensors(path, tensors, metadata=None):
    """Writes `tensors` (name -> torch.Tensor or numpy array, in order) to `path`.

    Returns the SHA-256 hex digest of the written file. The header is padded with spaces to a
    multiple of 8 bytes so that the data section is 8-byte aligned (as the reference writer does).
    """
    header = collections.OrderedDict()
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous().numpy()
        arr = np.ascontiguousarray(value)
        if arr.dtype not in _ST_DTYPES:
            raise ConversionError(f"tensor {name!r}: dtype {arr.dtype} not supported by the writer")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        data = arr.tobytes()
        header[name] = {
            "dtype": _ST_DTYPES[arr.dtype.newbyteorder("=")],
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    digest = hashlib.sha256()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for chunk in (len(head).to_bytes(8, "little"), head, *blobs):
            f.write(chunk)
            digest.update(chunk)
    os.replace(tmp, path)
    return digest.hexdigest()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# checkpoint loading

def load_checkpoint(path):
    """Returns the state_dict stored in `path` (a state_dict or {"model": state_dict, ...})."""
    # weights_only: the unpickler builds only tensors, storages and plain containers, so a
    # checkpoint whose pickle names os.system (or any other callable) is refused, not executed.
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ConversionError(
            f"{path}: cannot read checkpoint (only tensors and plain containers are loaded; "
            f"pickled code or other objects are refused): {e}") from e
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise ConversionError(f"{path}: expected a state_dict or a dict with a 'model' key")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConversionError(f"{path}: entries that are not tensors: {bad[:5]}")
    # DistributedDataParallel checkpoints prefix every key with "module.".
    if all(k.startswith("module.") for k in obj):
        stripped = collections.OrderedDict((k[len("module."):], v) for k, v in obj.items())
        if hasattr(obj, "_metadata"):
            stripped._metadata = collections.OrderedDict(
                (k[len("module."):] if k.startswith("module.") else k, v) for k, v in obj._metadata.items())
        obj = stripped
    return obj


def infer_num_keypoints(state_dict):
    """The keypoint count of a keypoint R-CNN state_dict (None when it has no keypoint predictor)."""
    w = state_dict.get("roi_heads.keypoint_predictor.kps_score_lowres.weight")
    return None if w is None or w.dim() != 4 else int(w.shape[1])


def infer_keypoint_layers(state_dict):
    """The keypoint head's conv widths (KeypointRCNNHeads puts them at 0, 2, 4, ...)."""
    layers = []
    while f"roi_heads.keypoint_head.{2 * len(layers)}.weight" in state_dict:
        w = state_dict[f"roi_heads.keypoint_head.{2 * len(layers)}.weight"]
        if w.dim() != 4:
            raise ConversionError(f"roi_heads.keypoint_head.{2 * len(layers)}.weight has shape {tuple(w.shape)}")
        layers.append(int(w.shape[0]))
    return layers


def infer_num_classes(state_dict, source="checkpoint"):
    key = "roi_heads.box_predictor.cls_score.weight"
    if key not in state_dict:
        raise ConversionError(f"{source}: no {key!r}, cannot infer num_classes "
                              "(is this a Faster/Mask R-CNN state_dict?)")
    return int(state_dict[key].shape[0])


def load_state_dict_strict(model, state_dict, source="checkpoint"):
    """Loads `state_dict` into `model`, failing with every missing/unexpected/mismatched key.

    `num_batches_tracked` may be missing or extra: FrozenBatchNorm2d checkpoints (torchvision's
    pretrained weights) have none, and the converter drops them anyway.
    """
    expected = model.state_dict()
    mismatched = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
                  for k, v in state_dict.items()
                  if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if mismatched:
        raise ConversionError(f"{source}: {len(mismatched)} shape mismatch(es):\n  "
                              + "\n  ".join(mismatched))
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as e:  # shape mismatches on keys renamed by legacy-upgrade hooks
        raise ConversionError(f"{source}: {e}") from e
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    unexpected = [k for k in result.unexpected_keys if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        lines = []
        if missing:
            lines.append(f"missing keys ({len(missing)}): " + ", ".join(missing))
        if unexpected:
            lines.append(f"unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
        raise ConversionError(f"{source}: state_dict does not match the model:\n  " + "\n  ".join(lines))


def build_model(arch, num_classes, num_keypoints=None, keypoint_layers=None, **kwargs):
    """The torchvision model for `arch`, randomly initialised, in eval mode. A keypoint model gets
    `num_keypoints` (17 by default) and, when given, a keypoint head of `keypoint_layers` widths
    instead of the builder's eight 512-wide convs."""
    if arch not in ARCHS:
        raise ConversionError(f"unknown --arch {arch!r}; expected one of {', '.join(ARCHS)}")
    if arch.startswith("keypointrcnn"):
        kwargs["num_keypoints"] = num_keypoints or 17
    elif num_keypoints is not None:
        raise ConversionError(f"the checkpoint has a keypoint head ({num_keypoints} keypoints) but --arch {arch} has none")
    builder = vgg.fasterrcnn_vgg16 if arch == "fasterrcnn_vgg16" else getattr(torchvision.models.detection, arch)
    model = builder(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    if keypoint_layers and list(keypoint_layers) != [512] * 8:
        # The builder always makes eight 512-wide convs; other widths replace the head in place
        # (same module names and order).
        rh = model.roi_heads
        rh.keypoint_head = tv_keypoint_rcnn.KeypointRCNNHeads(model.backbone.out_channels, list(keypoint_layers))
        rh.keypoint_predictor = tv_keypoint_rcnn.KeypointRCNNPredictor(keypoint_layers[-1], kwargs["num_keypoints"])
    return model.eval()


# ----------------------------------------------------------------------------------------------
# classes

def coco_classes():
    """torchvision's 91 COCO category names ('__background__' and 'N/A' placeholders included)."""
    from torchvision.models._meta import _COCO_CATEGORIES
    return list(_COCO_CATEGORIES)


def resolve_keypoints(num_keypoints, names_file=None):
    """Keypoint names (a file, one per line; COCO's person keypoints for 17) and the skeleton
    (COCO's for 17 unless a names file is given; none otherwise)."""
    if names_file:
        with open(names_file, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) != num_keypoints:
            raise ConversionError(f"{names_file}: {len(names)} keypoint names, but the model predicts {num_keypoints}")
        return names, []
    if num_keypoints == 17:
        return list(COCO_KEYPOINTS), [list(p) for p in COCO_SKELETON]
    return [f"keypoint_{i}" for i in range(num_keypoints)], []


def resolve_classes(num_classes, classes_file=None, keypoints=False):
    if classes_file:
        with open(classes_file, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) == num_classes - 1:
            names = ["__background__"] + names
        if len(names) != num_classes:
            raise ConversionError(f"{classes_file}: {len(names)} class names, but the model has "
                                  f"num_classes={num_classes} (background included); give "
                                  f"{num_classes} or {num_classes - 1} lines")
        return names
    if num_classes == 91:
        return coco_classes()
    if keypoints and num_classes == 2:
        return ["__background__", "person"]  # torchvision's person keypoint models
    return ["__background__"] + [f"class_{i}" for i in range(1, num_classes)]


# ----------------------------------------------------------------------------------------------
# introspection helpers

def _is(module, types):
    """Exact type match: a subclass may override forward(), which the engine would not mirror."""
    types = types if isinstance(types, tuple) else (types,)
    return type(module) in types


def _unsupported(where, module):
    raise UnsupportedModel(f"{where}: unsupported module {type(module).__module__}."
                           f"{type(module).__name__}")


def _norm_of(modules, where):
    """("batchnorm", eps) if `modules` hold batch norms (all with one eps), (None, None) if none."""
    bns = [m for m in modules if isinstance(m, _BN_TYPES)]
    others = [m for m in modules if isinstance(m, nn.modules.batchnorm._NormBase) and not isinstance(m, _BN_TYPES)]
    others += [m for m in modules if isinstance(m, (nn.GroupNorm, nn.LayerNorm))]
    if others:
        _unsupported(where, others[0])
    if not bns:
        return None, None
    eps = {float(m.eps) for m in bns}
    if len(eps) != 1:
        raise UnsupportedModel(f"{where}: batch norms with different eps {sorted(eps)}")
    return "batchnorm", eps.pop()


def _activation_name(module, where):
    if module is None:
        return None
    if _is(module, nn.ReLU):
        return "relu"
    if _is(module, nn.Hardswish):
        return "hardswish"
    _unsupported(where, module)


def _parse_conv_norm_act(block, where):
    """Splits a Conv2dNormActivation into (conv, norm module or None, activation name or None)."""
    if not _is(block, Conv2dNormActivation):
        _unsupported(where, block)
    parts = list(block.children())
    conv = parts[0]
    if not _is(conv, nn.Conv2d):
        _unsupported(where, conv)
    norm = None
    rest = parts[1:]
    if rest and isinstance(rest[0], nn.Module) and not isinstance(rest[0], (nn.ReLU, nn.Hardswish)):
        norm = rest.pop(0)
        if not isinstance(norm, _BN_TYPES):
            _unsupported(where, norm)
    if len(rest) > 1:
        _unsupported(where, rest[1])
    act = _activation_name(rest[0], where) if rest else None
    return conv, norm, act


def _check_conv(conv, where, kernel=None, stride=None, padding=None, dilation=None, groups=None):
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    checks = (("kernel_size", kernel), ("stride", stride), ("padding", padding), ("dilation", dilation))
    for attr, want in checks:
        if want is not None and pair(getattr(conv, attr)) != pair(want):
            raise UnsupportedModel(f"{where}: conv {attr} {getattr(conv, attr)}, expected {want}")
    if groups is not None and conv.groups != groups:
        raise UnsupportedModel(f"{where}: conv groups {conv.groups}, expected {groups}")
    if conv.padding_mode != "zeros":
        raise UnsupportedModel(f"{where}: conv padding_mode {conv.padding_mode!r}")


def _square(size, where):
    size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
    if len(size) != 2:
        raise UnsupportedModel(f"{where}: output_size {size}")
    return int(size[0]) if size[0] == size[1] else [int(size[0]), int(size[1])]


# ----------------------------------------------------------------------------------------------
# backbones

def _resnet_config(body):
    where = "backbone.body (ResNet)"
    names = [n for n, _ in body.named_children()]
    if names[:4] != ["conv1", "bn1", "relu", "maxpool"]:
        raise UnsupportedModel(f"{where}: children {names} do not look like a torchvision ResNet")
    _check_conv(body.conv1, where + ".conv1", kernel=7, stride=2, padding=3, groups=1)
    if body.conv1.bias is not None or body.conv1.in_channels != 3:
        raise UnsupportedModel(f"{where}.conv1: expected Conv2d(3, C, 7, 2, 3, bias=False)")
    mp = body.maxpool
    if not _is(mp, nn.MaxPool2d) or (mp.kernel_size, mp.stride, mp.padding) not in ((3, 2, 1),):
        _unsupported(where + ".maxpool", mp)
    layer_names = names[4:]
    if layer_names != [f"layer{i}" for i in range(1, len(layer_names) + 1)]:
        raise UnsupportedModel(f"{where}: unexpected children after maxpool: {layer_names}")
    blocks = [b for n in layer_names for b in getattr(body, n)]
    if all(_is(b, tv_resnet.Bottleneck) for b in blocks):
        block = "bottleneck"
        inner = "conv2"
    elif all(_is(b, tv_resnet.BasicBlock) for b in blocks):
        block = "basic"
        inner = "conv1"
    else:
        _unsupported(where, next(b for b in blocks if not _is(b, (tv_resnet.Bottleneck, tv_resnet.BasicBlock))))
    for n in layer_names:
        for i, b in enumerate(getattr(body, n)):
            for c in (m for m in b.modules() if isinstance(m, nn.Conv2d)):
                if c.dilation not in (1, (1, 1)):
                    raise UnsupportedModel(f"{where}.{n}.{i}: dilated ResNet (replace_stride_with_dilation)")
            if not _is(b.relu, nn.ReLU):
                _unsupported(f"{where}.{n}.{i}.relu", b.relu)
    first = body.layer1[0]
    groups = getattr(first, inner).groups
    # torchvision: width = planes * (width_per_group / 64) * groups, planes = 64 in layer1.
    width_per_group = getattr(first, inner).out_channels // groups
    norm, eps = _norm_of(list(body.modules()), where)
    if norm is None:
        raise UnsupportedModel(f"{where}: no batch norm layers")
    return {
        "type": "resnet",
        "block": block,
        "layers": [len(getattr(body, n)) for n in layer_names],
        "stem_channels": int(body.conv1.out_channels),
        "groups": int(groups),
        "width_per_group": int(width_per_group),
        "norm": norm,
        "norm_eps": eps,
        "return_layers": {str(k): str(v) for k, v in body.return_layers.items()},
    }


def _inverted_residual_config(block, where):
    layers = list(block.block.children())
    if not layers:
        _unsupported(where, block)
    project = layers[-1]
    pconv, pnorm, pact = _parse_conv_norm_act(project, where + ".project")
    if pact is not None:
        raise UnsupportedModel(f"{where}: projection with activation {pact}")
    middle = layers[:-1]
    se = None
    if middle and _is(middle[-1], SqueezeExcitation):
        se = middle.pop()
    if len(middle) == 2:
        econv, _, eact = _parse_conv_norm_act(middle[0], where + ".expand")
        _check_conv(econv, where + ".expand", kernel=1, stride=1, padding=0, groups=1)
        dw = middle[1]
    elif len(middle) == 1:
        econv, eact = None, None
        dw = middle[0]
    else:
        raise UnsupportedModel(f"{where}: {len(middle)} convs before the projection, expected 1 or 2")
    dconv, _, dact = _parse_conv_norm_act(dw, where + ".depthwise")
    expanded = dconv.in_channels
    if dconv.groups != expanded or dconv.out_channels != expanded:
        raise UnsupportedModel(f"{where}: middle conv is not depthwise")
    k = dconv.kernel_size[0]
    dil = dconv.dilation[0]
    _check_conv(dconv, where + ".depthwise", kernel=k, padding=(k - 1) // 2 * dil)
    if eact is not None and eact != dact:
        raise UnsupportedModel(f"{where}: expand activation {eact} != depthwise activation {dact}")
    se_channels = None
    if se is not None:
        if not (_is(se.activation, nn.ReLU) and _is(se.scale_activation, nn.Hardsigmoid)):
            raise UnsupportedModel(f"{where}: SqueezeExcitation must use ReLU + Hardsigmoid")
        se_channels = int(se.fc1.out_channels)
    _check_conv(pconv, where + ".project", kernel=1, stride=1, padding=0, groups=1)
    input_channels = econv.in_channels if econv is not None else expanded
    return {
        "input_channels": int(input_channels),
        "kernel": int(k),
        "expanded_channels": int(expanded),
        "out_channels": int(pconv.out_channels),
        "use_se": se is not None,
        "se_channels": se_channels,
        "activation": dact,
        "stride": int(dconv.stride[0]),
        "dilation": int(dil),
        "residual": bool(block.use_res_connect),
    }


def _mobilenet_v3_config(body):
    where = "backbone.body (MobileNetV3 features)"
    children = list(body.named_children())
    if [n for n, _ in children] != [str(i) for i in range(len(children))]:
        raise UnsupportedModel(f"{where}: children are not a numbered Sequential")
    stem_conv, _, stem_act = _parse_conv_norm_act(children[0][1], where + ".0")
    _check_conv(stem_conv, where + ".0", kernel=3, stride=2, padding=1, groups=1)
    blocks = []
    last_channels = None
    last_activation = None
    for name, module in children[1:]:
        if _is(module, tv_mobilenetv3.InvertedResidual):
            if last_channels is not None:
                raise UnsupportedModel(f"{where}.{name}: InvertedResidual after the last 1x1 conv")
            blocks.append(_inverted_residual_config(module, f"{where}.{name}"))
        elif _is(module, Conv2dNormActivation) and name == children[-1][0]:
            conv, _, act = _parse_conv_norm_act(module, f"{where}.{name}")
            _check_conv(conv, f"{where}.{name}", kernel=1, stride=1, padding=0, groups=1)
            last_channels, last_activation = int(conv.out_channels), act
        else:
            _unsupported(f"{where}.{name}", module)
    for i in range(1, len(blocks)):
        if blocks[i]["input_channels"] != blocks[i - 1]["out_channels"]:
            raise UnsupportedModel(f"{where}: block {i + 1} input channels do not chain")
    norm, eps = _norm_of(list(body.modules()), where)
    cfg = {
        "type": "mobilenet_v3",
        "variant": _mobilenet_variant(blocks, int(stem_conv.out_channels)),
        "stem_channels": int(stem_conv.out_channels),
        "stem_activation": stem_act,
        "last_channels": last_channels,
        "last_activation": last_activation,
        "blocks": blocks,
        "norm": norm,
        "norm_eps": eps,
        "return_layers": {str(k): str(v) for k, v in body.return_layers.items()},
    }
    return cfg


def _mobilenet_variant(blocks, stem_channels):
    """Names the torchvision preset the blocks match (checked against _mobilenet_v3_conf)."""
    for arch in ("mobilenet_v3_large", "mobilenet_v3_small"):
        for dilated in (False, True):
            for reduced_tail in (False, True):
                setting, _ = tv_mobilenetv3._mobilenet_v3_conf(arch, dilated=dilated, reduced_tail=reduced_tail)
                if len(blocks) > len(setting) or setting[0].input_channels != stem_channels:
                    continue
                ok = True
                for b, c in zip(blocks, setting):
                    actual_stride = 1 if c.dilation > 1 else c.stride
                    want = (c.input_channels, c.kernel, c.expanded_channels, c.out_channels, c.use_se,
                            "hardswish" if c.use_hs else "relu", actual_stride, c.dilation)
                    got = (b["input_channels"], b["kernel"], b["expanded_channels"], b["out_channels"],
                           b["use_se"], b["activation"], b["stride"], b["dilation"])
                    if want != got:
                        ok = False
                        break
                if ok:
                    suffix = ("_dilated" if dilated else "") + ("_reduced_tail" if reduced_tail else "")
                    return arch + suffix
    return "custom"


def _backbone_config(backbone):
    if _is(backbone, vgg.VGGBackbone):
        return vgg.vgg_body_config(backbone.body, _unsupported)
    if not _is(backbone, BackboneWithFPN):
        _unsupported("backbone", backbone)
    body = backbone.body
    names = [n for n, _ in body.named_children()]
    if "conv1" in names and "layer1" in names:
        return _resnet_config(body)
    if names and _is(getattr(body, names[-1]), (tv_mobilenetv3.InvertedResidual, Conv2dNormActivation)) \
            and any(_is(m, tv_mobilenetv3.InvertedResidual) for m in body.children()):
        return _mobilenet_v3_config(body)
    raise UnsupportedModel(f"backbone.body: children {names[:6]}... are neither a ResNet nor MobileNetV3 features")


def _fpn_config(fpn):
    where = "backbone.fpn"
    if not _is(fpn, FeaturePyramidNetwork):
        _unsupported(where, fpn)
    in_channels, out = [], None
    norm_kinds = set()
    for i, (inner, layer) in enumerate(zip(fpn.inner_blocks, fpn.layer_blocks)):
        iconv, inorm, iact = _parse_conv_norm_act(inner, f"{where}.inner_blocks.{i}")
        lconv, lnorm, lact = _parse_conv_norm_act(layer, f"{where}.layer_blocks.{i}")
        _check_conv(iconv, f"{where}.inner_blocks.{i}", kernel=1, stride=1, padding=0, groups=1)
        _check_conv(lconv, f"{where}.layer_blocks.{i}", kernel=3, stride=1, padding=1, groups=1)
        if iact or lact:
            raise UnsupportedModel(f"{where}: activation in FPN block {i}")
        in_channels.append(int(iconv.in_channels))
        out = int(iconv.out_channels)
        norm_kinds.add((inorm is not None, lnorm is not None))
    if len(norm_kinds) != 1 or len(set(next(iter(norm_kinds)))) != 1:
        raise UnsupportedModel(f"{where}: normalization present in some FPN convs only")
    norm, eps = _norm_of(list(fpn.modules()), where)
    extra = fpn.extra_blocks
    if extra is None:
        extra_name = None
    elif isinstance(extra, LastLevelMaxPool):
        extra_name = "max_pool"
    else:
        _unsupported(f"{where}.extra_blocks", extra)
    return {"in_channels": in_channels, "out_channels": out, "norm": norm, "norm_eps": eps,
            "extra_block": extra_name}


def _feature_shapes(backbone):
    """(names, strides, channels) of the backbone's outputs, measured with a dummy forward."""
    side = 128
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, side, side))
    backbone.train(was_training)
    names = list(out.keys())
    strides = []
    for n, t in out.items():
        h = t.shape[-2]
        stride = side // h
        if stride * h != side or side // t.shape[-1] != stride:
            raise UnsupportedModel(f"backbone output {n!r}: cannot infer an integer stride from {tuple(t.shape)}")
        strides.append(int(stride))
    channels = {int(t.shape[1]) for t in out.values()}
    if len(channels) != 1:
        raise UnsupportedModel(f"backbone outputs have different channel counts {sorted(channels)}")
    return names, strides, channels.pop()


# ----------------------------------------------------------------------------------------------
# heads

def _roi_pool_config(pool, feature_names, where):
    if _is(pool, vgg.RoIPoolOnFeatures):
        if pool.featmap_name not in feature_names:
            raise UnsupportedModel(f"{where}: featmap_name {pool.featmap_name!r} is not a feature {feature_names}")
        return {"type": "roi_pool", "featmap_names": [pool.featmap_name],
                "output_size": _square(pool.output_size, where), "spatial_scale": float(pool.spatial_scale)}
    if not _is(pool, MultiScaleRoIAlign):
        _unsupported(where, pool)
    # MultiScaleRoIAlign pools from the features whose names are in featmap_names, in the order of
    # the feature dict (the FPN order), ignoring names the FPN does not produce (the MobileNet FPN
    # has no "2"/"3" although the default pooler lists them). We write that effective list.
    effective = [n for n in feature_names if n in pool.featmap_names]
    if not effective:
        raise UnsupportedModel(f"{where}: featmap_names {pool.featmap_names} match no feature {feature_names}")
    return {
        "type": "roi_align",
        "featmap_names": effective,
        "output_size": _square(pool.output_size, where),
        "sampling_ratio": int(pool.sampling_ratio),
        "canonical_scale": int(pool.canonical_scale),
        "canonical_level": int(pool.canonical_level),
    }


def _box_head_config(head, in_channels, resolution):
    where = "roi_heads.box_head"
    if _is(head, tv_faster_rcnn.TwoMLPHead):
        for fc in ("fc6", "fc7"):
            if not _is(getattr(head, fc), nn.Linear):
                _unsupported(f"{where}.{fc}", getattr(head, fc))
        want = in_channels * resolution[0] * resolution[1]
        if head.fc6.in_features != want:
            raise UnsupportedModel(f"{where}.fc6: in_features {head.fc6.in_features}, expected {want}")
        if head.fc7.in_features != head.fc6.out_features:
            raise UnsupportedModel(f"{where}: fc6/fc7 widths do not chain")
        return {"type": "two_mlp", "representation_size": int(head.fc7.out_features)}, int(head.fc7.out_features)
    if _is(head, tv_faster_rcnn.FastRCNNConvFCHead):
        conv_layers, fc_layers = [], []
        children = list(head.children())
        i = 0
        prev = in_channels
        norms = set()
        while i < len(children) and _is(children[i], Conv2dNormActivation):
            conv, norm, act = _parse_conv_norm_act(children[i], f"{where}.{i}")
            _check_conv(conv, f"{where}.{i}", kernel=3, stride=1, padding=1, groups=1)
            if act != "relu" or conv.in_channels != prev:
                raise UnsupportedModel(f"{where}.{i}: expected conv3x3({prev}, C) + norm + ReLU")
            norms.add(norm is not None)
            conv_layers.append(int(conv.out_channels))
            prev = conv.out_channels
            i += 1
        if i >= len(children) or not _is(children[i], nn.Flatten):
            raise UnsupportedModel(f"{where}: expected Flatten after the convs")
        i += 1
        prev = prev * resolution[0] * resolution[1]
        while i < len(children):
            lin = children[i]
            if not _is(lin, nn.Linear) or lin.in_features != prev or i + 1 >= len(children) \
                    or not _is(children[i + 1], nn.ReLU):
                _unsupported(f"{where}.{i}", lin)
            fc_layers.append(int(lin.out_features))
            prev = lin.out_features
            i += 2
        if len(norms) > 1:
            raise UnsupportedModel(f"{where}: normalization present in some convs only")
        norm, eps = _norm_of(list(head.modules()), where)
        return ({"type": "conv_fc", "conv_layers": conv_layers, "fc_layers": fc_layers,
                 "norm": norm, "norm_eps": eps}, int(prev))
    _unsupported(where, head)


def _mask_head_config(head, in_channels):
    where = "roi_heads.mask_head"
    if not _is(head, tv_mask_rcnn.MaskRCNNHeads):
        _unsupported(where, head)
    layers, dilations, norms = [], set(), set()
    prev = in_channels
    for i, block in enumerate(head.children()):
        conv, norm, act = _parse_conv_norm_act(block, f"{where}.{i}")
        d = conv.dilation[0]
        _check_conv(conv, f"{where}.{i}", kernel=3, stride=1, padding=d, dilation=d, groups=1)
        if act != "relu" or conv.in_channels != prev:
            raise UnsupportedModel(f"{where}.{i}: expected conv3x3({prev}, C) + ReLU")
        layers.append(int(conv.out_channels))
        dilations.add(int(d))
        norms.add(norm is not None)
        prev = conv.out_channels
    if len(dilations) != 1 or len(norms) != 1:
        raise UnsupportedModel(f"{where}: mixed dilation or normalization across layers")
    norm, eps = _norm_of(list(head.modules()), where)
    return {"layers": layers, "dilation": dilations.pop(), "norm": norm, "norm_eps": eps}, int(prev)


def _mask_predictor_config(pred, in_channels, num_classes):
    where = "roi_heads.mask_predictor"
    if not _is(pred, tv_mask_rcnn.MaskRCNNPredictor):
        _unsupported(where, pred)
    up, logits = pred.conv5_mask, pred.mask_fcn_logits
    if not _is(up, nn.ConvTranspose2d) or tuple(up.kernel_size) != (2, 2) or tuple(up.stride) != (2, 2) \
            or tuple(up.padding) != (0, 0) or tuple(up.output_padding) != (0, 0) or up.groups != 1:
        _unsupported(f"{where}.conv5_mask", up)
    if up.in_channels != in_channels:
        raise UnsupportedModel(f"{where}.conv5_mask: in_channels {up.in_channels}, mask head gives {in_channels}")
    _check_conv(logits, f"{where}.mask_fcn_logits", kernel=1, stride=1, padding=0, groups=1)
    if logits.out_channels != num_classes or logits.in_channels != up.out_channels:
        raise UnsupportedModel(f"{where}.mask_fcn_logits: shape ({logits.in_channels} -> {logits.out_channels}) "
                               f"does not fit dim_reduced {up.out_channels} / num_classes {num_classes}")
    return {"in_channels": int(up.in_channels), "dim_reduced": int(up.out_channels)}


# ----------------------------------------------------------------------------------------------
# the config

def _keypoint_head_config(head, in_channels):
    where = "roi_heads.keypoint_head"
    if not _is(head, tv_keypoint_rcnn.KeypointRCNNHeads):
        _unsupported(where, head)
    layers, prev = [], in_channels
    children = list(head.children())
    if len(children) % 2:
        raise UnsupportedModel(f"{where}: expected conv + ReLU pairs")
    for i in range(0, len(children), 2):
        conv, act = children[i], children[i + 1]
        if not _is(conv, nn.Conv2d) or not _is(act, nn.ReLU):
            raise UnsupportedModel(f"{where}.{i}: expected conv3x3 + ReLU")
        _check_conv(conv, f"{where}.{i}", kernel=3, stride=1, padding=1, dilation=1, groups=1)
        if conv.in_channels != prev or conv.bias is None:
            raise UnsupportedModel(f"{where}.{i}: expected conv3x3({prev}, C) with bias")
        layers.append(int(conv.out_channels))
        prev = conv.out_channels
    return {"layers": layers}, int(prev)


def _keypoint_predictor_config(pred, in_channels):
    where = "roi_heads.keypoint_predictor"
    if not _is(pred, tv_keypoint_rcnn.KeypointRCNNPredictor):
        _unsupported(where, pred)
    up = pred.kps_score_lowres
    if not _is(up, nn.ConvTranspose2d) or tuple(up.kernel_size) != (4, 4) or tuple(up.stride) != (2, 2) \
            or tuple(up.padding) != (1, 1) or tuple(up.output_padding) != (0, 0) or up.groups != 1 \
            or tuple(up.dilation) != (1, 1) or up.bias is None:
        _unsupported(f"{where}.kps_score_lowres", up)
    if up.in_channels != in_channels:
        raise UnsupportedModel(f"{where}.kps_score_lowres: in_channels {up.in_channels}, keypoint head gives {in_channels}")
    if int(pred.up_scale) != 2:
        raise UnsupportedModel(f"{where}: up_scale {pred.up_scale} (expected 2)")
    return {"in_channels": int(up.in_channels), "num_keypoints": int(up.out_channels)}


def config_from_model(model, name, arch, classes, keypoint_names=None, skeleton=None, keypoint_sigmas=None):
    """The rcnn model config (a dict, Docs/model-config.md) describing `model` as it runs in eval.

    `model` is a torchvision GeneralizedRCNN (FasterRCNN/MaskRCNN) built from stock modules;
    `classes` lists num_classes names, index = label. "weights"/"weights_sha256" are filled by
    `convert_model` (here: NAME.safetensors and null).
    """
    if not isinstance(model, GeneralizedRCNN):
        _unsupported("model", model)
    t = model.transform
    if not _is(t, GeneralizedRCNNTransform):
        _unsupported("transform", t)
    if t.fixed_size is not None:
        raise UnsupportedModel("transform: fixed_size is not supported")
    rpn, rh = model.rpn, model.roi_heads

    backbone = _backbone_config(model.backbone)
    fpn = _fpn_config(model.backbone.fpn) if _is(model.backbone, BackboneWithFPN) else None
    feature_names, feature_strides, feature_channels = _feature_shapes(model.backbone)
    if fpn is not None and feature_channels != fpn["out_channels"]:
        raise UnsupportedModel("backbone.out_channels does not match the FPN width")
    if model.backbone.out_channels != feature_channels:
        raise UnsupportedModel(f"backbone.out_channels {model.backbone.out_channels} but its maps have "
                               f"{feature_channels} channels")

    ag = rpn.anchor_generator
    if type(ag) is not AnchorGenerator:
        _unsupported("rpn.anchor_generator", ag)
    sizes = [[int(s) for s in level] for level in ag.sizes]
    ratios = [[float(r) for r in level] for level in ag.aspect_ratios]
    if len(sizes) != len(feature_names) or len(ratios) != len(feature_names):
        raise UnsupportedModel(f"rpn.anchor_generator: {len(sizes)} levels for {len(feature_names)} features")
    head = rpn.head
    if type(head) is not RPNHead:
        _unsupported("rpn.head", head)
    for i, block in enumerate(head.conv):
        conv, norm, act = _parse_conv_norm_act(block, f"rpn.head.conv.{i}")
        _check_conv(conv, f"rpn.head.conv.{i}", kernel=3, stride=1, padding=1, groups=1)
        if norm is not None or act != "relu":
            raise UnsupportedModel(f"rpn.head.conv.{i}: expected conv3x3 + ReLU without norm")
    num_anchors = set(ag.num_anchors_per_location())
    if len(num_anchors) != 1 or head.cls_logits.out_channels != num_anchors.copy().pop() \
            or head.bbox_pred.out_channels != 4 * head.cls_logits.out_channels:
        raise UnsupportedModel(f"rpn.head: {head.cls_logits.out_channels} anchors per location, "
                               f"anchor generator has {ag.num_anchors_per_location()}")

    box_pool = _roi_pool_config(rh.box_roi_pool, feature_names, "roi_heads.box_roi_pool")
    res = box_pool["output_size"]
    res = (res, res) if isinstance(res, int) else tuple(res)
    box_head, rep = _box_head_config(rh.box_head, feature_channels, res)
    pred = rh.box_predictor
    if not _is(pred, tv_faster_rcnn.FastRCNNPredictor):
        _unsupported("roi_heads.box_predictor", pred)
    num_classes = int(pred.cls_score.out_features)
    if pred.cls_score.in_features != rep or pred.bbox_pred.in_features != rep \
            or pred.bbox_pred.out_features != 4 * num_classes:
        raise UnsupportedModel("roi_heads.box_predictor: shapes do not fit the box head / num_classes")
    if len(classes) != num_classes:
        raise ConversionError(f"{len(classes)} class names for num_classes={num_classes}")
    if abs(rpn.box_coder.bbox_xform_clip - rh.box_coder.bbox_xform_clip) > 0:
        raise UnsupportedModel("RPN and box head use different box coder clips")

    has_mask = bool(rh.has_mask())
    cfg = collections.OrderedDict()
    cfg["format_version"] = FORMAT_VERSION
    cfg["name"] = name
    cfg["architecture"] = arch
    cfg["task"] = "instance_segmentation" if has_mask else "detection"
    cfg["weights"] = f"{name}.safetensors"
    cfg["weights_sha256"] = None
    cfg["producer"] = None
    cfg["classes"] = list(classes)
    cfg["transform"] = {
        "min_size": int(t.min_size[-1]),  # eval uses the last (largest) entry
        "max_size": int(t.max_size),
        "image_mean": [float(v) for v in t.image_mean],
        "image_std": [float(v) for v in t.image_std],
        "size_divisible": int(t.size_divisible),
    }
    cfg["backbone"] = backbone
    cfg["fpn"] = fpn
    cfg["feature_names"] = feature_names
    cfg["feature_strides"] = feature_strides
    cfg["anchor_generator"] = {"sizes": sizes, "aspect_ratios": ratios}
    cfg["rpn"] = {
        "conv_depth": len(head.conv),
        "pre_nms_top_n_test": int(rpn._pre_nms_top_n["testing"]),
        "post_nms_top_n_test": int(rpn._post_nms_top_n["testing"]),
        "nms_thresh": float(rpn.nms_thresh),
        "score_thresh": float(rpn.score_thresh),
        "min_size": float(rpn.min_size),
        "box_coder_weights": [float(w) for w in rpn.box_coder.weights],
    }
    cfg["box_roi_pool"] = box_pool
    cfg["box_head"] = box_head
    cfg["box_predictor"] = {"in_channels": int(rep), "num_classes": num_classes}
    cfg["box_coder_weights"] = [float(w) for w in rh.box_coder.weights]
    cfg["box_coder_clip"] = float(rh.box_coder.bbox_xform_clip)
    cfg["box_score_thresh"] = float(rh.score_thresh)
    cfg["box_nms_thresh"] = float(rh.nms_thresh)
    cfg["box_detections_per_img"] = int(rh.detections_per_img)
    if has_mask:
        cfg["mask_roi_pool"] = _roi_pool_config(rh.mask_roi_pool, feature_names, "roi_heads.mask_roi_pool")
        cfg["mask_head"], mask_out = _mask_head_config(rh.mask_head, feature_channels)
        cfg["mask_predictor"] = _mask_predictor_config(rh.mask_predictor, mask_out, num_classes)
    elif any(getattr(rh, a, None) is not None for a in ("mask_roi_pool", "mask_head", "mask_predictor")):
        raise UnsupportedModel("roi_heads: incomplete mask branch")
    if rh.has_keypoint():
        cfg["keypoint_roi_pool"] = _roi_pool_config(rh.keypoint_roi_pool, feature_names, "roi_heads.keypoint_roi_pool")
        cfg["keypoint_head"], kp_out = _keypoint_head_config(rh.keypoint_head, feature_channels)
        cfg["keypoint_predictor"] = _keypoint_predictor_config(rh.keypoint_predictor, kp_out)
        count = cfg["keypoint_predictor"]["num_keypoints"]
        if keypoint_names is None:
            keypoint_names, skeleton = resolve_keypoints(count)
        if len(keypoint_names) != count:
            raise ConversionError(f"{len(keypoint_names)} keypoint names for {count} keypoints")
        cfg["keypoint_names"] = list(keypoint_names)
        cfg["keypoint_skeleton"] = [list(p) for p in (skeleton or [])]
        if keypoint_sigmas is not None and len(keypoint_sigmas) != count:
            raise ConversionError(f"{len(keypoint_sigmas)} keypoint sigmas for {count} keypoints")
        if keypoint_sigmas is None and list(keypoint_names) == list(COCO_KEYPOINTS):
            keypoint_sigmas = COCO_KEYPOINT_SIGMAS
        cfg["keypoint_sigmas"] = [float(v) for v in keypoint_sigmas] if keypoint_sigmas is not None else None
    elif any(getattr(rh, a, None) is not None for a in ("keypoint_roi_pool", "keypoint_head", "keypoint_predictor")):
        raise UnsupportedModel("roi_heads: incomplete keypoint branch")
    return cfg


def dumps_config(value, indent=0):
    """JSON text with objects one key per line and short scalar lists on one line."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f'{pad}  {json.dumps(str(k))}: {dumps_config(v, indent + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        flat = json.dumps(list(value))
        if all(not isinstance(v, (dict, list, tuple)) for v in value) and len(flat) + len(pad) <= 100:
            return flat
        if all(isinstance(v, (list, tuple)) and len(json.dumps(v)) < 60 for v in value) \
                and len(flat) + len(pad) <= 100:
            return flat
        items = [pad + "  " + dumps_config(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value)


def export_tensors(model):
    """The model's state_dict as contiguous float32 tensors, `num_batches_tracked` dropped."""
    out = collections.OrderedDict()
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        if not v.is_floating_point():
            raise UnsupportedModel(f"state_dict entry {k!r} has dtype {v.dtype}")
        out[k] = v.detach().to(torch.float32).contiguous()
    return out


def convert_model(model, name, out_dir, arch, classes, keypoint_names=None, skeleton=None, keypoint_sigmas=None):
    """Writes OUT_DIR/NAME.json and OUT_DIR/NAME.safetensors for `model`; returns both paths."""
    cfg = config_from_model(model, name, arch, classes, keypoint_names, skeleton, keypoint_sigmas)
    os.makedirs(out_dir, exist_ok=True)
    st_path = os.path.join(out_dir, f"{name}.safetensors")
    json_path = os.path.join(out_dir, f"{name}.json")
    # The metadata names nothing about the tool, so that `rcnn import` writes the same file byte for
    # byte; the config's "producer" says which tool wrote it.
    meta = {"format": "pt", "architecture": arch, "name": name}
    cfg["weights_sha256"] = write_safetensors(st_path, export_tensors(model), meta)
    cfg["producer"] = f"Tools/convert_torchvision.py (torchvision {torchvision.__version__})"
    tmp = json_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(dumps_config(cfg) + "\n")
    os.replace(tmp, json_path)
    return json_path, st_path


# ----------------------------------------------------------------------------------------------
# CLI

def _summary(cfg, json_path, st_path, n_tensors, n_params):
    rpn = cfg["rpn"]
    t = cfg["transform"]
    print(f"{cfg['name']}: {cfg['architecture']} ({cfg['task']}), {len(cfg['classes'])} classes, "
          f"backbone {cfg['backbone']['type']} (bn eps {cfg['backbone']['norm_eps']}), "
          f"features {cfg['feature_names']} strides {cfg['feature_strides']}")
    print(f"  transform min {t['min_size']} max {t['max_size']}; rpn top-n {rpn['pre_nms_top_n_test']}/"
          f"{rpn['post_nms_top_n_test']} nms {rpn['nms_thresh']} score {rpn['score_thresh']}; box score "
          f"{cfg['box_score_thresh']} nms {cfg['box_nms_thresh']} max {cfg['box_detections_per_img']}")
    print(f"  wrote {json_path}")
    print(f"  wrote {st_path}: {n_tensors} tensors, {n_params / 1e6:.2f} M values, "
          f"{os.path.getsize(st_path) / 2**20:.1f} MiB, sha256 {cfg['weights_sha256']}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", required=True, choices=ARCHS)
    p.add_argument("--checkpoint", required=True, help="state_dict .pth, or a dict with a 'model' key")
    p.add_argument("--name", required=True, help="model name; files are NAME.json and NAME.safetensors")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--classes", help="class names, one per line (num_classes or num_classes-1 lines)")
    p.add_argument("--keypoint-names", help="keypoint names, one per line (keypoint models; default: COCO's "
                                            "person keypoints and skeleton for 17, keypoint_N otherwise)")
    for flag, typ in THRESHOLD_FLAGS:
        p.add_argument("--" + flag.replace("_", "-"), type=typ, default=None,
                       help=f"override torchvision's {flag} (builder default if omitted)")
    p.add_argument("--backbone-bn-eps", type=float, default=None,
                   help="batch-norm eps for the backbone body (0 matches torchvision's v1 ResNet-50 COCO "
                        "weights, which it loads with overwrite_eps(model, 0.0))")
    args = p.parse_args(argv)

    try:
        sd = load_checkpoint(args.checkpoint)
        num_classes = infer_num_classes(sd, args.checkpoint)
        num_keypoints = infer_num_keypoints(sd)
        classes = resolve_classes(num_classes, args.classes, keypoints=num_keypoints is not None)
        if args.arch.startswith("keypointrcnn") and num_keypoints is None:
            raise ConversionError(f"{args.checkpoint}: no roi_heads.keypoint_predictor weights for --arch {args.arch}")
        keypoint_names = skeleton = None
        if num_keypoints is not None:
            keypoint_names, skeleton = resolve_keypoints(num_keypoints, args.keypoint_names)
        elif args.keypoint_names:
            raise ConversionError("--keypoint-names is for keypoint models")
        kwargs = {flag: getattr(args, flag) for flag, _ in THRESHOLD_FLAGS if getattr(args, flag) is not None}
        keypoint_layers = infer_keypoint_layers(sd) if num_keypoints is not None else None
        if num_keypoints is not None and not keypoint_layers:
            raise ConversionError(f"{args.checkpoint}: a keypoint predictor without roi_heads.keypoint_head convs")
        model = build_model(args.arch, num_classes, num_keypoints, keypoint_layers, **kwargs)
        load_state_dict_strict(model, sd, args.checkpoint)
        if args.backbone_bn_eps is not None:
            for m in model.backbone.body.modules():
                if isinstance(m, _BN_TYPES):
                    m.eps = args.backbone_bn_eps
        elif args.arch in ("fasterrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn") and \
                not any(k.endswith("num_batches_tracked") for k in sd):
            print("note: checkpoint has no num_batches_tracked (FrozenBatchNorm2d weights); if it is "
                  "torchvision's COCO_V1 checkpoint, pass --backbone-bn-eps 0 to match torchvision",
                  file=sys.stderr)
        model.eval()
        json_path, st_path = convert_model(model, args.name, args.out, args.arch, classes, keypoint_names, skeleton)
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with open(json_path, encoding="utf-8") as f:
        cfg = json.load(f)
    tensors = export_tensors(model)
    _summary(cfg, json_path, st_path, len(tensors), sum(t.numel() for t in tensors.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
