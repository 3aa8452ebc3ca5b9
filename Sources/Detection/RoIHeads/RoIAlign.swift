import CKernels
import Foundation
import Tensor

/// RoIAlign (He et al., Mask R-CNN, section 3) with torchvision's `roi_align` semantics,
/// `aligned=False` by default: bins of `roi / output` cells, each averaging a grid of bilinear
/// samples (`samplingRatio` per side, or `ceil(roi / output)` when it is <= 0); samples more than one
/// pixel outside the map contribute zero.
public enum RoIAlign {
    /// Pools `boxes` (in image coordinates; multiplied by `spatialScale`) from one `[1, C, H, W]` map
    /// into `[boxes.count, C, outputH, outputW]`.
    public static func callAsFunction(_ feature: Tensor, boxes: [Box], outputH: Int, outputW: Int, spatialScale: Float,
                                      samplingRatio: Int, aligned: Bool = false) -> Tensor {
        var out = Tensor.uninitialized([boxes.count, feature.shape[1], outputH, outputW])
        out.data.withUnsafeMutableBufferPointer { o in
            pool(feature, boxes: boxes, outputH: outputH, outputW: outputW, spatialScale: spatialScale,
                 samplingRatio: samplingRatio, aligned: aligned, into: .nchw(o.baseAddress!), rows: Array(boxes.indices))
        }
        return out
    }

    /// Square output.
    public static func callAsFunction(_ feature: Tensor, boxes: [Box], output: Int, spatialScale: Float,
                                      samplingRatio: Int, aligned: Bool = false) -> Tensor {
        callAsFunction(feature, boxes: boxes, outputH: output, outputW: output, spatialScale: spatialScale,
                       samplingRatio: samplingRatio, aligned: aligned)
    }

    /// Where `pool` writes box i's bins: row `rows[i]` of one of these.
    enum Destination {
        /// A float tensor `[R, C, outputH, outputW]`.
        case nchw(UnsafeMutablePointer<Float>)
        /// Levels `rowBytes` apart, each row the box's `[outputH * outputW, C]` samples (bins-major)
        /// quantized as `quantization`, then zeros up to a multiple of 4 bytes: what an int8 layer
        /// reading pooled features bins-major (`QuantizedLinear.pooled`) multiplies, the levels it
        /// would have quantized from the float tensor.
        case levels(UnsafeMutablePointer<UInt8>, rowBytes: Int, quantization: ActivationQuantization)
    }

    /// Writes each box's pooled result into row `rows[i]` of `out`.
    ///
    /// The map is first copied channels-last (`[H * W, C]`), so each bilinear tap reads one
    /// contiguous run of C values and the sampling vectorises over channels (CKernels); the copy
    /// costs one pass over the map, which the hundreds of boxes of a detection head repay many times.
    static func pool(_ feature: Tensor, boxes: [Box], outputH: Int, outputW: Int, spatialScale: Float, samplingRatio: Int,
                     aligned: Bool, into out: Destination, rows: [Int]) {
        let c = feature.shape[1], h = feature.shape[2], w = feature.shape[3]
        var channelsLast = [Float](unsafeUninitializedCapacity: h * w * c) { _, n in n = h * w * c }
        feature.data.withUnsafeBufferPointer { fb in
            channelsLast.withUnsafeMutableBufferPointer { cl in
                let src = fb.baseAddress!, dst = cl.baseAddress!
                // [C, H*W] -> [H*W, C], one band of pixels per task.
                let pixels = h * w, chunk = 256
                parallelFor((pixels + chunk - 1) / chunk) { i in
                    let p0 = i * chunk, n = min(chunk, pixels - p0)
                    rcnn_transpose(src + p0, Int32(c), Int32(n), pixels, dst + p0 * c, c)
                }
            }
        }
        channelsLast.withUnsafeBufferPointer { fb in
            sample(fb.baseAddress!, c: c, h: h, w: w, boxes: boxes, outputH: outputH, outputW: outputW,
                   spatialScale: spatialScale, samplingRatio: samplingRatio, aligned: aligned, into: out, rows: rows)
        }
    }

    /// `pool` on a map already kept as pixel rows, `[1, H, W, C]` (an int8 FPN's output layers store
    /// their maps that way): no copy.
    static func pool(rows map: Tensor, boxes: [Box], outputH: Int, outputW: Int, spatialScale: Float, samplingRatio: Int,
                     aligned: Bool, into out: Destination, rows: [Int]) {
        precondition(map.rank == 4 && map.shape[0] == 1, "RoIAlign samples one image's pixel rows [1, H, W, C], got \(map.shape)")
        map.data.withUnsafeBufferPointer { fb in
            sample(fb.baseAddress!, c: map.shape[3], h: map.shape[1], w: map.shape[2], boxes: boxes, outputH: outputH,
                   outputW: outputW, spatialScale: spatialScale, samplingRatio: samplingRatio, aligned: aligned,
                   into: out, rows: rows)
        }
    }

