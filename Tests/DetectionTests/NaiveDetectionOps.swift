import Detection
import Foundation
import Tensor

/// Naive references for the family-agnostic detection ops, written loop by loop from torchvision's
/// definitions (`torchvision/csrc/ops/cpu/*_kernel.cpp`, `torchvision/ops/boxes.py`,
/// `models/detection/_utils.py`): no channels-last copies, no precomputed taps, no parallelism.
/// Coordinates are float32 where torchvision computes them in float32 (so both sides take the
/// same samples); sums are double. Test references only.
enum NaiveDetection {
    /// torchvision `roi_align` for one `[1, C, H, W]` map: every bin averages a grid of bilinear
    /// samples; a sample more than one pixel outside the map is zero.
    static func roiAlign(_ feature: Tensor, boxes: [Box], outputH: Int, outputW: Int, spatialScale: Float,
                         samplingRatio: Int, aligned: Bool) -> [Double] {
        let c = feature.shape[1], h = feature.shape[2], w = feature.shape[3]
        var out = [Double](repeating: 0, count: boxes.count * c * outputH * outputW)
        let offset: Float = aligned ? 0.5 : 0
        for (r, box) in boxes.enumerated() {
            let startX = box.x1 * spatialScale - offset, startY = box.y1 * spatialScale - offset
            var roiW = box.x2 * spatialScale - offset - startX, roiH = box.y2 * spatialScale - offset - startY
            if !aligned { roiW = max(roiW, 1); roiH = max(roiH, 1) }
            let binH = roiH / Float(outputH), binW = roiW / Float(outputW)
            let gridH = samplingRatio > 0 ? samplingRatio : Int(ceilf(roiH / Float(outputH)))
            let gridW = samplingRatio > 0 ? samplingRatio : Int(ceilf(roiW / Float(outputW)))
            let count = Double(max(gridH * gridW, 1))
            for ch in 0..<c { for ph in 0..<outputH { for pw in 0..<outputW {
                var sum = 0.0
                for iy in 0..<gridH { for ix in 0..<gridW {
                    let y = startY + Float(ph) * binH + (Float(iy) + 0.5) * binH / Float(gridH)
                    let x = startX + Float(pw) * binW + (Float(ix) + 0.5) * binW / Float(gridW)
                    sum += bilinear(feature, channel: ch, y: y, x: x, h: h, w: w)
                }}
                out[((r * c + ch) * outputH + ph) * outputW + pw] = sum / count
            }}}
        }
        return out
    }

    /// torchvision's `bilinear_interpolate`: zero beyond one pixel outside; clamp to the border.
    private static func bilinear(_ f: Tensor, channel: Int, y yIn: Float, x xIn: Float, h: Int, w: Int) -> Double {
        if yIn < -1 || yIn > Float(h) || xIn < -1 || xIn > Float(w) { return 0 }
        var y = max(yIn, 0), x = max(xIn, 0)
        var yLow = Int(y), xLow = Int(x), yHigh = yLow + 1, xHigh = xLow + 1
        if yLow >= h - 1 { yLow = h - 1; yHigh = h - 1; y = Float(yLow) }
        if xLow >= w - 1 { xLow = w - 1; xHigh = w - 1; x = Float(xLow) }
        let ly = Double(y - Float(yLow)), lx = Double(x - Float(xLow))
        return (1 - ly) * (1 - lx) * Double(f[0, channel, yLow, xLow]) + (1 - ly) * lx * Double(f[0, channel, yLow, xHigh])
            + ly * (1 - lx) * Double(f[0, channel, yHigh, xLow]) + ly * lx * Double(f[0, channel, yHigh, xHigh])
    }

    /// torchvision `roi_pool`: the box rounded (half away from zero) to cells, at least one cell
    /// wide; bin i covers floor(i · size / out) ..< ceil((i + 1) · size / out), clamped; empty is 0.
    static func roiPool(_ feature: Tensor, boxes: [Box], outputH: Int, outputW: Int, spatialScale: Float) -> [Float] {
        let c = feature.shape[1], h = feature.shape[2], w = feature.shape[3]
        var out = [Float](repeating: 0, count: boxes.count * c * outputH * outputW)
        for (r, box) in boxes.enumerated() {
            let x0 = Int((box.x1 * spatialScale).rounded()), y0 = Int((box.y1 * spatialScale).rounded())
            let x1 = Int((box.x2 * spatialScale).rounded()), y1 = Int((box.y2 * spatialScale).rounded())
            let roiW = max(x1 - x0 + 1, 1), roiH = max(y1 - y0 + 1, 1)
            let binH = Float(roiH) / Float(outputH), binW = Float(roiW) / Float(outputW)
            for ch in 0..<c { for ph in 0..<outputH { for pw in 0..<outputW {
                let hStart = min(max(Int(floorf(Float(ph) * binH)) + y0, 0), h)
                let hEnd = min(max(Int(ceilf(Float(ph + 1) * binH)) + y0, 0), h)
                let wStart = min(max(Int(floorf(Float(pw) * binW)) + x0, 0), w)
                let wEnd = min(max(Int(ceilf(Float(pw + 1) * binW)) + x0, 0), w)
                var value: Float = 0
                if hEnd > hStart && wEnd > wStart {
                    value = -Float.greatestFiniteMagnitude
                    for yy in hStart..<hEnd { for xx in wStart..<wEnd { value = max(value, feature[0, ch, yy, xx]) } }
                }
                out[((r * c + ch) * outputH + ph) * outputW + pw] = value
            }}}
        }
        return out
    }

    /// IoU as torchvision's `box_iou` computes it in float32: inter / (area1 + area2 - inter).
    static func iou(_ a: Box, _ b: Box) -> Float {
        let inter = max(0, min(a.x2, b.x2) - max(a.x1, b.x1)) * max(0, min(a.y2, b.y2) - max(a.y1, b.y1))
        return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter)
    }

    /// Greedy NMS from its definition: visit boxes by descending score (lower index first among
    /// equal scores); keep a box unless a kept box of the same group overlaps it with IoU > threshold.
    /// One group for plain `nms`, the class or level for `batched_nms`. Kept indices by score.
    static func nms(_ boxes: [Box], scores: [Float], groups: [Int]? = nil, iouThreshold: Float) -> [Int] {
        let order = boxes.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var keep: [Int] = []
        for i in order {
            let overlapped = keep.contains { k in (groups == nil || groups![k] == groups![i]) && iou(boxes[k], boxes[i]) > iouThreshold }
            if !overlapped { keep.append(i) }
        }
        return keep
    }

    /// torchvision `BoxCoder.decode_single` in double: deltas over the weights, dw and dh clamped,
    /// centre moved by (dx · width, dy · height), size scaled by exp(dw), exp(dh).
    static func decode(_ d: [Float], reference r: Box, weights: (Float, Float, Float, Float), clip: Double) -> [Double] {
        let width = Double(r.x2) - Double(r.x1), height = Double(r.y2) - Double(r.y1)
        let cx = Double(r.x1) + 0.5 * width, cy = Double(r.y1) + 0.5 * height
        let dx = Double(d[0]) / Double(weights.0), dy = Double(d[1]) / Double(weights.1)
        let dw = min(Double(d[2]) / Double(weights.2), clip), dh = min(Double(d[3]) / Double(weights.3), clip)
        let px = dx * width + cx, py = dy * height + cy, pw = exp(dw) * width, ph = exp(dh) * height
        return [px - pw / 2, py - ph / 2, px + pw / 2, py + ph / 2]
    }
}
