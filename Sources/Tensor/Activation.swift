import Foundation

/// Pointwise activations, each exactly as PyTorch defines it.
public enum Activation: String, Sendable, Codable {
    case identity, relu, hardswish, hardsigmoid, sigmoid

    /// Applies the activation in place to `count` floats.
    @inlinable
    public func apply(_ p: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .identity:
            return
        case .relu:
            // A select rather than a branch, so the loop vectorises; NaN stays NaN as in PyTorch.
            for i in 0..<count {
                let x = p[i]
                p[i] = (x > 0 || x != x) ? x : 0
            }
        case .hardswish:
            // x * relu6(x + 3) / 6
            for i in 0..<count {
                let x = p[i]
                p[i] = x * min(max(x + 3, 0), 6) / 6
            }
        case .hardsigmoid:
            for i in 0..<count { p[i] = min(max(p[i] + 3, 0), 6) / 6 }
        case .sigmoid:
            for i in 0..<count { p[i] = Activation.sigmoid(p[i]) }
        }
    }

    @inlinable
    public static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// The activation applied to a whole tensor.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = x
        y.data.withUnsafeMutableBufferPointer { apply($0.baseAddress!, count: $0.count) }
        return y
    }
}

public enum Softmax {
    /// Softmax over the last dimension of a 2-D tensor `[rows, cols]` (PyTorch `softmax(dim=-1)`).
    public static func lastDim(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2, "softmax expects [rows, cols], got \(x.shape)")
        let rows = x.shape[0], cols = x.shape[1]
        var y = x
        y.data.withUnsafeMutableBufferPointer { buf in
            for r in 0..<rows {
                let p = buf.baseAddress! + r * cols
                var m = -Float.infinity
                for j in 0..<cols { m = max(m, p[j]) }
                var s: Float = 0
                for j in 0..<cols { p[j] = expf(p[j] - m); s += p[j] }
                for j in 0..<cols { p[j] /= s }
            }
        }
        return y
    }
}
