import CKernels
import Foundation

/// The int8 precision of a transposed convolution whose kernel equals its stride, with no padding
/// (Mask R-CNN's 2x2 stride-2 upsampling before the mask logits): every input pixel feeds its own
/// `kh` x `kw` block of output pixels, so the layer is one multiply of the pixel-major input levels
/// by a `[inChannels, kh * kw * outChannels]` weight matrix, whose sums are stored straight into
/// their output pixels (`rcnn_i8_store_upsampled`). Weights are quantized per output column (one
/// tap of one output channel), inputs per tensor, as for `QuantizedConv2d`; results are identical
/// on every instruction-set path. Immutable; thread-safe.
public struct QuantizedConvTranspose2d: Sendable {
    public let weights: PackedInt8Weights
    public let kernel: (h: Int, w: Int)
    public let inChannels: Int
    public let outChannels: Int
    public var input: ActivationQuantization { weights.input }

    /// Quantizes `layer`'s weights (to `weightBits`, 8 or 7) for inputs quantized as `input`.
    /// `layer.quantizable` must hold.
    public init(_ layer: ConvTranspose2d, input: ActivationQuantization, weightBits: Int = 8) {
        precondition(layer.quantizable, "int8 transposed convolutions need kernel == stride, no padding, groups 1")
        let cin = layer.inChannels, o = layer.outChannels
        let kh = layer.weight.shape[2], kw = layer.weight.shape[3], taps = kh * kw
        kernel = (kh, kw)
        inChannels = cin
        outChannels = o
        // Column j = tap * o + channel; weight [cin][o][kh][kw].
        let bias = layer.bias.map { b in (0..<(taps * o)).map { b[$0 % o] } }
        weights = layer.weight.data.withUnsafeBufferPointer { wb in
            PackedInt8Weights(n: taps * o, k: cin, input: input, bias: bias, weightBits: weightBits) { j, row in
                let t = j / o, oc = j % o
                for c in 0..<cin { row[c] = wb[(c * o + oc) * taps + t] }
            }
        }
    }

    /// Upsamples an NCHW float input, applying `activation` to the output.
    public func callAsFunction(_ x: Tensor, activation: Activation) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "int8 conv-transpose expects [N, \(inChannels), H, W], got \(x.shape)")
        return self(QuantizedActivations(quantizing: x, as: input), activation: activation)
    }

    /// Upsamples a quantized input into an NCHW float output, applying `activation`.
    public func callAsFunction(_ x: QuantizedActivations, activation: Activation) -> Tensor {
        let (h, w) = (x.h, x.w)
        var y = Tensor.uninitialized([x.n, outChannels, h * kernel.h, w * kernel.w])
        y.data.withUnsafeMutableBufferPointer { ys in
            let dst = ys.baseAddress!
            multiply(x) { acc, first, count in
                weights.storeUpsampled(acc, first: first, rows: count, channels: outChannels, kernel: kernel,
                                       h: h, w: w, relu: activation == .relu, into: dst)
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

    /// Upsamples a quantized input and quantizes the output, after `activation` (identity, ReLU or
    /// hardswish), as `next`'s input: the levels `next.quantize(self(x, activation:))` would give,
    /// without the float tensor in between. Each input pixel's sums for tap (a, b) are its output
    /// pixel's channels, so every tap of a run of input pixels along a row is one requantizing
    /// store into output pixels `kw` apart.
    public func callAsFunction(_ x: QuantizedActivations, activation: Activation,
                               quantizedFor next: ActivationQuantization) -> QuantizedActivations {
        precondition(PackedInt8Weights.requantizable(activation), "requantizing applies identity, ReLU or hardswish only")
        let (h, w, o) = (x.h, x.w, outChannels)
        let (kh, kw) = kernel
        let ow = w * kw
        return QuantizedActivations(n: x.n, h: h * kh, w: ow, c: o, quantization: next) { levels in
            multiply(x) { acc, first, count in
                var i = 0
                while i < count {
                    // A run of input pixels along one row of one image.
                    let p = first + i, b = p / (h * w), iy = p % (h * w) / w, ix = p % w
                    let run = min(count - i, w - ix)
                    for a in 0..<kh {
                        for bb in 0..<kw {
                            let t = a * kw + bb
                            let pixel = (b * h * kh + iy * kh + a) * ow + ix * kw + bb
                            weights.requantizeColumns(acc + i * weights.n, rows: run, columns: t * o..<(t + 1) * o,
                                                      activation: activation, for: next, into: levels + pixel * o, ldd: kw * o)
                        }
                    }
                    i += run
                }
            }
        }
    }

    /// The sums of every input pixel, in tasks of rows: `store(acc, first, count)` gets `count`
    /// rows of `kh * kw * outChannels` sums (column `tap * outChannels + o`) for input pixels `first...`.
    private func multiply(_ x: QuantizedActivations, store: (UnsafeMutablePointer<Int32>, Int, Int) -> Void) {
        precondition(x.c == inChannels && x.quantization == input,
                     "int8 conv-transpose expects \(inChannels) channels quantized as \(input), got \(x.c) as \(x.quantization)")
        let (h, w) = (x.h, x.w)
        let cols = weights.n, c = inChannels, kp = weights.paddedK
        let m = x.n * h * w
        FLOPCounter.add(2 * m * cols * c)
        guard m > 0 else { return }
        let direct = c % 4 == 0
        let zp = Int32(input.zeroPoint)
        x.withLevels { quantized in
            weights.multiplyInTasks(m: m, a: direct ? { first in (quantized + first * c, c) } : nil, lower: { first, count, rows in
                // Rows padded to a multiple of 4 bytes (a 1x1 lowering).
                rcnn_i8_lower(quantized, Int32(c), Int32(h), Int32(w), 1, 1, 1, 1, 0, 0, 1, 1, Int32(h), Int32(w),
                              zp, first, Int32(count), rows, kp)
            }, store: store)
        }
    }
}
