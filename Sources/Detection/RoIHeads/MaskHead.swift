import Tensor

/// The Mask R-CNN mask branch (He et al., section 3): `MaskRCNNHeads` (3x3 conv(+BN)+ReLU layers on
/// 14x14 RoI features) and `MaskRCNNPredictor` (2x2 stride-2 transposed conv + ReLU, then 1x1 conv to
/// one 28x28 logit map per class). Immutable; thread-safe.
struct MaskHead: Sendable {
    let convs: [Conv2d]
    let upsample: ConvTranspose2d
    let logits: Conv2d

    init(loader: LayerLoader, config: ModelConfig, channels: Int) throws {
        guard let head = config.maskHead, let predictor = config.maskPredictor else {
            throw WeightsError.invalidConfig(file: loader.path, reason: "mask model without mask_head/mask_predictor")
        }
        var c = channels
        convs = try head.layers.enumerated().map { i, width in
            defer { c = width }
            return try loader.convNormAct("roi_heads.mask_head.\(i)", norm: head.norm != nil, in: c, out: width,
                                          kernel: 3, dilation: head.dilation, activation: .relu)
        }
        upsample = try loader.convTranspose("roi_heads.mask_predictor.conv5_mask", in: predictor.inChannels,
                                            out: predictor.dimReduced, kernel: 2, stride: 2, activation: .relu)
        logits = try loader.conv("roi_heads.mask_predictor.mask_fcn_logits", in: predictor.dimReduced,
                                 out: config.boxPredictor.numClasses, kernel: 1)
    }

    /// Pooled `[R, C, 14, 14]` features to `[R, K, 28, 28]` mask logits. With the upsampling and
    /// logits layers in int8 (chains on), levels flow from the mask convolutions through the
    /// upsampling into the logits layer with no float tensor between them; the same bits.
    func callAsFunction(_ pooled: Tensor) -> Tensor {
        if let (levels, logits8) = logitsInput(pooled) { return logits8(levels, activation: logits.activation) }
        let x = Conv2d.sequence(convs, pooled)
        return logits(upsample(x))
    }

    /// The logits map of class `labels[i]` alone for RoI i, `[R, 1, 28, 28]`: the bits of that
    /// channel of `callAsFunction`. With the int8 chain the logits layer computes only the panel of
    /// classes holding each RoI's (`QuantizedConv2d.channels`), not all of them.
    func logits(_ pooled: Tensor, labels: [Int]) -> Tensor {
        precondition(labels.count == pooled.shape[0], "\(labels.count) labels for \(pooled.shape[0]) RoIs")
        if let (levels, logits8) = logitsInput(pooled) {
            return logits8.channels(levels, perImage: labels, activation: logits.activation)
        }
        return self(pooled).channels(perImage: labels)
    }

    /// The logits layer's input levels where the upsampling and logits layers are int8 and chains
    /// run: levels flow from the mask convolutions through the upsampling with no float tensor.
    private func logitsInput(_ pooled: Tensor) -> (QuantizedActivations, QuantizedConv2d)? {
        guard let up8 = upsample.int8, let logits8 = logits.int8, PackedInt8Weights.requantizable(upsample.activation),
              let levels = Conv2d.sequence(convs, pooled, levelsFor: up8.input) else { return nil }
        return (up8(levels, activation: upsample.activation, quantizedFor: logits8.input), logits8)
    }
}
