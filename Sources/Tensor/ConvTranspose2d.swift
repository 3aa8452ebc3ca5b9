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
    /// The parameter prefix it was loaded from (empty for unnamed layers); names the layer in
    /// quantization tables.
    public let name: String
    /// The int8 precision, when this layer runs in int8.
    public let int8: QuantizedConvTranspose2d?

    /// Called with each named layer and its input before it runs, when set (`rcnn calibrate`
    /// records activation ranges with it). Must be thread-safe.
    nonisolated(unsafe) public static var inputObserver: (@Sendable (ConvTranspose2d, Tensor) -> Void)?

    public init(weight: Tensor, bias: [Float]?, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0,
                dilation: Int = 1, groups: Int = 1, activation: Activation = .identity, name: String = "") {
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
        self.name = name
        int8 = nil
    }

    private init(_ other: ConvTranspose2d, int8: QuantizedConvTranspose2d) {
        (weight, bias, stride, padding, outputPadding) = (other.weight, other.bias, other.stride, other.padding, other.outputPadding)
        (dilation, groups, activation, name) = (other.dilation, other.groups, other.activation, other.name)
        self.int8 = int8
    }

    /// Whether the layer has an int8 precision: a kernel equal to its stride, no padding, dilation
    /// 1, one group (each input pixel feeds its own block of output pixels).
    public var quantizable: Bool {
        groups == 1 && dilation == 1 && padding == 0 && outputPadding == 0
            && weight.shape[2] == stride && weight.shape[3] == stride
    }

    /// The same layer run in int8 for inputs quantized as `input`, weights to `weightBits` (8 or 7).
    public func quantized(input: ActivationQuantization, weightBits: Int = 8) -> ConvTranspose2d {
        ConvTranspose2d(self, int8: QuantizedConvTranspose2d(self, input: input, weightBits: weightBits))
    }

    public var inChannels: Int { weight.shape[0] }
    public var outChannels: Int { weight.shape[1] * groups }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "conv-transpose expects [N, \(inChannels), H, W], got \(x.shape)")
        if let observe = ConvTranspose2d.inputObserver, !name.isEmpty { observe(self, x) }
        if let int8 { return int8(x, activation: activation) }
        let n = x.shape[0], h = x.shape[2], w = x.shape[3]
        let kh = weight.shape[2], kw = weight.shape[3]
        let oh = (h - 1) * stride - 2 * padding + dilation * (kh - 1) + outputPadding + 1
        let ow = (w - 1) * stride - 2 * padding + dilation * (kw - 1) + outputPadding + 1
        let cg = inChannels / groups, og = outChannels / groups
        let rowsK = og * kh * kw
        let plane = h * w
        var y = Tensor(shape: [n, outChannels, oh, ow])
        FLOPCounter.add(2 * n * inChannels * h * w * og * kh * kw)
        // Images per GEMM (the mask head's hundreds of 14 x 14 maps): their columns side by side,
        // the lowered result within the scratch limit.
        let chunk = max(1, min(n, Conv2d.scratchLimit / max(1, rowsK * plane)))
        let (s, p, d) = (stride, padding, dilation)
        x.data.withUnsafeBufferPointer { xs in
        weight.data.withUnsafeBufferPointer { ws in
        y.data.withUnsafeMutableBufferPointer { ys in
            let dst = ys.baseAddress!
            var b0 = 0
            while b0 < n {
                let nb = min(chunk, n - b0), total = nb * plane
                Scratch.with(rowsK * total + (nb > 1 ? cg * total : 0)) { scratch in
                    let cols = scratch, gathered = scratch + rowsK * total
                    for g in 0..<groups {
                        // The chunk's input channels of this group as one [cg, nb * h * w] matrix.
                        var input = UnsafePointer(xs.baseAddress! + (b0 * inChannels + g * cg) * plane)
                        if nb > 1 {
                            parallelFor(cg, minimumPerTask: 16) { c in
                                for i in 0..<nb {
                                    (gathered + c * total + i * plane).update(
                                        from: xs.baseAddress! + ((b0 + i) * self.inChannels + g * cg + c) * plane, count: plane)
                                }
                            }
                            input = UnsafePointer(gathered)
                        }
                        // cols[og*kh*kw, nb*h*w] = W_gᵀ [og*kh*kw, cg] x X_g [cg, nb*h*w]
                        BLAS.sgemm(transA: true, m: rowsK, n: total, k: cg,
                                   a: ws.baseAddress! + g * cg * rowsK, lda: rowsK,
                                   b: input, ldb: total, c: cols, ldc: total)
                        // col2im: every (image, output channel) plane gathers its kernel taps.
                        parallelFor(og * nb) { job in
                            let oc = job % og, i = job / og
                            let out = dst + ((b0 + i) * self.outChannels + g * og + oc) * oh * ow
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    let row = cols + ((oc * kh + ki) * kw + kj) * total + i * plane
                                    for iy in 0..<h {
                                        let oy = iy * s - p + ki * d
                                        if oy < 0 || oy >= oh { continue }
                                        for ix in 0..<w {
                                            let ox = ix * s - p + kj * d
                                            if ox < 0 || ox >= ow { continue }
                                            out[oy * ow + ox] += row[iy * w + ix]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                b0 += nb
            }
            let bias = self.bias, act = activation, channels = outChannels
            parallelFor(n * channels, minimumPerTask: 8) { j in
                let out = dst + j * oh * ow
                if let bias { for q in 0..<(oh * ow) { out[q] += bias[j % channels] } }
                act.apply(out, count: oh * ow)
            }
        }}}
        return y
    }
}
