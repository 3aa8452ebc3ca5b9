/// A fully connected layer (PyTorch `nn.Linear`): `y = x W^T + b`. Immutable; thread-safe.
public struct Linear: Sendable {
    /// `[outFeatures, inFeatures]`.
    public let weight: Tensor
    public let bias: [Float]?
    public let activation: Activation
    /// The layer's name in its weights file (the weight tensor's prefix), or "".
    public let name: String
    /// The int8 precision of this layer, when the model runs it quantized (`quantized(input:)`).
    public let int8: QuantizedLinear?

    /// Called with each named layer and its input before it runs, when set (`rcnn calibrate`).
    nonisolated(unsafe) public static var inputObserver: (@Sendable (Linear, Tensor) -> Void)?

    public init(weight: Tensor, bias: [Float]?, activation: Activation = .identity, name: String = "") {
        precondition(weight.rank == 2, "linear weight must be 2-D, got \(weight.shape)")
        if let bias { precondition(bias.count == weight.shape[0]) }
        self.weight = weight
        self.bias = bias
        self.activation = activation
        self.name = name
        int8 = nil
    }

    private init(_ other: Linear, int8: QuantizedLinear) {
        weight = other.weight
        bias = other.bias
        activation = other.activation
        name = other.name
        self.int8 = int8
    }

    /// The same layer run in int8 for inputs quantized as `input`, weights to `weightBits` (8 or 7)
    /// (float weights kept for reference); `pooled` packs the weights for pooled features read
    /// bins-major (`QuantizedLinear.pooled`).
    public func quantized(input: ActivationQuantization, weightBits: Int = 8,
                          pooled: (channels: Int, bins: Int)? = nil) -> Linear {
        Linear(self, int8: QuantizedLinear(self, input: input, weightBits: weightBits, pooled: pooled))
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// `x` is `[rows, ...]` with `inFeatures` elements per row (it is flattened, as `torch.flatten(x, 1)`).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let rows = x.rank == 0 ? 1 : x.shape[0]
        precondition(rows == 0 || x.count / rows == inFeatures, "linear expects \(inFeatures) features per row, got \(x.shape)")
        if let observe = Linear.inputObserver, !name.isEmpty, rows > 0 { observe(self, x) }
        if let int8 { return int8(x, activation: activation) }
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
