import Tensor

/// The feature extractor of a detection model: a CNN body, plus an FPN when the config has one
/// (torchvision's `BackboneWithFPN`), or the body's single map alone (the VGG-16 Fast/Faster R-CNN
/// layout: conv5_3 at stride 16, named "0"). Immutable; thread-safe.
public struct Backbone: Sendable {
    let body: any FeatureExtractor
    let fpn: FeaturePyramidNetwork?
    public let featureNames: [String]
    public let outChannels: Int

    init(loader: LayerLoader, config: ModelConfig) throws {
        let bodyLoader = loader.with(eps: config.backbone.normEps)
        switch config.backbone.type {
        case "resnet": body = try ResNet(loader: bodyLoader, prefix: "backbone.body", config: config.backbone)
        case "mobilenet_v3": body = try MobileNetV3(loader: bodyLoader, prefix: "backbone.body", config: config.backbone)
        case "vgg": body = try VGG(loader: bodyLoader, prefix: "backbone.body", config: config.backbone)
        default: throw WeightsError.invalidConfig(file: loader.path, reason: "unknown backbone '\(config.backbone.type)'")
        }
        if let fpnConfig = config.fpn {
            guard body.outChannels == fpnConfig.inChannels else {
                throw WeightsError.invalidConfig(file: loader.path, reason: "backbone returns channels \(body.outChannels) but fpn.in_channels is \(fpnConfig.inChannels)")
            }
            let fpn = try FeaturePyramidNetwork(loader: loader.with(eps: fpnConfig.normEps), prefix: "backbone.fpn", config: fpnConfig)
            let expected = fpnConfig.inChannels.count + (fpn.maxPoolLevel ? 1 : 0)
            guard config.featureNames.count == expected else {
                throw WeightsError.invalidConfig(file: loader.path, reason: "feature_names has \(config.featureNames.count) names for \(expected) FPN outputs")
            }
            self.fpn = fpn
            outChannels = fpnConfig.outChannels
        } else {
            guard config.featureNames.count == body.outChannels.count else {
                throw WeightsError.invalidConfig(file: loader.path, reason: "feature_names has \(config.featureNames.count) names for \(body.outChannels.count) backbone outputs")
            }
            guard Set(body.outChannels).count == 1 else {
                throw WeightsError.invalidConfig(file: loader.path, reason: "without an FPN every backbone output needs the same channels (got \(body.outChannels))")
            }
            fpn = nil
            outChannels = body.outChannels[0]
        }
        featureNames = config.featureNames
    }

    /// How the body's ResNet blocks run with chains on: "levels" (every block and FPN lateral layer
    /// int8: blocks on levels, residuals joined on pixel rows with the float32 join's bits),
    /// "levels, int8 joins" (the same with `residual_joins: int8`: identity shortcuts from the
    /// input's levels), or nil (the float32 NCHW path: not a ResNet with an FPN, or a float32 layer).
    public var residualPath: String? {
        guard let fpn, let resnet = body as? ResNet, resnet.joinTargets(fpn.inner.map(\.int8)) != nil else { return nil }
        return resnet.int8Joins ? "levels, int8 joins" : "levels"
    }

    /// Runs body (and FPN) on a normalised, padded `[1, 3, H, W]` batch. With `rpnInput` (the
    /// quantization the RPN head reads, `RegionProposalNetwork.levelsInput`) an FPN with int8
    /// output layers keeps its maps as pixel rows with their levels for the RPN
    /// (`FeaturePyramidNetwork.callAsFunction(_:rpnInput:)`).
    public func callAsFunction(_ x: Tensor, rpnInput: ActivationQuantization? = nil) -> FeatureMaps {
        guard let fpn else { return FeatureMaps(names: featureNames, maps: body(x)) }
        return FeatureMaps(names: featureNames, stored: fpn(body(x, lateral: fpn.inner.map(\.int8)), rpnInput: rpnInput))
    }
}
