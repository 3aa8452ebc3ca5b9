import CKernels
import Foundation

/// The int8 precision of a dense convolution (`groups == 1`) or a depthwise one (one filter per
/// channel): the input is quantized per tensor (`ActivationQuantization`), the weights per output
/// channel, the products summed exactly in 32-bit integers, and the sums turned back into floats
/// with the bias and ReLU in one pass.
///
/// The input is quantized once into pixel-major (NHWC) bytes; tasks of output pixels then lower
/// their rows in (tap, channel) order (1x1 stride-1 convolutions read the quantized input as it
/// is), multiply, and store straight into the NCHW output, into pixel rows, or into the next
/// layer's levels (with the residual join where a ResNet block ends). A depthwise layer sums each channel's
/// taps straight from the pixel-major levels (`rcnn_i8_depthwise`) into the same rows of sums, so
/// the stores and chains are the dense layer's. Results are identical on every instruction-set
/// path. Immutable; thread-safe.
public struct QuantizedConv2d: Sendable {
    public let weights: PackedInt8Weights
    public let kernel: (h: Int, w: Int)
    public let stride: (h: Int, w: Int)
    public let padding: (h: Int, w: Int)
    public let dilation: (h: Int, w: Int)
    public let inChannels: Int
    public var outChannels: Int { weights.n }
    public var input: ActivationQuantization { weights.input }
    /// Whether this is a depthwise layer (groups == in == out channels).
    public var isDepthwise: Bool { depthwiseWeights != nil }
    /// A depthwise layer's weight levels as `rcnn_i8_depthwise` reads them: [tap][channel], as int32.
    private let depthwiseWeights: [Int32]?
    /// Float32 weights that multiply the input levels' values instead of the integer multiply
    /// (`init(_:input:weightBits:floatWeights:)`); only `callAsFunction(_:activation:)` runs such a layer.
    public let floatWeights: FloatWeightsOnLevels?

    /// Quantizes `conv`'s weights (to `weightBits`, 8 or 7) for inputs quantized as `input`.
    /// `conv.groups` must be 1, or equal to its input and output channels (depthwise). With
    /// `floatWeights` (a 1x1 layer, `FloatWeightsOnLevels.applies`) the layer reads levels quantized
    /// as `input` and multiplies their values by its float32 weights: it produces float32 outputs
    /// only (`callAsFunction(_:activation:)`), never levels, rows or joins.
    public init(_ conv: Conv2d, input: ActivationQuantization, weightBits: Int = 8, floatWeights: Bool = false) {
        let depthwise = conv.groups > 1 && conv.groups == conv.inChannels && conv.groups == conv.outChannels
        precondition(conv.groups == 1 || depthwise,
                     "int8 convolutions are dense (groups 1) or depthwise, got groups \(conv.groups) for \(conv.inChannels) -> \(conv.outChannels) channels")
        let (kh, kw) = conv.kernel
        let c = conv.inChannels, o = conv.outChannels
        kernel = (kh, kw)
        stride = conv.stride
        padding = conv.padding
        dilation = conv.dilation
        inChannels = c
        let cg = c / conv.groups
        // Weights [o][c / groups][ki][kj] reordered to the lowering's (ki, kj, c) order; a depthwise
        // layer's row is its own channel's taps.
        weights = conv.weight.data.withUnsafeBufferPointer { wb in
            PackedInt8Weights(n: o, k: cg * kh * kw, input: input, bias: conv.bias, weightBits: weightBits) { j, row in
                let src = wb.baseAddress! + j * cg * kh * kw
                for ch in 0..<cg {
                    for t in 0..<(kh * kw) { row[t * cg + ch] = src[ch * kh * kw + t] }
                }
            }
        }
        if depthwise {
            let levels = weights.levels(), taps = kh * kw
            var byTap = [Int32](repeating: 0, count: taps * o)
            for ch in 0..<o {
                for t in 0..<taps { byTap[t * o + ch] = Int32(levels[ch * taps + t]) }
            }
            depthwiseWeights = byTap
        } else {
            depthwiseWeights = nil
        }
        self.floatWeights = floatWeights ? FloatWeightsOnLevels(conv) : nil
    }

