/// Inference-time batch normalisation: `y = (x - mean) / sqrt(var + eps) * gamma + beta`.
/// Frozen batch norm and `nn.BatchNorm2d` in eval mode compute the same thing.
public struct BatchNorm: Sendable {
    public let gamma: [Float], beta: [Float], mean: [Float], variance: [Float]
    public let eps: Float

    public init(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], eps: Float = 1e-5) {
        precondition(Set([gamma.count, beta.count, mean.count, variance.count]).count == 1,
                     "batch-norm parameters differ in length")
        self.gamma = gamma; self.beta = beta; self.mean = mean; self.variance = variance; self.eps = eps
    }

    /// Per-channel scale and shift equivalent to this normalisation.
    public var scaleShift: (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: gamma.count)
        var shift = scale
        for c in 0..<gamma.count {
            scale[c] = gamma[c] / (variance[c] + eps).squareRoot()
            shift[c] = beta[c] - mean[c] * scale[c]
        }
        return (scale, shift)
    }

    /// Folds this normalisation into the convolution that precedes it (done once, at load time):
    /// `W' = W * s`, `b' = (b - mean) * s + beta` with `s = gamma / sqrt(var + eps)`.
    public func folded(into conv: Conv2d) -> Conv2d {
        let (w, b) = fold(weight: conv.weight, bias: conv.bias)
        return Conv2d(weight: w, bias: b, stride: conv.stride, padding: conv.padding,
                      dilation: conv.dilation, groups: conv.groups, activation: conv.activation)
    }

    /// The weight and bias of a convolution (`weight` `[out, ...]`) with this norm folded in, for
    /// building the folded convolution once (its Winograd filters are transformed at build).
    public func fold(weight: Tensor, bias: [Float]?) -> (weight: Tensor, bias: [Float]) {
        let out = weight.shape[0]
        precondition(out == gamma.count, "batch norm of \(gamma.count) channels after a conv with \(out)")
        let (scale, shift) = scaleShift
        var w = weight
        let per = w.count / out
        w.data.withUnsafeMutableBufferPointer { wb in
            for c in 0..<out {
                for j in 0..<per { wb[c * per + j] *= scale[c] }
            }
        }
        var b = shift
        if let bias { for c in 0..<b.count { b[c] += bias[c] * scale[c] } }
        return (w, b)
    }

    /// Applies the normalisation to an NCHW tensor (used by tests and unfused paths).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (scale, shift) = scaleShift
        let n = x.shape[0], c = x.shape[1], plane = x.count / max(1, n * c)
        var y = x
        for b in 0..<n { for ch in 0..<c {
            let o = (b * c + ch) * plane
            for j in 0..<plane { y.data[o + j] = y.data[o + j] * scale[ch] + shift[ch] }
        }}
        return y
    }
}