    /// Pools `boxes` from the channels-last map at `f` (`[h * w, c]`) into rows `rows` of `out`.
    private static func sample(_ f: UnsafePointer<Float>, c: Int, h: Int, w: Int, boxes: [Box], outputH: Int, outputW: Int,
                               spatialScale: Float, samplingRatio: Int, aligned: Bool, into out: Destination, rows: [Int]) {
        let offset: Float = aligned ? 0.5 : 0
        parallelFor(boxes.count) { bi in
            let b = boxes[bi]
            let x0 = b.x1 * spatialScale - offset, y0 = b.y1 * spatialScale - offset
            let x1 = b.x2 * spatialScale - offset, y1 = b.y2 * spatialScale - offset
            var rw = x1 - x0, rh = y1 - y0
            if !aligned { rw = max(rw, 1); rh = max(rh, 1) }
            let binH = rh / Float(outputH), binW = rw / Float(outputW)
            let gh = samplingRatio > 0 ? samplingRatio : Int(ceilf(rh / Float(outputH)))
            let gw = samplingRatio > 0 ? samplingRatio : Int(ceilf(rw / Float(outputW)))
            let count = Float(max(gh * gw, 1))
            let per = gh * gw
            let bins = outputH * outputW
            // The four taps and weights of every sample of every bin.
            var offsets = [Int](repeating: 0, count: 4 * bins * per)
            var weights = [Float](repeating: 0, count: 4 * bins * per)
            var s = 0
            for ph in 0..<outputH { for pw in 0..<outputW {
                for iy in 0..<gh {
                    let yy = y0 + Float(ph) * binH + (Float(iy) + 0.5) * binH / Float(gh)
                    for ix in 0..<gw {
                        let xx = x0 + Float(pw) * binW + (Float(ix) + 0.5) * binW / Float(gw)
                        let t = bilinearTap(y: yy, x: xx, h: h, w: w)
                        offsets[4 * s] = t.0; offsets[4 * s + 1] = t.1; offsets[4 * s + 2] = t.2; offsets[4 * s + 3] = t.3
                        weights[4 * s] = t.4; weights[4 * s + 1] = t.5; weights[4 * s + 2] = t.6; weights[4 * s + 3] = t.7
                        s += 1
                    }
                }
            }}
            // The box's bins channels-last ([bins, C], vectorised over channels), then one
            // blocked transpose into its [C, bins] row of the output, or quantized as they are.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: bins * c) { acc in
                let a = acc.baseAddress!
                offsets.withUnsafeBufferPointer { ofs in
                    weights.withUnsafeBufferPointer { wts in
                        for bin in 0..<bins {
                            let p = a + bin * c
                            p.initialize(repeating: 0, count: c)
                            rcnn_bilinear_accumulate(p, f, Int32(c), ofs.baseAddress! + 4 * bin * per,
                                                     wts.baseAddress! + 4 * bin * per, Int32(per))
                            for ch in 0..<c { p[ch] /= count }
                        }
                    }
                }
                switch out {
                case .nchw(let o):
                    rcnn_transpose(a, Int32(bins), Int32(c), c, o + rows[bi] * c * bins, bins)
                case .levels(let o, let rowBytes, let q):
                    rcnn_i8_quantize_rows(a, bins * c, 1, Int32(bins * c), 1 / q.scale, Int32(q.zeroPoint), Int32(q.maxLevel),
                                          o + rows[bi] * rowBytes, rowBytes)
                }
            }
        }
    }

    /// Taps (offsets of the four neighbours) and weights of one bilinear sample, torchvision's rule.
    @inline(__always)
    static func bilinearTap(y yIn: Float, x xIn: Float, h: Int, w: Int) -> (Int, Int, Int, Int, Float, Float, Float, Float) {
        if yIn < -1 || yIn > Float(h) || xIn < -1 || xIn > Float(w) { return (0, 0, 0, 0, 0, 0, 0, 0) }
        var y = max(yIn, 0), x = max(xIn, 0)
        var yl = Int(y), xl = Int(x)
        let yh: Int, xh: Int
        if yl >= h - 1 { yl = h - 1; yh = h - 1; y = Float(yl) } else { yh = yl + 1 }
        if xl >= w - 1 { xl = w - 1; xh = w - 1; x = Float(xl) } else { xh = xl + 1 }
        let ly = y - Float(yl), lx = x - Float(xl)
        let hy = 1 - ly, hx = 1 - lx
        return (yl * w + xl, yl * w + xh, yh * w + xl, yh * w + xh, hy * hx, hy * lx, ly * hx, ly * lx)
    }
}