    /// Output spatial size for an input of `h` x `w`.
    public func outputSize(h: Int, w: Int) -> (h: Int, w: Int) {
        Conv2d.outputSize(h: h, w: w, kernel: kernel, stride: stride, padding: padding, dilation: dilation)
    }

    /// Convolves an NCHW float input, applying `activation` to the output.
    public func callAsFunction(_ x: Tensor, activation: Activation) -> Tensor {
        self(quantize(x), activation: activation)
    }

    /// Quantizes an NCHW float input as this layer's input, into pixel-major levels.
    public func quantize(_ x: Tensor) -> QuantizedActivations {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "int8 conv expects [N, \(inChannels), H, W], got \(x.shape)")
        return QuantizedActivations(quantizing: x, as: input)
    }

    /// Convolves a quantized input into an NCHW float output, applying `activation`.
    public func callAsFunction(_ x: QuantizedActivations, activation: Activation) -> Tensor {
        let (oh, ow) = checkedOutputSize(x)
        if let floatWeights { return floatWeights(x, activation: activation) }
        var y = Tensor.uninitialized([x.n, outChannels, oh, ow])
        y.data.withUnsafeMutableBufferPointer { ys in
            let dst = ys.baseAddress!
            run(x) { acc, first, count in
                weights.storeNCHW(acc, first: first, rows: count, relu: activation == .relu, into: dst, plane: oh * ow)
            }
            if activation != .identity && activation != .relu {
                let count = ys.count, chunk = 1 << 16
                parallelFor((count + chunk - 1) / chunk) { i in
                    activation.apply(dst + i * chunk, count: min(chunk, count - i * chunk))
                }
            }
        }
        return y
    }

    /// Output channel `channels[i]` of image i only, `[n, 1, oh, ow]`: each value has the bits of
    /// that channel in `callAsFunction(x, activation:)`'s output (Mask R-CNN's logits layer, of
    /// whose class maps each RoI needs its detection's). A convolution that reads its input in
    /// place (1x1, stride 1) multiplies only the panel of 16 outputs holding each image's channel;
    /// any other computes every channel and keeps the asked ones.
    public func channels(_ x: QuantizedActivations, perImage channels: [Int], activation: Activation) -> Tensor {
        precondition(channels.count == x.n, "\(channels.count) channels for \(x.n) images")
        precondition(channels.allSatisfy { (0..<outChannels).contains($0) }, "channels outside 0..<\(outChannels)")
        let (oh, ow) = checkedOutputSize(x)
        let plane = oh * ow
        guard readsInPlace, depthwiseWeights == nil, floatWeights == nil else { return self(x, activation: activation).channels(perImage: channels) }
        var y = Tensor.uninitialized([x.n, 1, oh, ow])
        let c = inChannels, nr = Int(RCNN_I8_NR)
        let panelWidths = channels.reduce(0) { $0 + min(nr, outChannels - $1 / nr * nr) }
        FLOPCounter.add(2 * plane * weights.k * panelWidths)
        x.withLevels { levels in
            y.data.withUnsafeMutableBufferPointer { ys in
                let dst = ys.baseAddress!
                parallelFor(x.n) { i in
                    Scratch.with(plane * nr) { buf in
                        let acc = UnsafeMutableRawPointer(buf).bindMemory(to: Int32.self, capacity: plane * nr)
                        let column = weights.multiplyPanel(holding: channels[i], m: plane, a: levels + i * plane * c,
                                                           lda: c, into: acc)
                        weights.storeColumn(acc, ldacc: nr, column: column, output: channels[i], rows: plane,
                                            relu: activation == .relu, into: dst + i * plane)
                        if activation != .identity && activation != .relu { activation.apply(dst + i * plane, count: plane) }
                    }
                }
            }
        }
        return y
    }

    /// Convolves a quantized input and quantizes the output, after `activation` (identity, ReLU or
    /// hardswish), as `next`'s input: the levels `next.quantize(self(x, activation:))` would give,
    /// without the float tensor in between.
    public func callAsFunction(_ x: QuantizedActivations, activation: Activation,
                               quantizedFor next: ActivationQuantization) -> QuantizedActivations {
        precondition(PackedInt8Weights.requantizable(activation), "requantizing applies identity, ReLU or hardswish only")
        let (oh, ow) = checkedOutputSize(x)
        let o = outChannels
        return QuantizedActivations(n: x.n, h: oh, w: ow, c: o, quantization: next) { levels in
            run(x, activation: activation, quantizedFor: next, into: levels, values: nil)
        }
    }

    /// Convolves a quantized input into pixel rows `[n, h, w, c]` (channels last), applying
    /// ReLU or nothing: the values of `callAsFunction(_:activation:)`'s NCHW output.
    public func rows(_ x: QuantizedActivations, activation: Activation) -> Tensor {
        precondition(activation == .identity || activation == .relu, "rows apply identity or ReLU, got \(activation)")
        let (oh, ow) = checkedOutputSize(x)
        let o = outChannels
        var rows = Tensor.uninitialized([x.n, oh, ow, o])
        rows.data.withUnsafeMutableBufferPointer { vs in
            let values = vs.baseAddress!
            run(x) { acc, first, count in
                weights.storeRows(acc, rows: count, relu: activation == .relu, into: values + first * o)
            }
        }
        return rows
    }

    /// The same, also keeping the activated float output as pixel rows `[n, h, w, c]` (channels
    /// last): one pass over the sums gives a map that channels-last readers (RoIAlign) sample and
    /// the next layer's levels. The values have the bits of `callAsFunction(_:activation:)`'s NCHW
    /// output, the levels those of quantizing it.
    public func callAsFunction(_ x: QuantizedActivations, activation: Activation,
                               rowsQuantizedFor next: ActivationQuantization) -> (rows: Tensor, levels: QuantizedActivations) {
        precondition(PackedInt8Weights.requantizable(activation), "requantizing applies identity, ReLU or hardswish only")
        let (oh, ow) = checkedOutputSize(x)
        let o = outChannels
        var rows = Tensor.uninitialized([x.n, oh, ow, o])
        let levels = rows.data.withUnsafeMutableBufferPointer { vs in
            let values = vs.baseAddress!
            return QuantizedActivations(n: x.n, h: oh, w: ow, c: o, quantization: next) { levels in
                run(x, activation: activation, quantizedFor: next, into: levels, values: values)
            }
        }
        return (rows, levels)
    }

    /// Convolves a quantized input (the layer's activation must be identity) and joins a residual
    /// branch: `max(conv + residual, 0)`, the float32 add-ReLU's bits, in one pass over the sums.
    /// With `next`, the output's levels for that layer come with it (what `quantize` would make of
    /// the float output).
    public func callAsFunction(_ x: QuantizedActivations, addingReLU residual: Tensor,
                               quantizedFor next: ActivationQuantization?) -> (Tensor, QuantizedActivations?) {
        let (oh, ow) = checkedOutputSize(x)
        let o = outChannels
        precondition(residual.shape == [x.n, o, oh, ow], "residual \(residual.shape) for output [\(x.n), \(o), \(oh), \(ow)]")
        var y = Tensor.uninitialized([x.n, o, oh, ow])
        var levels: QuantizedActivations?
        residual.data.withUnsafeBufferPointer { rs in
            y.data.withUnsafeMutableBufferPointer { ys in
                let res = rs.baseAddress!, dst = ys.baseAddress!
                func store(_ lv: UnsafeMutablePointer<UInt8>?) {
                    run(x) { acc, first, count in
                        weights.storeNCHWAddingReLU(acc, first: first, rows: count, residual: res, into: dst,
                                                    plane: oh * ow, next: next, levels: lv.map { $0 + first * o })
                    }
                }
                if let next {
                    levels = QuantizedActivations(n: x.n, h: oh, w: ow, c: o, quantization: next) { store($0) }
                } else {
                    store(nil)
                }
            }
        }
        return (y, levels)
    }

    func checkedOutputSize(_ x: QuantizedActivations) -> (h: Int, w: Int) {
        precondition(x.c == inChannels && x.quantization == input,
                     "int8 conv expects \(inChannels) channels quantized as \(input), got \(x.c) as \(x.quantization)")
        let (oh, ow) = outputSize(h: x.h, w: x.w)
        precondition(oh > 0 && ow > 0, "conv output would be empty for input \(x.h) x \(x.w)")
        return (oh, ow)
    }

    /// The integer sums of every output pixel, in tasks of rows: `store(acc, first, count)` gets
    /// `count` rows of `outChannels` sums for output pixels `first...` (numbered over images).
    private func run(_ x: QuantizedActivations,
                     store: (UnsafeMutablePointer<Int32>, Int, Int) -> Void) {
        precondition(floatWeights == nil, "a layer with float32 weights on levels produces float32 outputs only")
        let c = inChannels, h = x.h, w = x.w
        let (oh, ow) = outputSize(h: h, w: w)
        let o = outChannels
        FLOPCounter.add(2 * x.n * o * oh * ow * weights.k)
        let zp = Int32(x.quantization.zeroPoint)
        let m = x.n * oh * ow
        x.withLevels { quantized in
            if let depthwiseWeights {
                depthwiseWeights.withUnsafeBufferPointer { wt in
                    PackedInt8Weights.inTasks(m: m, columns: o, bytesPerRow: 0) { acc, _, first, count in
                        let rc = rcnn_i8_depthwise(Int8Kernels.path.rawValue, quantized, Int32(c), Int32(h), Int32(w),
                                                   Int32(kernel.h), Int32(kernel.w), Int32(stride.h), Int32(stride.w),
                                                   Int32(padding.h), Int32(padding.w), Int32(dilation.h), Int32(dilation.w),
                                                   Int32(oh), Int32(ow), zp, wt.baseAddress!, first, Int32(count), acc, o)
                        precondition(rc == 0, "int8 path \(Int8Kernels.path) is not supported by this CPU")
                        store(acc, first, count)
                    }
                }
                return
            }
            denseTasks(x, quantized) { rows, lda, acc, first, count in
                weights.multiply(m: count, a: rows, lda: lda, into: acc, ldc: o)
                store(acc, first, count)
            }
        }
    }

    /// `run` with `requantizeRows` as the store, fused into the multiply of a dense layer
    /// (`multiplyRequantizing`): the output's levels into `levels`, and the activated values into
    /// `values` when given (`outChannels` per output pixel, numbered over images).
    private func run(_ x: QuantizedActivations, activation: Activation, quantizedFor next: ActivationQuantization,
                     into levels: UnsafeMutablePointer<UInt8>, values: UnsafeMutablePointer<Float>?) {
        precondition(floatWeights == nil, "a layer with float32 weights on levels produces float32 outputs only")
        let o = outChannels
        guard depthwiseWeights == nil else {
            return run(x) { acc, first, count in
                weights.requantizeRows(acc, rows: count, activation: activation, for: next, into: levels + first * o,
                                       values: values.map { $0 + first * o })
            }
        }
        let (oh, ow) = outputSize(h: x.h, w: x.w)
        FLOPCounter.add(2 * x.n * o * oh * ow * weights.k)
        x.withLevels { quantized in
            denseTasks(x, quantized) { rows, lda, acc, first, count in
                weights.multiplyRequantizing(m: count, a: rows, lda: lda, partialSums: acc, activation: activation, for: next,
                                             into: levels + first * o, values: values.map { $0 + first * o })
            }
        }
    }

    /// A dense layer's output pixels in parallel tasks (`PackedInt8Weights.inTasks`):
    /// `body(rows, lda, acc, first, count)` gets each task's operand rows (`operandRows` of the
    /// levels at `quantized`) and scratch for its sums (`outChannels` per row).
    private func denseTasks(_ x: QuantizedActivations, _ quantized: UnsafePointer<UInt8>,
                            body: (UnsafePointer<UInt8>, Int, UnsafeMutablePointer<Int32>, Int, Int) -> Void) {
        let (oh, ow) = outputSize(h: x.h, w: x.w)
        PackedInt8Weights.inTasks(m: x.n * oh * ow, columns: outChannels, bytesPerRow: loweredBytesPerRow) { acc, scratch, first, count in
            let (rows, lda) = operandRows(quantized, x, first: first, count: count, scratch: scratch)
            body(rows, lda, acc, first, count)
        }
    }

    /// Whether the multiply reads the quantized input where it lies (a 1x1 stride-1 convolution
    /// whose pixel rows are whole k-groups); otherwise each task lowers its rows (`lower`).
    var readsInPlace: Bool {
        kernel == (1, 1) && stride == (1, 1) && padding == (0, 0) && inChannels % 4 == 0
    }

    /// Scratch bytes per output row that `multiplyRows` lowers into: none when it reads in place.
    var loweredBytesPerRow: Int { readsInPlace ? 0 : weights.paddedK }

    /// The sums of output pixels `first..<first + count` of `x` (levels at `levels`) into `acc`
    /// (`outChannels` per row): the input's rows read in place, or lowered into `scratch`
    /// (`loweredBytesPerRow` per row) first.
    func multiplyRows(_ levels: UnsafePointer<UInt8>, _ x: QuantizedActivations, first: Int, count: Int,
                      scratch: UnsafeMutablePointer<UInt8>, into acc: UnsafeMutablePointer<Int32>) {
        precondition(floatWeights == nil, "a layer with float32 weights on levels produces float32 outputs only")
        let (rows, lda) = operandRows(levels, x, first: first, count: count, scratch: scratch)
        weights.multiply(m: count, a: rows, lda: lda, into: acc, ldc: outChannels)
    }

    /// The multiply's operand rows for output pixels `first..<first + count` of `x`: the input's
    /// levels where they lie, or lowered into `scratch` (`loweredBytesPerRow` per row). Returns the
    /// first row and the leading dimension.
    func operandRows(_ levels: UnsafePointer<UInt8>, _ x: QuantizedActivations, first: Int, count: Int,
                     scratch: UnsafeMutablePointer<UInt8>) -> (UnsafePointer<UInt8>, Int) {
        if readsInPlace { return (levels + first * inChannels, inChannels) }
        lower(levels, x, first: first, count: count, into: scratch)
        return (UnsafePointer(scratch), weights.paddedK)
    }

    /// Writes the multiply's rows for output pixels `first..<first + count` of `x` (whose levels are
    /// at `levels`) into `dst`, `weights.paddedK` bytes each, in (tap, channel) order.
    func lower(_ levels: UnsafePointer<UInt8>, _ x: QuantizedActivations, first: Int, count: Int,
               into dst: UnsafeMutablePointer<UInt8>) {
        let (oh, ow) = outputSize(h: x.h, w: x.w)
        rcnn_i8_lower(levels, Int32(inChannels), Int32(x.h), Int32(x.w), Int32(kernel.h), Int32(kernel.w),
                      Int32(stride.h), Int32(stride.w), Int32(padding.h), Int32(padding.w),
                      Int32(dilation.h), Int32(dilation.w), Int32(oh), Int32(ow), Int32(x.quantization.zeroPoint),
                      first, Int32(count), dst, weights.paddedK)
    }
}
