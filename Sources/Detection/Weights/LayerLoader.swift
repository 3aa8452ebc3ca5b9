import Tensor

/// Builds layers from tensors named as in a torchvision `state_dict`, folding batch norm into the
/// convolution before it. Every shape is checked against what the layer expects, and failures name
/// the file and the tensor.
struct LayerLoader {
    let file: SafeTensorsFile
    /// Batch-norm eps for the part of the network being built (from the config's `norm_eps`).
    var eps: Float = 1e-5
    /// The int8 layers' input quantization (an int8 model variant), nil for float32.
    var quantization: QuantizationPlan?

    /// The same loader with another batch-norm eps (nil keeps torchvision's default 1e-5).
    func with(eps: Double?) -> LayerLoader {
        var l = self
        l.eps = Float(eps ?? 1e-5)
        return l
    }

    var path: String { file.url.path }

    func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        try file.tensor(name, shape: shape)
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        try file.tensor(name, shape: [count]).data
    }

    /// A convolution from `prefix.weight` (and `prefix.bias` when present), with the batch norm at
    /// `normPrefix` folded into its weights before it is built.
    /// `takesFloatWeights`: the layer may run with float32 weights on int8 levels where the table
    /// says `weights: float32` (the RPN's objectness and box layers); elsewhere that is an error.
    func conv(_ prefix: String, in cin: Int, out cout: Int? = nil, kernel: Int, stride: Int = 1,
              padding: Int? = nil, dilation: Int = 1, groups: Int = 1,
              activation: Activation = .identity, normPrefix: String? = nil,
              takesFloatWeights: Bool = false) throws -> Conv2d {
        let wname = prefix + ".weight"
        guard let entry = file.entries[wname] else { throw WeightsError.missingTensor(file: path, name: wname) }
        let outChannels = cout ?? entry.shape.first ?? 0
        var w = try tensor(wname, shape: [outChannels, cin / groups, kernel, kernel])
        var bias = file.contains(prefix + ".bias") ? try vector(prefix + ".bias", count: outChannels) : nil
        if let normPrefix {
            let folded = try batchNorm(normPrefix, channels: outChannels).fold(weight: w, bias: bias)
            w = folded.weight
            bias = folded.bias
        }
        let conv = Conv2d(weight: w, bias: bias, stride: stride, padding: padding ?? (kernel - 1) / 2 * dilation,
                          dilation: dilation, groups: groups, activation: activation, name: prefix)
        guard let q = quantization?.take(prefix) else { return conv }
        guard conv.quantizable else {
            throw WeightsError.invalidConfig(file: quantization!.file, reason: "quantization: layer '\(prefix)' is a grouped convolution that is not depthwise, which has no int8 precision")
        }
        let floatWeights = quantization!.floatWeights.contains(prefix)
        if floatWeights && !(takesFloatWeights && FloatWeightsOnLevels.applies(to: conv)) {
            throw quantization!.floatWeightsRefused(prefix)
        }
        return conv.quantized(input: q, weightBits: quantization!.weightBits, floatWeights: floatWeights)
    }

    func batchNorm(_ prefix: String, channels: Int) throws -> BatchNorm {
        BatchNorm(gamma: try vector(prefix + ".weight", count: channels),
                  beta: try vector(prefix + ".bias", count: channels),
                  mean: try vector(prefix + ".running_mean", count: channels),
                  variance: try vector(prefix + ".running_var", count: channels),
                  eps: eps)
    }

    /// A convolution followed by batch norm, folded into one convolution.
    func convBN(conv prefix: String, bn bnPrefix: String, in cin: Int, out cout: Int? = nil, kernel: Int,
                stride: Int = 1, padding: Int? = nil, dilation: Int = 1, groups: Int = 1,
                activation: Activation = .identity) throws -> Conv2d {
        try conv(prefix, in: cin, out: cout, kernel: kernel, stride: stride, padding: padding,
                 dilation: dilation, groups: groups, activation: activation, normPrefix: bnPrefix)
    }

    /// torchvision's `Conv2dNormActivation` at `prefix` (`prefix.0` the conv, `prefix.1` the norm if
    /// `norm`), with padding `(kernel - 1) / 2 * dilation`.
    func convNormAct(_ prefix: String, norm: Bool, in cin: Int, out cout: Int? = nil, kernel: Int,
                     stride: Int = 1, dilation: Int = 1, groups: Int = 1,
                     activation: Activation) throws -> Conv2d {
        if norm {
            return try convBN(conv: prefix + ".0", bn: prefix + ".1", in: cin, out: cout, kernel: kernel,
                              stride: stride, dilation: dilation, groups: groups, activation: activation)
        }
        return try conv(prefix + ".0", in: cin, out: cout, kernel: kernel, stride: stride,
                        dilation: dilation, groups: groups, activation: activation)
    }

    /// A fully connected layer; `pooled` (channels, bins) when its input is RoI-pooled features,
    /// which an int8 layer then reads bins-major (`QuantizedLinear.pooled`).
    func linear(_ prefix: String, in fin: Int, out fout: Int? = nil, activation: Activation = .identity,
                pooled: (channels: Int, bins: Int)? = nil) throws -> Linear {
        let wname = prefix + ".weight"
        guard let entry = file.entries[wname] else { throw WeightsError.missingTensor(file: path, name: wname) }
        let o = fout ?? entry.shape.first ?? 0
        let w = try tensor(wname, shape: [o, fin])
        let b = file.contains(prefix + ".bias") ? try vector(prefix + ".bias", count: o) : nil
        let layer = Linear(weight: w, bias: b, activation: activation, name: prefix)
        guard let q = quantization?.take(prefix) else { return layer }
        if quantization!.floatWeights.contains(prefix) { throw quantization!.floatWeightsRefused(prefix) }
        return layer.quantized(input: q, weightBits: quantization!.weightBits, pooled: pooled)
    }

    func convTranspose(_ prefix: String, in cin: Int, out cout: Int, kernel: Int, stride: Int, padding: Int = 0,
                       activation: Activation = .identity) throws -> ConvTranspose2d {
        let w = try tensor(prefix + ".weight", shape: [cin, cout, kernel, kernel])
        let b = file.contains(prefix + ".bias") ? try vector(prefix + ".bias", count: cout) : nil
        let layer = ConvTranspose2d(weight: w, bias: b, stride: stride, padding: padding, activation: activation, name: prefix)
        guard let q = quantization?.take(prefix) else { return layer }
        if quantization!.floatWeights.contains(prefix) { throw quantization!.floatWeightsRefused(prefix) }
        guard layer.quantizable else {
            throw WeightsError.invalidConfig(file: quantization!.file, reason: "quantization: layer '\(prefix)' is a transposed convolution whose kernel is not its stride (or has padding), which has no int8 precision")
        }
        return layer.quantized(input: q, weightBits: quantization!.weightBits)
    }

    /// Output channels of the conv weight at `name` (for heads sized from the weights).
    func outChannels(_ name: String) throws -> Int {
        guard let e = file.entries[name], let o = e.shape.first else { throw WeightsError.missingTensor(file: path, name: name) }
        return o
    }
}
