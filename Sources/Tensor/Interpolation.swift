import Foundation

/// Resampling of NCHW tensors with PyTorch's exact index arithmetic (float32, as its CPU kernels use
/// for float inputs).
public enum Interpolation {
    /// `F.interpolate(x, size: (outH, outW), mode: "nearest")`.
    public static func nearest(_ x: Tensor, outH: Int, outW: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let ys = (0..<outH).map { nearestIndex($0, input: h, output: outH) }
        let xs = (0..<outW).map { nearestIndex($0, input: w, output: outW) }
        var y = Tensor.uninitialized([n, c, outH, outW])
        x.data.withUnsafeBufferPointer { src in
            y.data.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                parallelFor(n * c, minimumPerTask: 8) { p in
                    let plane = s + p * h * w, out = d + p * outH * outW
                    for oy in 0..<outH {
                        let line = plane + ys[oy] * w
                        for ox in 0..<outW { out[oy * outW + ox] = line[xs[ox]] }
                    }
                }
            }
        }
        return y
    }

    /// PyTorch's `nearest_idx`: exact shortcuts for equal size and 2x, else `floor(i * in/out)`.
    static func nearestIndex(_ i: Int, input: Int, output: Int) -> Int {
        if output == input { return i }
        if output == 2 * input { return i >> 1 }
        let scale = Float(input) / Float(output)
        return min(Int((Float(i) * scale).rounded(.down)), input - 1)
    }

    /// `F.interpolate(x, size: (outH, outW), mode: "bilinear", align_corners: False)` with no explicit
    /// scale (which is also what `recompute_scale_factor=True` reduces to).
    public static func bilinear(_ x: Tensor, outH: Int, outW: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let ty = taps(input: h, output: outH), tx = taps(input: w, output: outW)
        var y = Tensor.uninitialized([n, c, outH, outW])
        x.data.withUnsafeBufferPointer { src in
            y.data.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                parallelFor(n * c, minimumPerTask: 1) { p in
                    let plane = s + p * h * w, out = d + p * outH * outW
                    for oy in 0..<outH {
                        let (y0, y1, ly0, ly1) = ty[oy]
                        let r0 = plane + y0 * w, r1 = plane + y1 * w
                        for ox in 0..<outW {
                            let (x0, x1, lx0, lx1) = tx[ox]
                            out[oy * outW + ox] = ly0 * (lx0 * r0[x0] + lx1 * r0[x1])
                                                + ly1 * (lx0 * r1[x0] + lx1 * r1[x1])
                        }
                    }
                }
            }
        }
        return y
    }

    /// Source indices and weights for one axis (PyTorch `area_pixel_compute_source_index`,
    /// align_corners=False: `src = max(0, (dst + 0.5) * in/out - 0.5)`). As PyTorch's CPU kernel does,
    /// the scale is a float32 quotient while the source position is computed in double and the
    /// weight rounded to float32 from it (measured bit-exact against torch 1.13). Each entry is
    /// `(i0, i1, w0, w1)`: output `i` is `w0 * in[i0] + w1 * in[i1]`. `outputs` picks a sub-range of
    /// the output indices (all of them by default), for callers that need only part of the result.
    public static func taps(input: Int, output: Int, outputs: Range<Int>? = nil) -> [(Int, Int, Float, Float)] {
        let scale = Double(Float(input) / Float(output))
        return (outputs ?? 0..<output).map { i in
            let src = max(scale * (Double(i) + 0.5) - 0.5, 0)
            let i0 = Int(src)
            let i1 = i0 + (i0 < input - 1 ? 1 : 0)
            let l1 = Float(src - Double(i0))
            return (i0, i1, 1 - l1, l1)
        }
    }
}

