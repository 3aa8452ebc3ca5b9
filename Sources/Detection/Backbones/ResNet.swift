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
    }

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
}

import Foundation
