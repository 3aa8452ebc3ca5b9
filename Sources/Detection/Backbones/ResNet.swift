import Tensor

/// ResNet (He et al., 2016) as torchvision builds it (v1.5: the stride is on the 3x3 convolution),
/// with batch norm folded into each convolution. Returns the outputs of the configured stages.
struct ResNet: FeatureExtractor {
    struct Block: Sendable {
        var convs: [Conv2d]          // the last one has no activation; the residual join applies ReLU
        var downsample: Conv2d?

        /// The block's output, and with int8 layers and `next` (the next block's first int8
        /// convolution) that output's levels for it; `levels` are `x`'s levels for this block's first
        /// convolution when the previous block made them.
        func callAsFunction(_ x: Tensor, levels: QuantizedActivations?, next: QuantizedConv2d?)
            -> (Tensor, QuantizedActivations?) {
            let (residual, shared) = Conv2d.shortcut(downsample, first: convs.first, x, levels: levels)
            return Conv2d.sequenceAddingReLU(convs, x, levels: shared, residual: residual, next: next)
        }

        /// The int8 precision of every convolution, when the block can run on levels and join its
        /// residual on pixel rows: all of them int8, the last one dense without activation and the
        /// others requantizable, and a downsampling layer (if any) that reads the first one's levels.
        var int8Layers: (convs: [QuantizedConv2d], downsample: QuantizedConv2d?)? {
            let q = convs.compactMap(\.int8)
            guard q.count == convs.count, let first = q.first, let last = convs.last, last.activation == .identity,
                  !q[q.count - 1].isDepthwise,
                  convs.dropLast().allSatisfy({ PackedInt8Weights.requantizable($0.activation) }) else { return nil }
            guard let downsample else { return (q, nil) }
            guard let d = downsample.int8, d.input == first.input, !d.isDepthwise, downsample.activation == .identity else { return nil }
            return (q, d)
        }

        /// The block on levels (`int8Layers` must exist): `x` quantized for the first convolution in,
        /// the output's levels for `next` out, and with `keepValues` the float output as pixel rows.
        /// The identity shortcut is `values` (the input as pixel rows) or, when nil, the input's
        /// levels (int8 joins).
        func joined(_ x: QuantizedActivations, values: Tensor?, next: ActivationQuantization,
                    keepValues: Bool) -> (QuantizedActivations, Tensor?) {
            guard let (q, d) = int8Layers else { preconditionFailure("the block has float32 layers") }
            var y = x
            for i in 0..<(q.count - 1) {
                y = q[i](y, activation: convs[i].activation, quantizedFor: q[i + 1].input)
            }
            let shortcut: Int8Shortcut = d.map { .downsample($0, x) } ?? values.map { .values($0) } ?? .levels(x)
            return q[q.count - 1](y, joining: shortcut, quantizedFor: next, keepValues: keepValues)
        }
    }

    /// Whether blocks on levels add their identity shortcut from the input's levels instead of its
    /// float values (the quantization table's `residual_joins: int8`).
    let int8Joins: Bool

    let stem: Conv2d
    let stages: [[Block]]
    let returned: [Int]          // stage indices (0 = layer1) in return order
    let outChannels: [Int]

    init(loader: LayerLoader, prefix: String, config: ModelConfig.BackboneConfig) throws {
        guard let layers = config.layers, let block = config.block else {
            throw WeightsError.invalidConfig(file: loader.path, reason: "resnet backbone needs 'block' and 'layers'")
        }
        let bottleneck = block == "bottleneck"
        guard bottleneck || block == "basic" else {
            throw WeightsError.invalidConfig(file: loader.path, reason: "resnet block '\(block)' is not bottleneck or basic")
        }
        let expansion = bottleneck ? 4 : 1
        var returned: [(Int, String)] = []
        for (layer, name) in config.returnLayers {
            guard layer.hasPrefix("layer"), let i = Int(layer.dropFirst(5)), (1...layers.count).contains(i) else {
                throw WeightsError.invalidConfig(file: loader.path, reason: "resnet return layer '\(layer)' is not layer1...layer\(layers.count)")
            }
            returned.append((i - 1, name))
        }
        returned.sort { $0.1.localizedStandardCompare($1.1) == .orderedAscending }
        let deepest = returned.map(\.0).max() ?? 0

        stem = try loader.convBN(conv: prefix + ".conv1", bn: prefix + ".bn1", in: 3, out: 64, kernel: 7,
                                 stride: 2, padding: 3, activation: .relu)
        let width = try loader.outChannels(prefix + ".layer1.0.conv1.weight")
        var inplanes = 64
        var stages: [[Block]] = []
        var stageOut: [Int] = []
        for (s, count) in layers.enumerated() where s <= deepest {
            let planes = width << s
            var blocks: [Block] = []
            for b in 0..<count {
                let p = "\(prefix).layer\(s + 1).\(b)"
                let stride = (b == 0 && s > 0) ? 2 : 1
                var convs: [Conv2d] = []
                if bottleneck {
                    convs.append(try loader.convBN(conv: p + ".conv1", bn: p + ".bn1", in: inplanes, out: planes, kernel: 1, activation: .relu))
                    convs.append(try loader.convBN(conv: p + ".conv2", bn: p + ".bn2", in: planes, out: planes, kernel: 3, stride: stride, activation: .relu))
                    convs.append(try loader.convBN(conv: p + ".conv3", bn: p + ".bn3", in: planes, out: planes * expansion, kernel: 1))
                } else {
                    convs.append(try loader.convBN(conv: p + ".conv1", bn: p + ".bn1", in: inplanes, out: planes, kernel: 3, stride: stride, activation: .relu))
                    convs.append(try loader.convBN(conv: p + ".conv2", bn: p + ".bn2", in: planes, out: planes, kernel: 3))
                }
                var down: Conv2d?
                if loader.file.contains(p + ".downsample.0.weight") {
                    down = try loader.convBN(conv: p + ".downsample.0", bn: p + ".downsample.1", in: inplanes,
                                             out: planes * expansion, kernel: 1, stride: stride, padding: 0)
                }
                blocks.append(Block(convs: convs, downsample: down))
                inplanes = planes * expansion
            }
            stages.append(blocks)
            stageOut.append(inplanes)
        }
        self.stages = stages
        int8Joins = loader.quantization?.int8Joins ?? false
        self.returned = returned.map(\.0)
        self.outChannels = returned.map { stageOut[$0.0] }
    }

