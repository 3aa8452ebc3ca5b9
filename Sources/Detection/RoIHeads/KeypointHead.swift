import Tensor

/// The Keypoint R-CNN branch (He et al., Mask R-CNN section 5; torchvision's `KeypointRCNNHeads`
/// and `KeypointRCNNPredictor`): 3x3 conv + ReLU layers on the pooled RoI features (14x14), a 4x4
/// stride-2 padding-1 transposed conv to one heatmap per keypoint (28x28), then bilinear 2x
/// upsampling (56x56). Immutable; thread-safe.
struct KeypointHead: Sendable {
    let convs: [Conv2d]
    let upsample: ConvTranspose2d

    init(loader: LayerLoader, config: ModelConfig, channels: Int) throws {
        guard let head = config.keypointHead, let predictor = config.keypointPredictor else {
            throw WeightsError.invalidConfig(file: loader.path, reason: "keypoint model without keypoint_head/keypoint_predictor")
        }
        var c = channels
        // torchvision's Sequential interleaves the ReLUs, so the convs are at 0, 2, 4, ...
        convs = try head.layers.enumerated().map { i, width in
            defer { c = width }
            return try loader.conv("roi_heads.keypoint_head.\(2 * i)", in: c, out: width, kernel: 3, activation: .relu)
        }
        upsample = try loader.convTranspose("roi_heads.keypoint_predictor.kps_score_lowres", in: predictor.inChannels,
                                            out: predictor.numKeypoints, kernel: 4, stride: 2, padding: 1)
    }

    /// Pooled `[R, C, S, S]` features to `[R, K, 4S, 4S]` keypoint heatmap logits.
    func callAsFunction(_ pooled: Tensor) -> Tensor {
        let low = upsample(Conv2d.sequence(convs, pooled))
        return Interpolation.bilinear(low, outH: 2 * low.shape[2], outW: 2 * low.shape[3])
    }
}
