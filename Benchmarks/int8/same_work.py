"""Whether the runtimes in the int8 table did the same work on the timed image.

An int8 model can be faster for a reason that is not speed: if quantization changes the RPN's
output so that fewer proposals survive its NMS, the box head (in Faster R-CNN ResNet-50 FPN, a
12544 x 1024 fully connected layer per region) runs on fewer regions. So beside each time the table
reports, for every runtime and precision, how many regions its box head classified on the timed
image, and how many of the runtime's own float32 detections its int8 model reproduced there (class
and box IoU >= 0.9, paired best score first, as `rcnn compare` pairs them).

Ours: `rcnn bench --format json` reports the box head's regions, `rcnn compare` the agreement.
The peers run the exported torchvision graph, whose box head input is the output of the node that
torch.onnx names /roi_heads/box_head/fc6/Gemm; that node's output is added as an extra graph output
(ONNX Runtime: on a copy of the ONNX file; OpenVINO: with Model.add_outputs) and its rows counted.
A graph without that node reports no count.
"""
import json
import os
import subprocess
import tempfile

FC6 = "/roi_heads/box_head/fc6/Gemm"


def _ort_regions(path, image, threads):
    import onnx
    import onnxruntime as ort
    model = onnx.load(path)
    node = next((n for n in model.graph.node if n.name == FC6), None)
    if node is None:
        return None
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(node.output[0]))
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "model.onnx")
        onnx.save(model, copy)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(copy, so, providers=["CPUExecutionProvider"])
        out = sess.run([node.output[0]], {"image": image})
    return int(out[0].shape[0])


def _ov_regions(path, image, threads):
    import openvino as ov
    core = ov.Core()
    model = core.read_model(path)
    op = next((o for o in model.get_ops() if o.get_friendly_name() == FC6), None)
    if op is None:
        return None
    model.add_outputs([op.output(0)])
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads})
    out = compiled.create_infer_request().infer({0: image})
    return int(out[compiled.outputs[-1]].shape[0])


def peer_regions(peer, path, image, threads):
    """Rows of the box head's first layer when `peer` runs the model at `path` on `image`, or None."""
    return (_ort_regions if peer == "onnxruntime" else _ov_regions)(path, image, threads)


def ours_agreement(rcnn, cfg, variant, image_path, threads):
    """(reproduced, total): our float32 detections on the image that the int8 variant reproduces."""
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(os.path.abspath(image_path), os.path.join(tmp, os.path.basename(image_path)))
        res = subprocess.run([rcnn, "compare", "--config", cfg, "--with", variant, "--images", tmp, "--count", "1",
                              "--threads", str(threads), "--json"], capture_output=True, text=True, check=True)
    out = json.loads(res.stdout)
    return out["reproduced"], out["reference_detections"]


def peer_agreement(run_f32, run_int8, image, coco_results, agreement):
    """(reproduced, total) for a peer: its float32 detections that its int8 model reproduces."""
    return agreement(coco_results(run_f32(image), 0), coco_results(run_int8(image), 0))
