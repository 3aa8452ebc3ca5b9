import CKernels
import Foundation

/// A 2-D convolution layer (PyTorch `nn.Conv2d` semantics, cross-correlation) with an optional fused
/// activation. Immutable once built; `callAsFunction` is thread-safe.
///
/// Dense convolutions run as GEMM: 1x1 stride-1 unpadded convolutions multiply the input directly;
/// others lower a band of output rows at a time with im2col (bounded scratch). Depthwise convolutions
/// (groups == in == out channels) use a direct kernel. 3x3 stride-1 convolutions with enough
/// channels use Winograd F(4x4, 3x3) (`Winograd3x3`) unless `Conv2d.winogradEnabled` is off.
public struct Conv2d: Sendable {
    /// `[outChannels, inChannels / groups, kernelH, kernelW]`.
    public let weight: Tensor
    /// `[outChannels]`, or nil.
    public let bias: [Float]?
    public let stride: (h: Int, w: Int)
    public let padding: (h: Int, w: Int)
    public let dilation: (h: Int, w: Int)
    public let groups: Int
    public let activation: Activation
    /// The pre-transformed filters of the Winograd path, where it applies.
    public let winograd: Winograd3x3?
    /// The int8 precision of this convolution, when the model runs it quantized (`quantized(input:)`).
    public let int8: QuantizedConv2d?
    /// The layer's name in its weights file (the weight tensor's prefix), or "" for an unnamed layer.
    public let name: String

    /// Called with each named convolution and its input before it runs, when set (`rcnn calibrate`
    /// records activation ranges with it). Must be thread-safe.
    nonisolated(unsafe) public static var inputObserver: (@Sendable (Conv2d, Tensor) -> Void)?

    /// Whether eligible convolutions take the Winograd path (default on; `RCNN_WINOGRAD=0` turns it
    /// off for the process, tests toggle it to compare both paths).
    nonisolated(unsafe) public static var winogradEnabled =
        ProcessInfo.processInfo.environment["RCNN_WINOGRAD"] != "0"

    /// Whether stem-like convolutions (`directApplies`) run as direct convolutions (default on;
    /// `RCNN_DIRECT_CONV=0` lowers them to rows for a GEMM like other layers, tests compare both).
    nonisolated(unsafe) public static var directEnabled =
        ProcessInfo.processInfo.environment["RCNN_DIRECT_CONV"] != "0"

    /// Dense layers with at most 4 input channels (the stems, on the image's 3), dilation 1 and a
    /// row stride of 1 or 2: lowered to rows they move a matrix as large as their output through
    /// memory for a few dozen multiply-adds per value, so `rcnn_conv_direct` computes them in place.
    public var directApplies: Bool {
        groups == 1 && inChannels <= 4 && dilation == (1, 1) && stride.w <= 2
    }

    public var outChannels: Int { weight.shape[0] }
    public var inChannels: Int { weight.shape[1] * groups }
    public var kernel: (h: Int, w: Int) { (weight.shape[2], weight.shape[3]) }

    public init(weight: Tensor, bias: [Float]?, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
                groups: Int = 1, activation: Activation = .identity, name: String = "") {
        self.init(weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
                  dilation: (dilation, dilation), groups: groups, activation: activation, name: name)
    }

    public init(weight: Tensor, bias: [Float]?, stride: (h: Int, w: Int), padding: (h: Int, w: Int),
                dilation: (h: Int, w: Int), groups: Int, activation: Activation, name: String = "") {
        precondition(weight.rank == 4, "conv weight must be 4-D, got \(weight.shape)")
        precondition(groups >= 1 && weight.shape[0] % groups == 0, "out channels \(weight.shape[0]) not divisible by groups \(groups)")
        if let bias { precondition(bias.count == weight.shape[0], "bias has \(bias.count) values for \(weight.shape[0]) channels") }
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.activation = activation
        self.name = name
        int8 = nil
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        // Transformed filters take 4x the memory of the 3x3 weights; none are made while Winograd is off.
        winograd = Conv2d.winogradEnabled
            && Winograd3x3.applies(kernel: (kh, kw), stride: stride, dilation: dilation, groups: groups,
                                   inChannels: weight.shape[1] * groups, outChannels: weight.shape[0])
            ? Winograd3x3(weight: weight) : nil
    }

    private init(_ other: Conv2d, activation: Activation, int8: QuantizedConv2d?, winograd: Winograd3x3?) {
        weight = other.weight
        bias = other.bias
        stride = other.stride
        padding = other.padding
        dilation = other.dilation
        groups = other.groups
        name = other.name
        self.winograd = winograd
        self.int8 = int8
        self.activation = activation
    }

