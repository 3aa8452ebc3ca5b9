import Foundation
import Tensor

/// Naive references for the resampling, pooling, pointwise and normalisation ops: one loop per
/// output element written from PyTorch's definition, double-precision sums, no shortcuts, no
/// parallelism. Test references only.
extension Naive {
    /// `F.avg_pool2d(count_include_pad=True)`: the window's in-bounds sum over kernel²
    /// (in floor mode a window never passes the padded border, so the divisor is always kernel²).
    static func avgPool(_ x: Tensor, kernel: Int, stride: Int, padding: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
        var y = Tensor(shape: [n, c, oh, ow])
        for b in 0..<n { for ch in 0..<c { for oy in 0..<oh { for ox in 0..<ow {
            var s = 0.0
            for ki in 0..<kernel { for kj in 0..<kernel {
                let iy = oy * stride - padding + ki, ix = ox * stride - padding + kj
                if iy >= 0 && iy < h && ix >= 0 && ix < w { s += Double(x[b, ch, iy, ix]) }
            }}
            y[b, ch, oy, ox] = Float(s / Double(kernel * kernel))
        }}}}
        return y
    }

    /// `F.adaptive_avg_pool2d`: output cell i averages input rows floor(i·H/out) ..< ceil((i+1)·H/out).
    static func adaptiveAvgPool(_ x: Tensor, outH: Int, outW: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        var y = Tensor(shape: [n, c, outH, outW])
        for b in 0..<n { for ch in 0..<c { for oy in 0..<outH { for ox in 0..<outW {
            let y0 = Int((Double(oy * h) / Double(outH)).rounded(.down)), y1 = Int((Double((oy + 1) * h) / Double(outH)).rounded(.up))
            let x0 = Int((Double(ox * w) / Double(outW)).rounded(.down)), x1 = Int((Double((ox + 1) * w) / Double(outW)).rounded(.up))
            var s = 0.0
            for iy in y0..<y1 { for ix in x0..<x1 { s += Double(x[b, ch, iy, ix]) } }
            y[b, ch, oy, ox] = Float(s / Double((y1 - y0) * (x1 - x0)))
        }}}}
        return y
    }

    /// `F.interpolate(mode="nearest")`: source index floor(dst · in/out), the scale a float32
    /// quotient as in PyTorch's CPU kernel, clamped to the last index.
    static func nearest(_ x: Tensor, outH: Int, outW: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let sy = Float(h) / Float(outH), sx = Float(w) / Float(outW)
        var y = Tensor(shape: [n, c, outH, outW])
        for b in 0..<n { for ch in 0..<c { for oy in 0..<outH { for ox in 0..<outW {
            let iy = min(Int((Float(oy) * sy).rounded(.down)), h - 1), ix = min(Int((Float(ox) * sx).rounded(.down)), w - 1)
            y[b, ch, oy, ox] = x[b, ch, iy, ix]
        }}}}
        return y
    }

    /// `F.interpolate(mode="bilinear", align_corners=False)` from its definition, in double:
    /// source position max(0, (dst + 0.5) · in/out - 0.5), the two neighbours (the upper one clamped
    /// to the last index) weighted by distance.
    static func bilinear(_ x: Tensor, outH: Int, outW: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        func source(_ i: Int, _ input: Int, _ output: Int) -> (Int, Int, Double) {
            let s = max((Double(i) + 0.5) * Double(input) / Double(output) - 0.5, 0)
            let lo = min(Int(s), input - 1)
            return (lo, min(lo + 1, input - 1), s - Double(lo))
        }
        var y = Tensor(shape: [n, c, outH, outW])
        for b in 0..<n { for ch in 0..<c { for oy in 0..<outH { for ox in 0..<outW {
            let (y0, y1, fy) = source(oy, h, outH), (x0, x1, fx) = source(ox, w, outW)
            let top = (1 - fx) * Double(x[b, ch, y0, x0]) + fx * Double(x[b, ch, y0, x1])
            let bottom = (1 - fx) * Double(x[b, ch, y1, x0]) + fx * Double(x[b, ch, y1, x1])
            y[b, ch, oy, ox] = Float((1 - fy) * top + fy * bottom)
        }}}}
        return y
    }

    /// PyTorch's definitions of the pointwise activations, in double.
    static func activation(_ a: Activation, _ v: Float) -> Double {
        let x = Double(v)
        switch a {
        case .identity: return x
        case .relu: return x.isNaN ? x : max(x, 0)
        case .hardswish: return x * min(max(x + 3, 0), 6) / 6
        case .hardsigmoid: return min(max(x + 3, 0), 6) / 6
        case .sigmoid: return 1 / (1 + exp(-x))
        }
    }

    /// `softmax(dim=-1)` of a `[rows, cols]` tensor, in double: exp(x - max) / Σ exp(x - max).
    static func softmax(_ x: Tensor) -> [Double] {
        let rows = x.shape[0], cols = x.shape[1]
        var out = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows {
            let row = (0..<cols).map { Double(x[r, $0]) }
            let m = row.max()!
            let total = row.reduce(0) { $0 + exp($1 - m) }
            for j in 0..<cols { out[r * cols + j] = exp(row[j] - m) / total }
        }
        return out
    }

    /// Eval-mode batch norm, `(x - mean) / sqrt(var + eps) · gamma + beta`, in double.
    static func batchNorm(_ x: Tensor, _ bn: BatchNorm) -> [Double] {
        let n = x.shape[0], c = x.shape[1], plane = x.count / (n * c)
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n { for ch in 0..<c { for j in 0..<plane {
            let i = (b * c + ch) * plane + j
            let normalised = (Double(x.data[i]) - Double(bn.mean[ch])) / (Double(bn.variance[ch]) + Double(bn.eps)).squareRoot()
            out[i] = normalised * Double(bn.gamma[ch]) + Double(bn.beta[ch])
        }}}
        return out
    }
}
