import CKernels
import Foundation

/// The int8 precision of a fully connected layer: each input row quantized per tensor, the weights per
/// output feature, products summed exactly in 32-bit integers and turned back into floats with the
/// bias and ReLU in one pass. Identical results on every instruction-set path. Immutable; thread-safe.
public struct QuantizedLinear: Sendable {
    public let weights: PackedInt8Weights
    public var input: ActivationQuantization { weights.input }

    public init(_ linear: Linear, input: ActivationQuantization, weightBits: Int = 8) {
        let k = linear.inFeatures
        weights = linear.weight.data.withUnsafeBufferPointer { wb in
            PackedInt8Weights(n: linear.outFeatures, k: k, input: input, bias: linear.bias, weightBits: weightBits) { j, row in
                row.update(from: wb.baseAddress! + j * k, count: k)
            }
        }
    }

    /// `x` is `[rows, ...]` with `weights.k` elements per row; returns `[rows, weights.n]`.
    public func callAsFunction(_ x: Tensor, activation: Activation) -> Tensor {
        let rows = x.rank == 0 ? 1 : x.shape[0], k = weights.k, n = weights.n
        precondition(rows == 0 || x.count / rows == k, "linear expects \(k) features per row, got \(x.shape)")
        var y = Tensor.uninitialized([rows, n])
        if rows == 0 { return y }
        FLOPCounter.add(2 * rows * k * n)
        let kp = weights.paddedK
        let inverse = 1 / input.scale, zp = Int32(input.zeroPoint)
        x.data.withUnsafeBufferPointer { xs in
            y.data.withUnsafeMutableBufferPointer { ys in
                // Each task quantizes its rows of x (padded to paddedK) as the multiply's operand.
                weights.multiplyInTasks(m: rows, a: nil, lower: { first, count, a in
                    rcnn_i8_quantize_rows(xs.baseAddress! + first * k, k, Int32(count), Int32(k), inverse, zp, a, kp)
                }, store: { acc, first, count in
                    let out = ys.baseAddress! + first * n
                    weights.storeRows(acc, rows: count, relu: activation == .relu, into: out)
                    if activation != .identity && activation != .relu { activation.apply(out, count: count * n) }
                })
            }
        }
        return y
    }
}
