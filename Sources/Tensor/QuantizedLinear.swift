import CKernels
import Foundation

/// The int8 precision of a fully connected layer: each input row quantized per tensor, the weights per
/// output feature, products summed exactly in 32-bit integers and turned back into floats with the
/// bias and ReLU in one pass. Identical results on every instruction-set path. Immutable; thread-safe.
public struct QuantizedLinear: Sendable {
    public let weights: PackedInt8Weights
    public var input: ActivationQuantization { weights.input }
    /// When set, the layer reads pooled features bins-major: its packed input `bin * channels + c`
    /// is the layer's input feature `c * bins + bin` (PyTorch's flattened `[C, bins]` order), so
    /// RoIAlign can quantize each box's `[bins, C]` samples straight into its rows
    /// (`callAsFunction(levels:rows:activation:)`). The integer sums do not depend on the order of
    /// their terms, so the results are the same bits either way.
    public let pooled: (channels: Int, bins: Int)?

    public init(_ linear: Linear, input: ActivationQuantization, weightBits: Int = 8,
                pooled: (channels: Int, bins: Int)? = nil) {
        let k = linear.inFeatures
        if let pooled {
            precondition(pooled.channels > 0 && pooled.bins > 0 && pooled.channels * pooled.bins == k,
                         "\(pooled.channels) channels of \(pooled.bins) bins for \(k) inputs")
        }
        self.pooled = pooled
        weights = linear.weight.data.withUnsafeBufferPointer { wb in
            PackedInt8Weights(n: linear.outFeatures, k: k, input: input, bias: linear.bias, weightBits: weightBits) { j, row in
                let w = wb.baseAddress! + j * k
                guard let (c, bins) = pooled else { return row.update(from: w, count: k) }
                for ch in 0..<c { for bin in 0..<bins { row[bin * c + ch] = w[ch * bins + bin] } }
            }
        }
    }

    /// `x` is `[rows, ...]` with `weights.k` elements per row; returns `[rows, weights.n]`.
    public func callAsFunction(_ x: Tensor, activation: Activation) -> Tensor {
        let rows = x.rank == 0 ? 1 : x.shape[0], k = weights.k
        precondition(rows == 0 || x.count / rows == k, "linear expects \(k) features per row, got \(x.shape)")
        let inverse = 1 / input.scale, zp = Int32(input.zeroPoint), kp = weights.paddedK
        return x.data.withUnsafeBufferPointer { xs in
            // Each task quantizes its rows of x (padded to paddedK) as the multiply's operand; a
            // bins-major layer transposes each row's [C, bins] while quantizing it.
            run(rows: rows, activation: activation, a: nil) { first, count, a in
                let src = xs.baseAddress! + first * k
                guard let (c, bins) = pooled else {
                    return rcnn_i8_quantize_rows(src, k, Int32(count), Int32(k), inverse, zp, input.top, a, kp)
                }
                for r in 0..<count {
                    let row = a + r * kp
                    rcnn_i8_quantize_to_nhwc(Int8Kernels.path.rawValue, src + r * k, Int32(c), Int32(bins), inverse, zp,
                                             input.top,
                                             0, Int32(bins), row)
                    (row + k).initialize(repeating: 0, count: kp - k)
                }
            }
        }
    }

    /// The layer on `rows` rows of input levels already quantized as `input`, `weights.paddedK`
    /// bytes apart (bins-major for a `pooled` layer); returns `[rows, weights.n]`.
    public func callAsFunction(levels: UnsafePointer<UInt8>, rows: Int, activation: Activation) -> Tensor {
        run(rows: rows, activation: activation, a: { first in (levels + first * weights.paddedK, weights.paddedK) },
            lower: { _, _, _ in preconditionFailure("the rows are given") })
    }

    private func run(rows: Int, activation: Activation, a: ((Int) -> (UnsafePointer<UInt8>, Int))?,
                     lower: (Int, Int, UnsafeMutablePointer<UInt8>) -> Void) -> Tensor {
        let k = weights.k, n = weights.n
        var y = Tensor.uninitialized([rows, n])
        if rows == 0 { return y }
        FLOPCounter.add(2 * rows * k * n)
        y.data.withUnsafeMutableBufferPointer { ys in
            weights.multiplyInTasks(m: rows, a: a, lower: lower, store: { acc, first, count in
                let out = ys.baseAddress! + first * n
                weights.storeRows(acc, rows: count, relu: activation == .relu, into: out)
                if activation != .identity && activation != .relu { activation.apply(out, count: count * n) }
            })
        }
        return y
    }
}