    func callAsFunction(_ x: Tensor) -> [Tensor] {
        var y = Pooling.maxPool2d(stem(x), kernel: 3, stride: 2, padding: 1)
        var outputs = [Tensor?](repeating: nil, count: stages.count)
        // Each block hands the next its output's levels where both ends are int8 (Conv2d.sequenceAddingReLU).
        let order = stages.flatMap { $0 }
        var levels: QuantizedActivations?
        var index = 0
        for (s, blocks) in stages.enumerated() {
            for b in blocks {
                index += 1
                (y, levels) = b(y, levels: levels, next: index < order.count ? order[index].convs.first?.int8 : nil)
            }
            outputs[s] = y
        }
        return returned.map { outputs[$0]! }
    }

    /// Where every block and lateral layer is int8 (and chains are on), every block runs on levels
    /// and joins its residual on pixel rows, and each returned stage reaches the FPN as levels for
    /// its lateral layer: the FPN maps have the bits of the float32 joins, with no NCHW block output
    /// written, transposed or quantized again. Only a block whose successor adds an identity
    /// shortcut keeps its float output, as pixel rows; with `residual_joins: int8` none does (the
    /// identity shortcut is the input's levels). Otherwise the float32 path (`callAsFunction(_:)`).
    func callAsFunction(_ x: Tensor, lateral: [QuantizedConv2d?]) -> [FeatureInput] {
        guard let targets = joinTargets(lateral) else { return self(x).map { .float($0) } }
        let blocks = stages.flatMap { $0 }
        let pooled = Pooling.maxPool2d(stem(x), kernel: 3, stride: 2, padding: 1)
        var levels = blocks[0].int8Layers!.convs[0].quantize(pooled)
        var values = !int8Joins && blocks[0].downsample == nil ? pooled.channelsLast() : nil
        var outputs = [QuantizedActivations?](repeating: nil, count: stages.count)
        var index = 0
        for (s, stage) in stages.enumerated() {
            for block in stage {
                let keep = !int8Joins && index + 1 < blocks.count && blocks[index + 1].downsample == nil
                precondition(int8Joins || block.downsample != nil || values != nil, "an identity shortcut without its values")
                (levels, values) = block.joined(levels, values: values, next: targets[index], keepValues: keep)
                index += 1
            }
            outputs[s] = levels
        }
        return returned.map { .levels(outputs[$0]!) }
    }

    /// The quantization each block's output is made in when every block can run on levels: the next
    /// block's input, and for the last block the lateral layer of its (returned) stage; nil where
    /// some block or lateral layer does not allow it or chains are off.
    func joinTargets(_ lateral: [QuantizedConv2d?]) -> [ActivationQuantization]? {
        guard Conv2d.chaining, lateral.count == returned.count else { return nil }
        let blocks = stages.flatMap { $0 }
        var inputs: [ActivationQuantization] = []
        for block in blocks {
            guard let q = block.int8Layers else { return nil }
            inputs.append(q.convs[0].input)
        }
        // Lateral layer i reads returned map i (the backbone checked their channels at load).
        guard let lastLateral = returned.firstIndex(of: stages.count - 1).flatMap({ lateral[$0] }) else { return nil }
        let targets = Array(inputs.dropFirst()) + [lastLateral.input]
        // A returned stage other than the last hands the next stage's input levels to its lateral layer.
        var end = 0
        for (s, stage) in stages.enumerated() {
            end += stage.count
            guard let i = returned.firstIndex(of: s), s < stages.count - 1 else { continue }
            guard let l = lateral[i], l.input == targets[end - 1] else { return nil }
        }
        return targets
    }
}

import Foundation
