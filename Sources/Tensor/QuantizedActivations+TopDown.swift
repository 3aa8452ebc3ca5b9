import CKernels

extension QuantizedActivations {
    /// An FPN level's top-down merge on pixel rows: `rows` (`[n, h, w, c]`, the lateral layer's
    /// output) gets `top` (`[n, th, tw, c]`, the coarser merged level) added in place, upsampled
    /// by nearest neighbour with `Interpolation.nearest`'s indices, and the sums come back
    /// quantized as `quantization` (the level's output layer's input), from one pass. The sums have
    /// the bits of `lateral.add(Interpolation.nearest(top, ...))` on the NCHW tensors, the levels
    /// those of quantizing that.
    public static func mergingTopDown(_ rows: inout Tensor, _ top: Tensor, as quantization: ActivationQuantization) -> QuantizedActivations {
        precondition(rows.rank == 4 && top.rank == 4 && rows.shape[0] == top.shape[0] && rows.shape[3] == top.shape[3],
                     "top-down merge of rows \(rows.shape) and \(top.shape) ([n, h, w, c] both)")
        let n = rows.shape[0], h = rows.shape[1], w = rows.shape[2], c = rows.shape[3]
        let th = top.shape[1], tw = top.shape[2]
        let ys = (0..<h).map { Interpolation.nearestIndex($0, input: th, output: h) }
        let xs = (0..<w).map { Interpolation.nearestIndex($0, input: tw, output: w) }
        let inverse = 1 / quantization.scale, zp = Int32(quantization.zeroPoint)
        return rows.data.withUnsafeMutableBufferPointer { rs in
            let dst = rs.baseAddress!
            return top.data.withUnsafeBufferPointer { ts in
                let src = ts.baseAddress!
                return QuantizedActivations(n: n, h: h, w: w, c: c, quantization: quantization) { levels in
                    parallelFor(n * h) { line in
                        let b = line / h, y = line % h
                        let from = src + (b * th + ys[y]) * tw * c
                        for x in 0..<w {
                            let p = (line * w + x) * c
                            rcnn_i8_add_quantize(Int8Kernels.path.rawValue, dst + p, from + xs[x] * c, Int32(c), inverse, zp,
                                                 quantization.top,
                                                 levels + p)
                        }
                    }
                }
            }
        }
    }
}
