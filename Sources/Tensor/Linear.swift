/// A fully connected layer (PyTorch `nn.Linear`): `y = x W^T + b`. Immutable; thread-safe.
public struct Linear: Sendable {
    /// `[outFeatures, inFeatures]`.
    public let weight: Tensor
    public let bias: [Float]?
    public let activation: Activation

    public init(weight: Tensor, bias: [Float]?, activation: Activation = .identity) {
        precondition(weight.rank == 2, "linear weight must be 2-D, got \(weight.shape)")
        if let bias { precondition(bias.count == weight.shape[0]) }
        self.weight = weight
        self.bias = bias
        self.activation = activation
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// `x` is `[rows, ...]` with `inFeatures` elements per row (it is flattened, as `torch.flatten(x, 1)`).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let rows = x.rank == 0 ? 1 : x.shape[0]
        precondition(rows == 0 || x.count / rows == inFeatures, "linear expects \(inFeatures) features per row, got \(x.shape)")
        var y = Tensor.uninitialized([rows, outFeatures])
        if rows == 0 { return y }
        FLOPCounter.add(2 * rows * inFeatures * outFeatures)
        x.data.withUnsafeBufferPointer { xs in
            weight.data.withUnsafeBufferPointer { ws in
                y.data.withUnsafeMutableBufferPointer { ys in
                    BLAS.sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures,
                               a: xs.baseAddress!, lda: inFeatures, b: ws.baseAddress!, ldb: inFeatures,
                               c: ys.baseAddress!, ldc: outFeatures)
                    for r in 0..<rows {
                        let p = ys.baseAddress! + r * outFeatures
                        if let bias { for j in 0..<outFeatures { p[j] += bias[j] } }
                        activation.apply(p, count: outFeatures)
                    }
                }
            }
        }
        return y
    }
}