    /// The same convolution with a different fused activation.
    public func with(activation: Activation) -> Conv2d {
        Conv2d(self, activation: activation, int8: int8, winograd: winograd)
    }

    /// Whether the convolution has an int8 precision: dense (groups 1) or depthwise (one filter per
    /// channel).
    public var quantizable: Bool { groups == 1 || (groups == inChannels && groups == outChannels) }

    /// The same convolution run in int8 for inputs quantized as `input`, weights to `weightBits` (8
    /// or 7) (float weights kept for reference; the Winograd filters are dropped). With
    /// `floatWeights` (1x1 layers only, `FloatWeightsOnLevels.applies`) the input is quantized as
    /// `input` but multiplied by the float32 weights: a layer that reads another's levels and
    /// writes float32 outputs.
    public func quantized(input: ActivationQuantization, weightBits: Int = 8, floatWeights: Bool = false) -> Conv2d {
        Conv2d(self, activation: activation,
               int8: QuantizedConv2d(self, input: input, weightBits: weightBits, floatWeights: floatWeights), winograd: nil)
    }

    /// Output spatial size for an input of `h` x `w`.
    public func outputSize(h: Int, w: Int) -> (h: Int, w: Int) {
        Conv2d.outputSize(h: h, w: w, kernel: kernel, stride: stride, padding: padding, dilation: dilation)
    }

    /// Output spatial size of a convolution with this geometry (PyTorch's formula, floor division).
    static func outputSize(h: Int, w: Int, kernel: (h: Int, w: Int), stride: (h: Int, w: Int),
                           padding: (h: Int, w: Int), dilation: (h: Int, w: Int)) -> (h: Int, w: Int) {
        ((h + 2 * padding.h - dilation.h * (kernel.h - 1) - 1) / stride.h + 1,
         (w + 2 * padding.w - dilation.w * (kernel.w - 1) - 1) / stride.w + 1)
    }

