import Detection
import Foundation
import Tensor
import XCTest

/// Every op against torch / torchvision on the cases of `Tests/Parity/make_op_fixtures.py`.
///
/// Tolerances: GEMM-based ops (conv, linear, transposed conv) 1e-5 of the output's largest magnitude
/// plus 1e-6 (different float32 summation order); ops whose arithmetic we reproduce step by step
/// (pooling, nearest, RoI pooling, NMS, anchors) exactly; bilinear resampling, RoIAlign, box decoding
/// and softmax 2e-6 relative (PyTorch's vectorised kernels round intermediate products differently;
/// `expf` differs by an ulp); mask pasting and the detection transform 1e-5 absolute (see
/// ModelParityTests).
final class OpParityTests: XCTestCase {
    var file: SafeTensorsFile!

    func t(_ key: String) throws -> Tensor { try file.tensor(key) }
    func ints(_ key: String) throws -> [Int] { try file.ints(key).values }

    func boxes(_ x: Tensor, columnOffset: Int = 0) -> [Box] {
        let stride = x.shape[1]
        return (0..<x.shape[0]).map { i in
            let o = i * stride + columnOffset
            return Box(x.data[o], x.data[o + 1], x.data[o + 2], x.data[o + 3])
        }
    }

    func close(_ a: Tensor, _ b: Tensor, rel: Float, abs absTol: Float = 0, _ what: String,
               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
        guard a.shape == b.shape, a.count > 0 else { return }
        let scale = b.data.reduce(Float(0)) { max($0, Swift.abs($1)) }
        let err = a.maxAbsDifference(b)
        XCTAssertLessThanOrEqual(err, rel * scale + absTol, "\(what): max abs error \(err) (scale \(scale))", file: file, line: line)
    }

