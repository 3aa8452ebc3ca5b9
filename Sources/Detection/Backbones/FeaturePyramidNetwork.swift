import Tensor

/// Feature Pyramid Network (Lin et al., 2017) as torchvision builds it: a 1x1 lateral conv per
/// input level, nearest-neighbour top-down upsampling added to the lateral, a 3x3 output conv per
/// level, and optionally `LastLevelMaxPool` (a 1x1, stride-2 max pool of the coarsest output, named
/// "pool"). Immutable; thread-safe.
struct FeaturePyramidNetwork: Sendable {
    let inner: [Conv2d]
    let layer: [Conv2d]
    let maxPoolLevel: Bool

    init(loader: LayerLoader, prefix: String, config: ModelConfig.FPNConfig) throws {
        let norm = config.norm != nil
        inner = try config.inChannels.enumerated().map { i, cin in
            try loader.convNormAct("\(prefix).inner_blocks.\(i)", norm: norm, in: cin, out: config.outChannels, kernel: 1, activation: .identity)
        }
        layer = try config.inChannels.indices.map { i in
            try loader.convNormAct("\(prefix).layer_blocks.\(i)", norm: norm, in: config.outChannels, out: config.outChannels, kernel: 3, activation: .identity)
        }
        switch config.extraBlock {
        case nil: maxPoolLevel = false
        case "max_pool"?: maxPoolLevel = true
        case let other?:
            throw WeightsError.invalidConfig(file: loader.path, reason: "fpn extra_block '\(other)' is not supported (max_pool or null)")
        }
    }

    /// `inputs` finest first; returns the outputs finest first (plus the pooled level when configured).
    func callAsFunction(_ inputs: [Tensor]) -> [Tensor] {
        self(inputs.map { .float($0) })
    }

    /// The same on a body's outputs, some of which may come as levels for their int8 lateral layer.
    func callAsFunction(_ inputs: [FeatureInput]) -> [Tensor] {
        self(inputs, rpnInput: nil).map(\.channelsFirst)
    }

    /// The outputs as `FeatureMaps` keeps them. With `rpnInput` (the quantization the RPN head's
    /// first layer reads, `RegionProposalNetwork.levelsInput`), a level whose output layer is int8
    /// (chains on, one image) comes as pixel rows with its levels for the RPN, both from one pass
    /// over the output layer's sums, and no NCHW map; the values are the NCHW map's bits.
    func callAsFunction(_ inputs: [FeatureInput], rpnInput: ActivationQuantization?) -> [FeatureMaps.Stored] {
        precondition(inputs.count == inner.count, "fpn expects \(inner.count) inputs, got \(inputs.count)")
        if let rpnInput, let stored = onRows(inputs, rpnInput: rpnInput) { return withPooledLevel(stored) }
        func lateral(_ i: Int) -> Tensor {
            switch inputs[i] {
            case .float(let x): return inner[i](x)
            case .levels(let levels):
                guard let int8 = inner[i].int8 else { preconditionFailure("levels handed to the float32 lateral layer \(i)") }
                return int8(levels, activation: inner[i].activation)
            }
        }
        func output(_ i: Int, _ x: Tensor) -> FeatureMaps.Stored {
            guard let rpnInput, let int8 = layer[i].int8, Conv2d.chaining, x.shape[0] == 1,
                  PackedInt8Weights.requantizable(layer[i].activation) else { return FeatureMaps.Stored(nchw: layer[i](x)) }
            return outputRows(i, int8.quantize(x), rpnInput: rpnInput)
        }
        var results = [FeatureMaps.Stored](repeating: FeatureMaps.Stored(nchw: nil), count: inputs.count)
        var last = lateral(inputs.count - 1)
        results[inputs.count - 1] = output(inputs.count - 1, last)
        for i in stride(from: inputs.count - 2, through: 0, by: -1) {
            var lateral = lateral(i)
            let top = Interpolation.nearest(last, outH: lateral.shape[2], outW: lateral.shape[3])
            lateral.add(top)
            last = lateral
            results[i] = output(i, last)
        }
        return withPooledLevel(results)
    }

    /// Output layer `i` (int8) on its input levels, kept as pixel rows with the RPN's levels.
    private func outputRows(_ i: Int, _ x: QuantizedActivations, rpnInput: ActivationQuantization) -> FeatureMaps.Stored {
        let (rows, levels) = layer[i].int8!(x, activation: layer[i].activation, rowsQuantizedFor: rpnInput)
        return FeatureMaps.Stored(nchw: nil, rows: (rows, levels))
    }

    /// `results` plus, when configured, the coarsest output subsampled (a 1x1 max pool: small,
    /// kept NCHW).
    private func withPooledLevel(_ results: [FeatureMaps.Stored]) -> [FeatureMaps.Stored] {
        guard maxPoolLevel, let last = results.last else { return results }
        return results + [FeatureMaps.Stored(nchw: Pooling.maxPool2d(last.channelsFirst, kernel: 1, stride: 2))]
    }

    /// The whole FPN on pixel rows, where every lateral and output layer is int8 with identity or
    /// ReLU (chains on, one image): each lateral layer stores rows, the top-down sum is added to
    /// them in place and quantized for the output layer in the same pass
    /// (`QuantizedActivations.mergingTopDown`; the coarsest level's lateral layer quantizes its
    /// own output for its output layer), and each output layer stores rows and the RPN's levels.
    /// No NCHW tensor is written, upsampled or quantized; the bits of the NCHW path. nil where
    /// the layers do not allow it.
    func onRows(_ inputs: [FeatureInput], rpnInput: ActivationQuantization) -> [FeatureMaps.Stored]? {
        let lateral8 = inner.compactMap(\.int8), output8 = layer.compactMap(\.int8)
        let images = inputs.map { input -> Int in
            switch input {
            case .float(let x): return x.shape[0]
            case .levels(let l): return l.n
            }
        }
        guard Conv2d.chaining, lateral8.count == inner.count, output8.count == layer.count, images.allSatisfy({ $0 == 1 }),
              (inner + layer).allSatisfy({ $0.activation == .identity || $0.activation == .relu }) else { return nil }
        func levels(_ i: Int) -> QuantizedActivations {
            switch inputs[i] {
            case .float(let x): return lateral8[i].quantize(x)
            case .levels(let l): return l
            }
        }
        let top = inputs.count - 1
        var results = [FeatureMaps.Stored](repeating: FeatureMaps.Stored(nchw: nil), count: inputs.count)
        var (last, lastLevels) = lateral8[top](levels(top), activation: inner[top].activation, rowsQuantizedFor: output8[top].input)
        results[top] = outputRows(top, lastLevels, rpnInput: rpnInput)
        for i in stride(from: top - 1, through: 0, by: -1) {
            var rows = lateral8[i].rows(levels(i), activation: inner[i].activation)
            lastLevels = QuantizedActivations.mergingTopDown(&rows, last, as: output8[i].input)
            results[i] = outputRows(i, lastLevels, rpnInput: rpnInput)
            last = rows
        }
        return results
    }
}
