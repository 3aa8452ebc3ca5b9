/// A 2-D transposed convolution (PyTorch `nn.ConvTranspose2d`), as GEMM followed by col2im.
/// Immutable; thread-safe.
public struct ConvTranspose2d: Sendable {
    /// `[inChannels, outChannels / groups, kernelH, kernelW]` (PyTorch's layout).
    public let weight: Tensor
    public let bias: [Float]?
    public let stride: Int
    public let padding: Int
    public let outputPadding: Int
    public let dilation: Int
    public let groups: Int
    public let activation: Activation

    public init(weight: Tensor, bias: [Float]?, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
                dilation: Int = 1, groups: Int = 1, activation: Activation = .identity) {
        precondition(weight.rank == 4, "conv-transpose weight must be 4-D, got \(weight.shape)")
        precondition(weight.shape[0] % groups == 0)
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.dilation = dilation
        self.groups = groups
        self.activation = activation
    }

    public var inChannels: Int { weight.shape[0] }
    public var outChannels: Int { weight.shape[1] * groups }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "conv-transpose expects [N, \(inChannels), H, W], got \(x.shape)")
        let n = x.shape[0], h = x.shape[2], w = x.shape[3]
        let kh = weight.shape[2], kw = weight.shape[3]
        let oh = (h - 1) * stride - 2 * padding + dilation * (kh - 1) + outputPadding + 1
        let ow = (w - 1) * stride - 2 * padding + dilation * (kw - 1) + outputPadding + 1
        let cg = inChannels / groups, og = outChannels / groups
        let rowsK = og * kh * kw
        var y = Tensor(shape: [n, outChannels, oh, ow])
        FLOPCounter.add(2 * n * inChannels * h * w * og * kh * kw)
        var cols = [Float](repeating: 0, count: rowsK * h * w)
        x.data.withUnsafeBufferPointer { xs in
        weight.data.withUnsafeBufferPointer { ws in
        y.data.withUnsafeMutableBufferPointer { ys in
        cols.withUnsafeMutableBufferPointer { cb in
            for b in 0..<n {
                for g in 0..<groups {
                    // cols[og*kh*kw, h*w] = W_g^T [og*kh*kw, cg] x X_g [cg, h*w]
                    BLAS.sgemm(transA: true, m: rowsK, n: h * w, k: cg,
                               a: ws.baseAddress! + g * cg * rowsK, lda: rowsK,
                               b: xs.baseAddress! + (b * inChannels + g * cg) * h * w, ldb: h * w,
                               c: cb.baseAddress!, ldc: h * w)
                    let out = ys.baseAddress! + (b * outChannels + g * og) * oh * ow
                    let colsP = cb.baseAddress!
                    let (s, p, d) = (stride, padding, dilation)
                    parallelFor(og) { oc in
                        let plane = out + oc * oh * ow
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                let row = colsP + ((oc * kh + ki) * kw + kj) * h * w
                                for iy in 0..<h {
                                    let oy = iy * s - p + ki * d
                                    if oy < 0 || oy >= oh { continue }
                                    for ix in 0..<w {
                                        let ox = ix * s - p + kj * d
                                        if ox < 0 || ox >= ow { continue }
                                        plane[oy * ow + ox] += row[iy * w + ix]
                                    }
                                }
                            }
                        }
                    }
                }
                let bias = self.bias, act = activation
                let base = ys.baseAddress! + b * outChannels * oh * ow
                parallelFor(outChannels) { c in
                    let plane = base + c * oh * ow
                    if let bias { for j in 0..<(oh * ow) { plane[j] += bias[c] } }
                    act.apply(plane, count: oh * ow)
                }
            }
        }}}}
        return y
    }
}
