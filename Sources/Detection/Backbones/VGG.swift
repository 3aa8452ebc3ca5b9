import Tensor

/// A VGG body (Simonyan & Zisserman, 2015) as torchvision's `vgg16().features` builds it: stages of
/// 3x3 convolutions (padding 1, bias, ReLU), a 2x2 stride-2 max pool after every stage but the last.
/// Fast and Faster R-CNN use VGG-16 up to conv5_3 (the last pool dropped): one map at stride 16.
/// Weights are `prefix.{i}` with `i` the module index in the `features` sequence (conv and ReLU
/// count one each, a pool one). Immutable; thread-safe.
struct VGG: FeatureExtractor {
    /// Convolutions per stage (ReLU fused).
    let stages: [[Conv2d]]

    init(loader: LayerLoader, prefix: String, config: ModelConfig.BackboneConfig) throws {
        guard let widths = config.stages, !widths.isEmpty, widths.allSatisfy({ !$0.isEmpty }) else {
            throw WeightsError.invalidConfig(file: loader.path, reason: "vgg backbone needs non-empty 'stages' (conv widths per stage)")
        }
        var index = 0, channels = 3
        var stages: [[Conv2d]] = []
        for (s, stage) in widths.enumerated() {
            var convs: [Conv2d] = []
            for width in stage {
                convs.append(try loader.conv("\(prefix).\(index)", in: channels, out: width, kernel: 3, padding: 1, activation: .relu))
                channels = width
                index += 2   // Conv2d, ReLU
            }
            stages.append(convs)
            if s < widths.count - 1 { index += 1 }   // MaxPool2d
        }
        self.stages = stages
    }

    var outChannels: [Int] { [stages.last!.last!.outChannels] }

    func callAsFunction(_ x: Tensor) -> [Tensor] {
        var y = x
        for (s, stage) in stages.enumerated() {
            for conv in stage { y = conv(y) }
            if s < stages.count - 1 { y = Pooling.maxPool2d(y, kernel: 2, stride: 2) }
        }
        return [y]
    }
}
