import Foundation
import Tensor

/// The Region Proposal Network (Ren et al., 2015) at inference, as torchvision's
/// `RegionProposalNetwork`: a shared head (3x3 conv(s) + ReLU, then 1x1 objectness and 1x1 box
/// deltas) over every level; per level the top `preNmsTopN` anchors by objectness logit; decode with
/// weights (1, 1, 1, 1); clip to the resized image; drop boxes smaller than `minSize`; drop scores
/// (sigmoid) below `scoreThresh`; NMS per level at `nmsThresh`; keep the best `postNmsTopN` overall.
/// Immutable; thread-safe.
public struct RegionProposalNetwork: Sendable {
    let convs: [Conv2d]
    let objectness: Conv2d
    let deltas: Conv2d
    public let anchorGenerator: AnchorGenerator
    public let config: ModelConfig.RPNConfig
    let coder = BoxCoder(weights: (1, 1, 1, 1))

    /// The head's raw outputs for one level: `[1, A, H, W]` logits and `[1, 4A, H, W]` deltas.
    public struct LevelOutput: Sendable {
        public var objectness: Tensor
        public var deltas: Tensor
    }

    init(loader: LayerLoader, channels: Int, config: ModelConfig) throws {
        anchorGenerator = AnchorGenerator(sizes: config.anchorGenerator.sizes, aspectRatios: config.anchorGenerator.aspectRatios)
        self.config = config.rpn
        convs = try (0..<config.rpn.convDepth).map { i in
            try loader.convNormAct("rpn.head.conv.\(i)", norm: false, in: channels, out: channels, kernel: 3, activation: .relu)
        }
        let a = anchorGenerator.anchorsPerLocation
        objectness = try loader.conv("rpn.head.cls_logits", in: channels, out: a, kernel: 1, takesFloatWeights: true)
        deltas = try loader.conv("rpn.head.bbox_pred", in: channels, out: 4 * a, kernel: 1, takesFloatWeights: true)
    }

    /// Runs the head on every level.
    public func head(_ features: [Tensor]) -> [LevelOutput] {
        features.map { f in
            let out = Conv2d.sequence(convs, f, heads: [objectness, deltas])
            return LevelOutput(objectness: out[0], deltas: out[1])
        }
    }

    /// The quantization the head's first layer reads where it runs on levels (int8 layers, chains
    /// on), which the backbone can then store beside its maps; nil for a float32 head.
    public var levelsInput: ActivationQuantization? { Conv2d.levelsInput(convs, heads: [objectness, deltas]) }

    /// Runs the head on every level of `features`, on the levels the FPN stored for it where it
    /// did (`Backbone.callAsFunction(_:rpnInput:)`): the same bits as on the float maps.
    public func head(_ features: FeatureMaps) -> [LevelOutput] {
        let stored = features.rpnLevels
        let wanted = levelsInput
        return stored.indices.map { i in
            let out: [Tensor]
            if let levels = stored[i], levels.quantization == wanted {
                out = Conv2d.sequence(convs, levels: levels, heads: [objectness, deltas])
            } else {
                out = Conv2d.sequence(convs, features.map(i), heads: [objectness, deltas])
            }
            return LevelOutput(objectness: out[0], deltas: out[1])
        }
    }

    /// Proposals in resized-image coordinates, best first, with their objectness probabilities.
    /// - Parameters:
    ///   - paddedSize: the batch tensor's (h, w), which sets the anchor strides.
    ///   - imageSize: the resized image's (h, w) before padding, which proposals are clipped to.
    public func proposals(_ outputs: [LevelOutput], paddedSize: (h: Int, w: Int),
                          imageSize: (h: Int, w: Int)) -> (boxes: [Box], scores: [Float]) {
        let a = anchorGenerator.anchorsPerLocation
        var boxes: [Box] = [], logits: [Float] = [], levels: [Int] = []
        for (level, out) in outputs.enumerated() {
            let h = out.objectness.shape[2], w = out.objectness.shape[3]
            let anchors = anchorGenerator.anchors(level: level, featureH: h, featureW: w, imageH: paddedSize.h, imageW: paddedSize.w)
            let count = h * w * a
            // objectness [A, H, W] -> index (y, x, a); deltas [A, 4, H, W] -> (y, x, a, 4)
            var scores = [Float](repeating: 0, count: count)
            out.objectness.data.withUnsafeBufferPointer { o in
                for ai in 0..<a { for p in 0..<(h * w) { scores[p * a + ai] = o[ai * h * w + p] } }
            }
            let k = min(config.preNmsTopNTest, count)
            let top = RegionProposalNetwork.topK(scores, k)
            out.deltas.data.withUnsafeBufferPointer { d in
                var delta = [Float](repeating: 0, count: 4)
                for i in top {
                    let p = i / a, ai = i % a
                    for j in 0..<4 { delta[j] = d[(ai * 4 + j) * h * w + p] }
                    boxes.append(coder.decode(delta, reference: anchors[i]))
                    logits.append(scores[i])
                    levels.append(level)
                }
            }
        }
        // Clip, remove small, threshold, NMS per level.
        let fw = Float(imageSize.w), fh = Float(imageSize.h)
        var kept: [Int] = []
        var probs = [Float](repeating: 0, count: boxes.count)
        let minSize = Float(config.minSize), scoreThresh = Float(config.scoreThresh)
        for i in boxes.indices {
            boxes[i] = boxes[i].clipped(width: fw, height: fh)
            probs[i] = Activation.sigmoid(logits[i])
            let b = boxes[i]
            if b.width >= minSize && b.height >= minSize && probs[i] >= scoreThresh { kept.append(i) }
        }
        let kb = kept.map { boxes[$0] }, ks = kept.map { probs[$0] }, kl = kept.map { levels[$0] }
        var keep = NonMaximumSuppression.batched(kb, scores: ks, groups: kl, iouThreshold: Float(config.nmsThresh))
        if keep.count > config.postNmsTopNTest { keep.removeLast(keep.count - config.postNmsTopNTest) }
        return (keep.map { kb[$0] }, keep.map { ks[$0] })
    }
}