    /// Convolves an NCHW input.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels,
                     "conv expects [N, \(inChannels), H, W], got \(x.shape)")
        let n = x.shape[0], h = x.shape[2], w = x.shape[3]
        if let observe = Conv2d.inputObserver, !name.isEmpty { observe(self, x) }
        if let int8 { return int8(x, activation: activation) }
        let (oh, ow) = outputSize(h: h, w: w)
        precondition(oh > 0 && ow > 0, "conv output would be empty for input \(x.shape)")
        var y = Tensor.uninitialized([n, outChannels, oh, ow])
        FLOPCounter.add(2 * n * outChannels * oh * ow * (inChannels / groups) * kernel.h * kernel.w)
        if let winograd, Conv2d.winogradEnabled {
            x.data.withUnsafeBufferPointer { xs in
                y.data.withUnsafeMutableBufferPointer { ys in
                    winograd.run(xs.baseAddress!, n: n, h: h, w: w, padding: padding, bias: bias,
                                 activation: activation, into: ys.baseAddress!, oh: oh, ow: ow,
                                 scratchLimit: Conv2d.scratchLimit)
                }
            }
            return y
        }
        if Conv2d.directEnabled && directApplies {
            x.data.withUnsafeBufferPointer { xs in
                y.data.withUnsafeMutableBufferPointer { ys in
                    for b in 0..<n {
                        direct(xs.baseAddress! + b * inChannels * h * w, h, w, ys.baseAddress! + b * outChannels * oh * ow, oh, ow)
                    }
                }
            }
            return y
        }
        let depthwiseConv = groups > 1 && groups == inChannels && groups == outChannels
        let kdim = inChannels / groups * kernel.h * kernel.w
        if n > 1 && !depthwiseConv && groups == 1 && 2 * kdim * oh * ow <= Conv2d.scratchLimit {
            // Many small images (RoI heads: hundreds of 7x7 or 14x14 maps): one GEMM per chunk of
            // images instead of one small GEMM each; chunks keep the lowered matrix within the
            // scratch limit.
            let chunk = max(1, Conv2d.scratchLimit / (kdim * oh * ow))
            var start = 0
            while start < n {
                batched(x, start..<min(n, start + chunk), h, w, into: &y, oh, ow)
                start += chunk
            }
            return y
        }
        x.data.withUnsafeBufferPointer { xs in
            y.data.withUnsafeMutableBufferPointer { ys in
                for b in 0..<n {
                    let src = xs.baseAddress! + b * inChannels * h * w
                    let dst = ys.baseAddress! + b * outChannels * oh * ow
                    if groups > 1 && groups == inChannels && groups == outChannels {
                        depthwise(src, h, w, dst, oh, ow)
                    } else {
                        dense(src, h, w, dst, oh, ow)
                    }
                }
            }
        }
        return y
    }

    /// Images `images` lowered side by side into one `[kdim, n * oh * ow]` matrix, one GEMM into
    /// `[out, n * oh * ow]`, then transposed into NCHW with bias and activation.
    private func batched(_ x: Tensor, _ images: Range<Int>, _ h: Int, _ w: Int, into y: inout Tensor, _ oh: Int, _ ow: Int) {
        let n = images.count, first = images.lowerBound
        let (kh, kw) = kernel
        let kdim = inChannels * kh * kw
        let plane = oh * ow, total = n * plane
        Scratch.with(kdim * total + outChannels * total + kdim * plane) { scratch in
            let cols = scratch, g = scratch + kdim * total, one = g + outChannels * total
            x.data.withUnsafeBufferPointer { xs in
                // Lower each image into its own column block (row stride `total`).
                for b in 0..<n {
                    im2col(xs.baseAddress! + (first + b) * inChannels * h * w, channels: inChannels, h, w, rows: 0..<oh, ow, into: one)
                    for r in 0..<kdim {
                        (cols + r * total + b * plane).update(from: one + r * plane, count: plane)
                    }
                }
            }
            weight.data.withUnsafeBufferPointer { wb in
                BLAS.sgemm(m: outChannels, n: total, k: kdim, a: wb.baseAddress!, lda: kdim,
                           b: cols, ldb: total, c: g, ldc: total)
            }
            y.data.withUnsafeMutableBufferPointer { ys in
                let dst = ys.baseAddress!
                parallelFor(outChannels, minimumPerTask: 8) { c in
                    let b0 = self.bias?[c] ?? 0
                    for b in 0..<n {
                        let out = dst + ((first + b) * self.outChannels + c) * plane
                        let src = g + c * total + b * plane
                        for j in 0..<plane { out[j] = src[j] + b0 }
                        self.activation.apply(out, count: plane)
                    }
                }
            }
        }
    }

    /// Largest im2col scratch, in floats, for one band of output rows (default 16 MiB). A tuning
    /// knob; tests lower it to exercise banding on small inputs.
    nonisolated(unsafe) public static var scratchLimit = 4 << 20

    private func dense(_ src: UnsafePointer<Float>, _ h: Int, _ w: Int,
                       _ dst: UnsafeMutablePointer<Float>, _ oh: Int, _ ow: Int) {
        let cg = inChannels / groups, og = outChannels / groups
        let (kh, kw) = kernel
        let kdim = cg * kh * kw
        let pointwise = kh == 1 && kw == 1 && stride == (1, 1) && padding == (0, 0)
        weight.data.withUnsafeBufferPointer { wbuf in
            if pointwise {
                for g in 0..<groups {
                    BLAS.sgemm(m: og, n: oh * ow, k: cg,
                               a: wbuf.baseAddress! + g * og * kdim, lda: kdim,
                               b: src + g * cg * h * w, ldb: h * w,
                               c: dst + g * og * oh * ow, ldc: oh * ow)
                }
                finish(dst, 0..<outChannels, oh * ow, columns: 0..<(oh * ow))
                return
            }
            let rowsPerBand = max(1, min(oh, Conv2d.scratchLimit / max(1, kdim * ow)))
            Scratch.with(kdim * rowsPerBand * ow) { cols in
                var r0 = 0
                while r0 < oh {
                    let r1 = min(oh, r0 + rowsPerBand)
                    let ncols = (r1 - r0) * ow
                    for g in 0..<groups {
                        im2col(src + g * cg * h * w, channels: cg, h, w, rows: r0..<r1, ow, into: cols)
                        BLAS.sgemm(m: og, n: ncols, k: kdim,
                                   a: wbuf.baseAddress! + g * og * kdim, lda: kdim,
                                   b: cols, ldb: ncols,
                                   c: dst + g * og * oh * ow + r0 * ow, ldc: oh * ow)
                    }
                    finish(dst, 0..<outChannels, oh * ow, columns: (r0 * ow)..<(r1 * ow))
                    r0 = r1
                }
            }
        }
    }

    /// Adds the bias and applies the activation to `columns` of each output channel plane.
    private func finish(_ dst: UnsafeMutablePointer<Float>, _ channels: Range<Int>, _ plane: Int, columns: Range<Int>) {
        let act = activation
        parallelFor(channels.count, minimumPerTask: 8) { i in
            let c = channels.lowerBound + i
            let p = dst + c * plane + columns.lowerBound
            if let bias = self.bias {
                let b = bias[c]
                for j in 0..<columns.count { p[j] += b }
            }
            act.apply(p, count: columns.count)
        }
    }

    /// Lowers output rows `rows` of one group into `cols` as a `[cg*kh*kw, rows.count*ow]` matrix.
    private func im2col(_ src: UnsafePointer<Float>, channels: Int, _ h: Int, _ w: Int,
                        rows: Range<Int>, _ ow: Int, into cols: UnsafeMutablePointer<Float>) {
        let (kh, kw) = kernel
        let ncols = rows.count * ow
        let (sh, sw) = stride, (ph, pw) = padding, (dh, dw) = dilation
        parallelFor(channels * kh, minimumPerTask: 4) { ck in
            let c = ck / kh, ki = ck % kh
            let plane = src + c * h * w
            for kj in 0..<kw {
                let out = cols + ((c * kh + ki) * kw + kj) * ncols
                var col = 0
                for oy in rows {
                    let iy = oy * sh - ph + ki * dh
                    if iy < 0 || iy >= h {
                        (out + col).update(repeating: 0, count: ow)
                        col += ow
                        continue
                    }
                    let line = plane + iy * w
                    let ix0 = kj * dw - pw
                    // The valid columns, ix0 + ox * sw in [0, w), are ox in [lo, hi); zeros either side.
                    let lo = ix0 >= 0 ? 0 : min(ow, (-ix0 + sw - 1) / sw)
                    let hi = max(lo, w - 1 - ix0 < 0 ? 0 : min(ow, (w - 1 - ix0) / sw + 1))
                    (out + col).update(repeating: 0, count: lo)
                    if sw == 1 {
                        (out + col + lo).update(from: line + ix0 + lo, count: hi - lo)
                    } else {
                        for ox in lo..<hi { out[col + ox] = line[ix0 + ox * sw] }
                    }
                    (out + col + hi).update(repeating: 0, count: ow - hi)
                    col += ow
                }
            }
        }
    }

    /// One image through `rcnn_conv_direct`, in tasks of 16 output channels x 8 output rows (tasks
    /// next to each other read the same input rows), each task applying the activation to what it
    /// wrote.
    private func direct(_ src: UnsafePointer<Float>, _ h: Int, _ w: Int,
                        _ dst: UnsafeMutablePointer<Float>, _ oh: Int, _ ow: Int) {
        let oBlock = 16, band = 8
        let oBlocks = (outChannels + oBlock - 1) / oBlock, bands = (oh + band - 1) / band
        let act = activation
        weight.data.withUnsafeBufferPointer { wb in
            (bias ?? []).withUnsafeBufferPointer { bb in
                let biasPointer = bias == nil ? nil : bb.baseAddress
                parallelFor(oBlocks * bands) { t in
                    let o0 = (t % oBlocks) * oBlock, o1 = min(self.outChannels, o0 + oBlock)
                    let y0 = (t / oBlocks) * band, y1 = min(oh, y0 + band)
                    rcnn_conv_direct(src, Int32(self.inChannels), Int32(h), Int32(w), wb.baseAddress!,
                                     Int32(self.kernel.h), Int32(self.kernel.w), Int32(self.stride.h), Int32(self.stride.w),
                                     Int32(self.padding.h), Int32(self.padding.w), biasPointer, dst, Int32(oh), Int32(ow),
                                     Int32(o0), Int32(o1), Int32(y0), Int32(y1))
                    if act != .identity {
                        for o in o0..<o1 { act.apply(dst + o * oh * ow + y0 * ow, count: (y1 - y0) * ow) }
                    }
                }
            }
        }
    }

    /// Direct depthwise convolution: one filter per channel (CKernels, vectorised along each row).
    private func depthwise(_ src: UnsafePointer<Float>, _ h: Int, _ w: Int,
                           _ dst: UnsafeMutablePointer<Float>, _ oh: Int, _ ow: Int) {
        let (kh, kw) = kernel
        let act = activation
        weight.data.withUnsafeBufferPointer { wbuf in
            parallelFor(outChannels) { c in
                let out = dst + c * oh * ow
                rcnn_depthwise_channel(src + c * h * w, Int32(h), Int32(w), wbuf.baseAddress! + c * kh * kw,
                                       Int32(kh), Int32(kw), Int32(self.stride.h), Int32(self.stride.w),
                                       Int32(self.padding.h), Int32(self.padding.w),
                                       Int32(self.dilation.h), Int32(self.dilation.w),
                                       self.bias?[c] ?? 0, out, Int32(oh), Int32(ow))
                act.apply(out, count: oh * ow)
            }
        }
    }
}
