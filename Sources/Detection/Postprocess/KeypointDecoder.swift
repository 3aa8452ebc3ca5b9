import Foundation

/// Turns keypoint heatmaps into keypoint positions as torchvision's `heatmaps_to_keypoints` does:
/// each heatmap is resized with bicubic interpolation (align_corners false, a = -0.75, borders
/// clamped) to the box's size rounded up, the arg-max (first in row-major order on ties) is taken,
/// and its pixel centre is scaled back by box size / rounded size and moved to the box corner. The
/// score is the resized heatmap's value there.
public enum KeypointDecoder {
    /// Keypoints of one box from its `count` heatmaps of `side x side` logits (row-major, one after
    /// another), in the coordinates of `box`.
    public static func decode(_ maps: UnsafePointer<Float>, count: Int, side: Int, box: Box) -> [Keypoint] {
        let width = max(box.x2 - box.x1, 1), height = max(box.y2 - box.y1, 1)
        // Boxes are clipped to the resized image, so the rounded sizes are small; a NaN box gives 1.
        let outW = width.isFinite ? max(1, Int(width.rounded(.up))) : 1
        let outH = height.isFinite ? max(1, Int(height.rounded(.up))) : 1
        let xCorrection = width / Float(outW), yCorrection = height / Float(outH)
        let tx = taps(input: side, output: outW), ty = taps(input: side, output: outH)
        // Rows interpolated along x first (torch sums the x taps of each source row, then the rows).
        var rows = [Float](repeating: 0, count: side * outW)
        return (0..<count).map { k in
            let plane = maps + k * side * side
            rows.withUnsafeMutableBufferPointer { r in
                for sy in 0..<side {
                    let src = plane + sy * side
                    for ox in 0..<outW {
                        let t = tx[ox]
                        var v = src[t.index.0] * t.weight.0
                        v += src[t.index.1] * t.weight.1
                        v += src[t.index.2] * t.weight.2
                        v += src[t.index.3] * t.weight.3
                        r[sy * outW + ox] = v
                    }
                }
            }
            var best = -Float.infinity, bestX = 0, bestY = 0
            var found = false
            rows.withUnsafeBufferPointer { r in
                for oy in 0..<outH {
                    let t = ty[oy]
                    let r0 = t.index.0 * outW, r1 = t.index.1 * outW, r2 = t.index.2 * outW, r3 = t.index.3 * outW
                    for ox in 0..<outW {
                        var v = r[r0 + ox] * t.weight.0
                        v += r[r1 + ox] * t.weight.1
                        v += r[r2 + ox] * t.weight.2
                        v += r[r3 + ox] * t.weight.3
                        // torch's arg-max treats NaN as the largest value.
                        if !found || v > best || (v.isNaN && !best.isNaN) {
                            best = v; bestX = ox; bestY = oy; found = true
                        }
                    }
                }
            }
            return Keypoint(x: (Float(bestX) + 0.5) * xCorrection + box.x1,
                            y: (Float(bestY) + 0.5) * yCorrection + box.y1, score: best)
        }
    }

    /// Bicubic taps for one axis: four clamped source indices and their weights.
    struct Taps {
        var index: (Int, Int, Int, Int)
        var weight: (Float, Float, Float, Float)
    }

    /// PyTorch's bicubic source positions (`src = (dst + 0.5) * in/out - 0.5`, not clamped, in
    /// float32 from a double product) and Keys' cubic convolution weights with a = -0.75.
    static func taps(input: Int, output: Int) -> [Taps] {
        let scale = Float(input) / Float(output)
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return (0..<output).map { i in
            let real = Float(Double(scale) * (Double(i) + 0.5) - 0.5)
            let floor = real.rounded(.down)
            let t = real - floor
            let i0 = Int(floor)
            func clamp(_ j: Int) -> Int { min(max(j, 0), input - 1) }
            return Taps(index: (clamp(i0 - 1), clamp(i0), clamp(i0 + 1), clamp(i0 + 2)),
                        weight: (far(Float(Double(t) + 1)), near(t), near(1 - t), far(Float(Double(1 - t) + 1))))
        }
    }
}
