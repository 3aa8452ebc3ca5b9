import Tensor

/// Direct, loop-per-definition implementations of every op, used only as test references.
enum Naive {
    static func conv2d(_ x: Tensor, _ w: Tensor, _ b: [Float]?, stride: Int, padding: Int, dilation: Int, groups: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3]
        let o = w.shape[0], cg = w.shape[1], kh = w.shape[2], kw = w.shape[3]
        let og = o / groups
        let oh = (h + 2 * padding - dilation * (kh - 1) - 1) / stride + 1
        let ow = (wd + 2 * padding - dilation * (kw - 1) - 1) / stride + 1
        precondition(c == cg * groups)
        var y = Tensor(shape: [n, o, oh, ow])
        for b0 in 0..<n { for oc in 0..<o {
            let g = oc / og
            for oy in 0..<oh { for ox in 0..<ow {
                var acc: Double = Double(b?[oc] ?? 0)
                for ic in 0..<cg { for ki in 0..<kh { for kj in 0..<kw {
                    let iy = oy * stride - padding + ki * dilation, ix = ox * stride - padding + kj * dilation
                    if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                    acc += Double(x[b0, g * cg + ic, iy, ix]) * Double(w[oc, ic, ki, kj])
                }}}
                y[b0, oc, oy, ox] = Float(acc)
            }}
        }}
        return y
    }

    static func convTranspose2d(_ x: Tensor, _ w: Tensor, _ b: [Float]?, stride: Int, padding: Int, outputPadding: Int) -> Tensor {
        let n = x.shape[0], cin = x.shape[1], h = x.shape[2], wd = x.shape[3]
        let cout = w.shape[1], kh = w.shape[2], kw = w.shape[3]
        let oh = (h - 1) * stride - 2 * padding + kh + outputPadding
        let ow = (wd - 1) * stride - 2 * padding + kw + outputPadding
        var acc = [Double](repeating: 0, count: n * cout * oh * ow)
        for b0 in 0..<n { for ic in 0..<cin { for iy in 0..<h { for ix in 0..<wd {
            for oc in 0..<cout { for ki in 0..<kh { for kj in 0..<kw {
                let oy = iy * stride - padding + ki, ox = ix * stride - padding + kj
                if oy < 0 || oy >= oh || ox < 0 || ox >= ow { continue }
                acc[((b0 * cout + oc) * oh + oy) * ow + ox] += Double(x[b0, ic, iy, ix]) * Double(w[ic, oc, ki, kj])
            }}}
        }}}}
        var y = Tensor(shape: [n, cout, oh, ow])
        for i in 0..<y.count { y.data[i] = Float(acc[i] + Double(b?[(i / (oh * ow)) % cout] ?? 0)) }
        return y
    }

    static func linear(_ x: Tensor, _ w: Tensor, _ b: [Float]?) -> Tensor {
        let rows = x.shape[0], fin = w.shape[1], fout = w.shape[0]
        var y = Tensor(shape: [rows, fout])
        for r in 0..<rows { for o in 0..<fout {
            var acc = Double(b?[o] ?? 0)
            for i in 0..<fin { acc += Double(x.data[r * fin + i]) * Double(w[o, i]) }
            y[r, o] = Float(acc)
        }}
        return y
    }

    static func maxPool(_ x: Tensor, kernel: Int, stride: Int, padding: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
        var y = Tensor(shape: [n, c, oh, ow])
        for b in 0..<n { for ch in 0..<c { for oy in 0..<oh { for ox in 0..<ow {
            var m = -Float.infinity
            for ki in 0..<kernel { for kj in 0..<kernel {
                let iy = oy * stride - padding + ki, ix = ox * stride - padding + kj
                if iy >= 0 && iy < h && ix >= 0 && ix < w { m = max(m, x[b, ch, iy, ix]) }
            }}
            y[b, ch, oy, ox] = m
        }}}}
        return y
    }
}
