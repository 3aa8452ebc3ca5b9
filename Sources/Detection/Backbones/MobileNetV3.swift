import Tensor

/// MobileNetV3 (Howard et al., 2019) feature layers as torchvision builds them: a 3x3 stride-2 stem,
/// inverted residual blocks (expand 1x1, depthwise kxk, optional squeeze-and-excitation, project 1x1),
/// and a final 1x1 conv. Batch norm is folded; returns the outputs of the configured feature indices.
struct MobileNetV3: FeatureExtractor {
    struct SqueezeExcitation: Sendable {
        let fc1: Conv2d   // ReLU fused
        let fc2: Conv2d   // Hardsigmoid fused

        func callAsFunction(_ x: Tensor) -> Tensor {
            let s = fc2(fc1(Pooling.adaptiveAvgPool2d(x, outH: 1, outW: 1)))
            var y = x
            y.scaleChannels(s.data)
            return y
        }
    }

    struct InvertedResidual: Sendable {
        let expand: Conv2d?
        let depthwise: Conv2d
        let se: SqueezeExcitation?
        let project: Conv2d
        let residual: Bool

        /// Without squeeze-and-excitation the three convolutions run as one `Conv2d.sequence`, so
        /// int8 layers (ReLU or hardswish) hand their levels on (expand -> depthwise -> project) with
        /// no float tensor between them; with it, expand and depthwise do, and the block's scaling
        /// runs in float32 before the projection.
        func callAsFunction(_ x: Tensor) -> Tensor {
            let convs = (expand.map { [$0] } ?? []) + [depthwise]
            var y: Tensor
            if let se {
                y = project(se(Conv2d.sequence(convs, x)))
            } else {
                y = Conv2d.sequence(convs + [project], x)
            }
            if residual { y.add(x) }
            return y
        }
    }

    enum Layer: Sendable {
        case conv(Conv2d)
        case block(InvertedResidual)

        func callAsFunction(_ x: Tensor) -> Tensor {
            switch self {
            case .conv(let c): return c(x)
            case .block(let b): return b(x)
            }
        }
    }

    let layers: [Layer]
    let returned: [Int]
    let outChannels: [Int]

    /// torchvision's `_make_divisible(v, 8)`: round to a multiple of 8, never below 90% of `v`.
    static func makeDivisible(_ v: Int, _ divisor: Int = 8) -> Int {
        var n = max(divisor, (v + divisor / 2) / divisor * divisor)
        if Double(n) < 0.9 * Double(v) { n += divisor }
        return n
    }

    init(loader: LayerLoader, prefix: String, config: ModelConfig.BackboneConfig) throws {
        guard let blocks = config.blocks, let stem = config.stemChannels, let last = config.lastChannels else {
            throw WeightsError.invalidConfig(file: loader.path, reason: "mobilenet_v3 backbone needs stem_channels, last_channels and blocks")
        }
        var returned: [(Int, String)] = []
        for (index, name) in config.returnLayers {
            guard let i = Int(index), (0...blocks.count + 1).contains(i) else {
                throw WeightsError.invalidConfig(file: loader.path, reason: "mobilenet return layer '\(index)' is not a feature index 0...\(blocks.count + 1)")
            }
            returned.append((i, name))
        }
        returned.sort { $0.1.localizedStandardCompare($1.1) == .orderedAscending }
        let deepest = returned.map(\.0).max() ?? 0

        var layers: [Layer] = [.conv(try loader.convNormAct(prefix + ".0", norm: true, in: 3, out: stem, kernel: 3, stride: 2, activation: .hardswish))]
        var channels: [Int] = [stem]
        for (i, b) in blocks.enumerated() where i + 1 <= deepest {
            let p = "\(prefix).\(i + 1).block"
            guard ["relu", "hardswish"].contains(b.activation), let act = Activation(rawValue: b.activation) else {
                throw WeightsError.invalidConfig(file: loader.path, reason: "mobilenet block \(i + 1): activation '\(b.activation)' is not relu or hardswish")
            }
            var k = 0
            var expand: Conv2d?
            if b.expandedChannels != b.inputChannels {
                expand = try loader.convNormAct("\(p).\(k)", norm: true, in: b.inputChannels, out: b.expandedChannels, kernel: 1, activation: act)
                k += 1
            }
            let stride = b.dilation > 1 ? 1 : b.stride
            let dw = try loader.convNormAct("\(p).\(k)", norm: true, in: b.expandedChannels, out: b.expandedChannels,
                                            kernel: b.kernel, stride: stride, dilation: b.dilation,
                                            groups: b.expandedChannels, activation: act)
            k += 1
            var se: SqueezeExcitation?
            if b.useSe {
                let squeeze = MobileNetV3.makeDivisible(b.expandedChannels / 4)
                se = SqueezeExcitation(
                    fc1: try loader.conv("\(p).\(k).fc1", in: b.expandedChannels, out: squeeze, kernel: 1, activation: .relu),
                    fc2: try loader.conv("\(p).\(k).fc2", in: squeeze, out: b.expandedChannels, kernel: 1, activation: .hardsigmoid))
                k += 1
            }
            let project = try loader.convNormAct("\(p).\(k)", norm: true, in: b.expandedChannels, out: b.outChannels, kernel: 1, activation: .identity)
            layers.append(.block(InvertedResidual(expand: expand, depthwise: dw, se: se, project: project,
                                                  residual: b.stride == 1 && b.inputChannels == b.outChannels)))
            channels.append(b.outChannels)
        }
        if deepest == blocks.count + 1 {
            let cin = blocks.last?.outChannels ?? stem
            layers.append(.conv(try loader.convNormAct("\(prefix).\(blocks.count + 1)", norm: true, in: cin, out: last, kernel: 1, activation: .hardswish)))
            channels.append(last)
        }
        self.layers = layers
        self.returned = returned.map(\.0)
        self.outChannels = returned.map { channels[$0.0] }
    }

    func callAsFunction(_ x: Tensor) -> [Tensor] {
        var y = x
        var outputs = [Tensor?](repeating: nil, count: layers.count)
        for (i, l) in layers.enumerated() {
            y = l(y)
            outputs[i] = y
        }
        return returned.map { outputs[$0]! }
    }
}

import Foundation