    func testEveryOpCase() throws {
        guard let manifest = Fixtures.manifest("ops/ops.json"), let cases = manifest["cases"] as? [[String: Any]] else { return }
        file = try SafeTensorsFile(url: Fixtures.root.appendingPathComponent("ops/ops.safetensors"))
        var checked: [String: Int] = [:]
        for c in cases {
            let op = c["op"] as! String, name = c["name"] as! String
            let p = c["params"] as? [String: Any] ?? [:]
            let inputs = c["inputs"] as? [String: String] ?? [:]
            let tag = "\(op)/\(name)"
            func input(_ role: String) throws -> Tensor { try t(inputs[role]!) }
            func output() throws -> Tensor { try t(c["output"] as! String) }
            func int(_ k: String) -> Int { (p[k] as! NSNumber).intValue }
            switch op {
            case "conv2d":
                let w = try input("weight")
                let conv = Conv2d(weight: w, bias: inputs["bias"] != nil ? try input("bias").data : nil,
                                  stride: int("stride"), padding: int("padding"), dilation: int("dilation"), groups: int("groups"))
                close(conv(try input("x")), try output(), rel: 1e-5, abs: 1e-6, tag)
            case "conv_transpose2d":
                let ct = ConvTranspose2d(weight: try input("weight"), bias: inputs["bias"] != nil ? try input("bias").data : nil,
                                         stride: int("stride"), padding: int("padding"), outputPadding: int("output_padding"))
                close(ct(try input("x")), try output(), rel: 1e-5, abs: 1e-6, tag)
            case "linear":
                let l = Linear(weight: try input("weight"), bias: inputs["bias"] != nil ? try input("bias").data : nil)
                close(l(try input("x")), try output(), rel: 1e-5, abs: 1e-6, tag)
            case "conv_batchnorm":
                let conv = Conv2d(weight: try input("weight"), bias: inputs["bias"] != nil ? try input("bias").data : nil,
                                  stride: int("stride"), padding: int("padding"), dilation: int("dilation"), groups: int("groups"))
                let bn = BatchNorm(gamma: try input("bn_weight").data, beta: try input("bn_bias").data,
                                   mean: try input("bn_running_mean").data, variance: try input("bn_running_var").data,
                                   eps: (p["eps"] as! NSNumber).floatValue)
                close(bn.folded(into: conv)(try input("x")), try output(), rel: 1e-5, abs: 1e-6, tag)
            case "max_pool2d":
                XCTAssertEqual(Pooling.maxPool2d(try input("x"), kernel: int("kernel_size"), stride: int("stride"), padding: int("padding")), try output(), tag)
            case "avg_pool2d":
                close(Pooling.avgPool2d(try input("x"), kernel: int("kernel_size"), stride: int("stride"), padding: int("padding")), try output(), rel: 1e-6, tag)
            case "adaptive_avg_pool2d":
                let s = p["output_size"] as! [Int]
                close(Pooling.adaptiveAvgPool2d(try input("x"), outH: s[0], outW: s[1]), try output(), rel: 1e-6, tag)
            case "interpolate_nearest":
                let s = p["size"] as! [Int]
                XCTAssertEqual(Interpolation.nearest(try input("x"), outH: s[0], outW: s[1]), try output(), tag)
            case "interpolate_bilinear_scale":
                let s = p["output_size"] as! [Int]
                close(Interpolation.bilinear(try input("x"), outH: s[0], outW: s[1]), try output(), rel: 2e-6, tag)
            case "interpolate_bilinear_size":
                let s = p["size"] as! [Int]
                close(Interpolation.bilinear(try input("x"), outH: s[0], outW: s[1]), try output(), rel: 2e-6, tag)
            case "relu", "hardswish", "hardsigmoid", "sigmoid":
                let act = Activation(rawValue: op)!
                close(act(try input("x")), try output(), rel: 1e-6, abs: 1e-7, tag)
            case "softmax":
                close(Softmax.lastDim(try input("x")), try output(), rel: 2e-6, abs: 1e-7, tag)
            case "roi_align", "roi_pool":
                let x = try input("x"), rois = try input("rois")
                let size = p["output_size"] as! [Int]
                let scale = (p["spatial_scale"] as! NSNumber).floatValue
                let n = rois.shape[0]
                var out = Tensor(shape: [n, x.shape[1], size[0], size[1]])
                let per = x.shape[1] * size[0] * size[1]
                for i in 0..<n {
                    let batch = Int(rois.data[i * 5])
                    let b = Box(rois.data[i * 5 + 1], rois.data[i * 5 + 2], rois.data[i * 5 + 3], rois.data[i * 5 + 4])
                    let r = op == "roi_align"
                        ? RoIAlign.callAsFunction(x.rows(batch..<(batch + 1)), boxes: [b], outputH: size[0], outputW: size[1],
                                                  spatialScale: scale, samplingRatio: int("sampling_ratio"))
                        : RoIPool.callAsFunction(x.rows(batch..<(batch + 1)), boxes: [b], outputH: size[0], outputW: size[1], spatialScale: scale)
                    out.data.replaceSubrange((i * per)..<((i + 1) * per), with: r.data)
                }
                if op == "roi_pool" { XCTAssertEqual(out, try output(), tag) } else { close(out, try output(), rel: 2e-6, abs: 1e-7, tag) }
            case "nms":
                let keep = NonMaximumSuppression.nms(boxes(try input("boxes")), scores: try input("scores").data,
                                                     iouThreshold: (p["iou_threshold"] as! NSNumber).floatValue)
                XCTAssertEqual(keep, try ints(c["output"] as! String), tag)
            case "batched_nms":
                let scores = try input("scores").data
                let keep = NonMaximumSuppression.batched(boxes(try input("boxes")), scores: scores,
                                                         groups: try ints(inputs["idxs"]!), iouThreshold: (p["iou_threshold"] as! NSNumber).floatValue)
                // Same kept boxes in the same score order; among exactly equal scores torch's unstable
                // sort may order them either way.
                let ref = try ints(c["output"] as! String)
                XCTAssertEqual(Set(keep), Set(ref), tag)
                XCTAssertEqual(keep.map { scores[$0] }, ref.map { scores[$0] }, tag)
            case "box_decode":
                let w = (p["weights"] as! [NSNumber]).map { $0.floatValue }
                let coder = BoxCoder(weights: (w[0], w[1], w[2], w[3]))
                let refs = boxes(try input("boxes")), d = try input("deltas")
                let k = d.shape[1] / 4
                var out: [Float] = []
                for (i, r) in refs.enumerated() {
                    for j in 0..<k {
                        let b = coder.decode(Array(d.data[(i * d.shape[1] + j * 4)..<(i * d.shape[1] + j * 4 + 4)]), reference: r)
                        out += b.array
                    }
                }
                close(Tensor(shape: [refs.count, k, 4], data: out), try output(), rel: 2e-6, abs: 1e-5, tag)
            case "clip_boxes_to_image":
                let s = p["size"] as! [Int]
                let out = boxes(try input("boxes")).flatMap { $0.clipped(width: Float(s[1]), height: Float(s[0])).array }
                XCTAssertEqual(out, try output().data, tag)
            case "anchors":
                let sizes = (p["sizes"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
                let ratios = (p["aspect_ratios"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
                let image = p["image_size"] as! [Int], feats = p["feature_sizes"] as! [[Int]]
                let g = AnchorGenerator(sizes: sizes, aspectRatios: ratios)
                let outs = c["outputs"] as! [String: String]
                for l in 0..<sizes.count {
                    XCTAssertEqual(g.cellAnchors[l].flatMap(\.array), try t(outs["cell\(l)"]!).data, "\(tag) cell \(l)")
                    let a = g.anchors(level: l, featureH: feats[l][0], featureW: feats[l][1], imageH: image[0], imageW: image[1])
                    XCTAssertEqual(a.flatMap(\.array), try t(outs["level\(l)"]!).data, "\(tag) level \(l)")
                }
            case "multiscale_roi_align":
                let names = p["featmap_names"] as! [String]
                let pool = MultiScaleRoIAlign(config: .init(featmapNames: names, outputSize: int("output_size"), samplingRatio: int("sampling_ratio"),
                                                            canonicalScale: int("canonical_scale"), canonicalLevel: int("canonical_level")))
                var fm = FeatureMaps()
                for n in names { fm.append(n, try input("features.\(n)")) }
                let image = p["image_size"] as! [Int]
                let bx = boxes(try input("boxes"))
                let outs = c["outputs"] as! [String: String]
                let scales = (p["scales"] as! [NSNumber]).map { $0.floatValue }
                XCTAssertEqual(pool.levels(bx, scales: scales), try ints(outs["levels"]!), "\(tag) levels")
                close(pool(fm, boxes: bx, imageSize: (image[0], image[1])), try t(outs["pooled"]!), rel: 2e-6, abs: 1e-7, tag)
            case "transform":
                let cfg = ModelConfig.TransformConfig(minSize: int("min_size"), maxSize: int("max_size"),
                                                      imageMean: (p["image_mean"] as! [NSNumber]).map(\.doubleValue),
                                                      imageStd: (p["image_std"] as! [NSNumber]).map(\.doubleValue),
                                                      sizeDivisible: int("size_divisible"))
                let (shape, px) = try file.ints(inputs["image"]!)
                let img = RGBImageFixture.make(width: shape[1], height: shape[0], pixels: px)
                let out = ImagePreprocessor(config: cfg)(img)
                let outs = c["outputs"] as! [String: String]
                XCTAssertEqual([out.resized.h, out.resized.w], try ints(outs["image_size"]!), "\(tag) size")
                let ref = try t(outs["input"]!)
                XCTAssertEqual(out.batch.shape, ref.shape, "\(tag) padded shape")
                if out.batch.shape == ref.shape { XCTAssertLessThanOrEqual(out.batch.maxAbsDifference(ref), 1e-5, tag) }
            case "transform_sizes":
                let table = try file.ints(c["output"] as! String)
                let cols = table.shape[1]
                for r in 0..<table.shape[0] {
                    let row = Array(table.values[(r * cols)..<((r + 1) * cols)])
                    let pre = ImagePreprocessor(config: .init(minSize: row[2], maxSize: row[3], imageMean: [0, 0, 0], imageStd: [1, 1, 1], sizeDivisible: 32))
                    let s = pre.resizedSize(h: row[0], w: row[1])
                    XCTAssertEqual([s.h, s.w], [row[4], row[5]], "\(tag) row \(row)")
                }
            case "paste_masks":
                let masks = try input("masks"), bx = boxes(try input("boxes"))
                let size = p["image_size"] as! [Int]
                var out: [Float] = []
                masks.data.withUnsafeBufferPointer { m in
                    for (i, b) in bx.enumerated() {
                        out += MaskPaster.pasteProbabilities(m.baseAddress! + i * 28 * 28, size: 28, box: b, imageH: size[0], imageW: size[1])
                    }
                }
                close(Tensor(shape: [bx.count, 1, size[0], size[1]], data: out), try output(), rel: 0, abs: 2e-6, tag)
            default:
                XCTFail("unhandled op case \(tag)")
            }
            checked[op, default: 0] += 1
        }
        // The manifest must exercise every op family this engine implements.
        for op in ["conv2d", "conv_transpose2d", "linear", "conv_batchnorm", "max_pool2d", "adaptive_avg_pool2d", "interpolate_nearest",
                   "interpolate_bilinear_scale", "roi_align", "roi_pool", "nms", "batched_nms", "box_decode", "anchors",
                   "multiscale_roi_align", "transform", "paste_masks"] {
            XCTAssertGreaterThan(checked[op] ?? 0, 0, "no fixture case for \(op)")
        }
    }
}
