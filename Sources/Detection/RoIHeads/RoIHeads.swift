import Foundation
import Tensor

/// The second stage of Faster/Mask R-CNN at inference (torchvision's `RoIHeads`): pool each
/// proposal, run the box head, decode per-class boxes with weights (10, 10, 5, 5), softmax, drop the
/// background, keep scores above `scoreThresh`, drop boxes under 0.01 px, NMS per class, keep the best
/// `detectionsPerImage`; then, for mask models, the mask head on the kept boxes.
/// Immutable; thread-safe.
public struct RoIHeads: Sendable {
    let boxPool: RoIPooler
    let boxHead: BoxHead
    /// What the truncated SVD of the box head kept, one report per fully connected layer (empty
    /// when the head runs its full weights).
    public let boxHeadSVD: [TruncatedSVD.Report]
    let maskPool: RoIPooler?
    let maskHead: MaskHead?
    let keypointPool: RoIPooler?
    let keypointHead: KeypointHead?
    let coder: BoxCoder
    public var scoreThresh: Float
    public var nmsThresh: Float
    public var detectionsPerImage: Int

    init(loader: LayerLoader, config: ModelConfig, channels: Int, boxHeadSVD: [TruncatedSVD.Setting] = []) throws {
        boxPool = RoIPooler(config: config.boxRoiPool)
        let full = try BoxHead(loader: loader.with(eps: config.boxHead.normEps), config: config, channels: channels)
        (boxHead, self.boxHeadSVD) = try full.truncated(boxHeadSVD)
        if config.hasMasks, let mp = config.maskRoiPool {
            maskPool = RoIPooler(config: mp)
            maskHead = try MaskHead(loader: loader.with(eps: config.maskHead?.normEps), config: config, channels: channels)
        } else {
            maskPool = nil
            maskHead = nil
        }
        if config.hasKeypoints, let kp = config.keypointRoiPool {
            keypointPool = RoIPooler(config: kp)
            keypointHead = try KeypointHead(loader: loader, config: config, channels: channels)
        } else {
            keypointPool = nil
            keypointHead = nil
        }
        let w = config.boxCoderWeights.map { Float($0) }
        coder = BoxCoder(weights: (w[0], w[1], w[2], w[3]))
        scoreThresh = Float(config.boxScoreThresh)
        nmsThresh = Float(config.boxNmsThresh)
        detectionsPerImage = config.boxDetectionsPerImg
    }

    public var hasMasks: Bool { maskHead != nil }
    public var hasKeypoints: Bool { keypointHead != nil }

    /// Class logits `[P, K]` and deltas `[P, 4K]` for the proposals. Where the box head's first
    /// layer reads levels (`BoxHead.levelsInput`: an int8 fc6), RoIAlign quantizes its samples for
    /// it directly, the same levels without the float tensor.
    public func classify(_ features: FeatureMaps, proposals: [Box], imageSize: (h: Int, w: Int)) -> (logits: Tensor, deltas: Tensor) {
        if !proposals.isEmpty, case .align(let align) = boxPool, let input = boxHead.levelsInput {
            let levels = align.levels(features, boxes: proposals, imageSize: imageSize, quantization: input.quantization,
                                      rowBytes: input.rowBytes)
            return levels.withUnsafeBufferPointer { boxHead(levels: $0.baseAddress!, rows: proposals.count) }
        }
        return boxHead(boxPool(features, boxes: proposals, imageSize: imageSize))
    }

    /// Final detections in resized-image coordinates (no masks yet).
    public func postprocess(logits: Tensor, deltas: Tensor, proposals: [Box], imageSize: (h: Int, w: Int),
                            scoreThresh: Float? = nil, detectionsPerImage: Int? = nil, classes: Set<Int>? = nil,
                            classScoreThresholds: [Int: Float]? = nil) -> Detections {
        let k = logits.shape[1]
        let probs = Softmax.lastDim(logits)
        let thresh = scoreThresh ?? self.scoreThresh
        var boxes: [Box] = [], scores: [Float] = [], labels: [Int] = []
        let fw = Float(imageSize.w), fh = Float(imageSize.h)
        deltas.data.withUnsafeBufferPointer { d in
            for (i, p) in proposals.enumerated() {
                for c in 1..<k where classes?.contains(c) ?? true {
                    let s = probs.data[i * k + c]
                    guard s > (classScoreThresholds?[c] ?? thresh) else { continue }
                    let b = coder.decode(d.baseAddress! + (i * k + c) * 4, reference: p).clipped(width: fw, height: fh)
                    guard b.width >= 1e-2 && b.height >= 1e-2 else { continue }
                    boxes.append(b); scores.append(s); labels.append(c)
                }
            }
        }
        var keep = NonMaximumSuppression.batched(boxes, scores: scores, groups: labels, iouThreshold: nmsThresh)
        let limit = detectionsPerImage ?? self.detectionsPerImage
        if keep.count > limit { keep.removeLast(keep.count - limit) }
        var det = Detections()
        det.boxes = keep.map { boxes[$0] }
        det.scores = keep.map { scores[$0] }
        det.labels = keep.map { labels[$0] }
        return det
    }

    /// Sigmoid mask probabilities (28x28) of each detection's class, boxes in resized coordinates.
    public func maskProbabilities(_ features: FeatureMaps, detections: Detections, imageSize: (h: Int, w: Int)) -> [[Float]] {
        guard let maskPool, let maskHead, detections.count > 0 else { return [] }
        let logits = maskHead.logits(maskPool(features, boxes: detections.boxes, imageSize: imageSize),
                                     labels: detections.labels)
        let m = logits.shape[2] * logits.shape[3]
        return detections.labels.indices.map { i in
            (0..<m).map { Activation.sigmoid(logits.data[i * m + $0]) }
        }
    }

    /// Keypoint heatmap logits `[D, K, 56, 56]` for boxes in resized coordinates (nil without a
    /// keypoint head or boxes).
    public func keypointHeatmaps(_ features: FeatureMaps, boxes: [Box], imageSize: (h: Int, w: Int)) -> Tensor? {
        guard let keypointPool, let keypointHead, !boxes.isEmpty else { return nil }
        return keypointHead(keypointPool(features, boxes: boxes, imageSize: imageSize))
    }

    /// Each box's keypoints decoded from its heatmaps (`KeypointDecoder`), in the boxes' coordinates.
    public static func keypoints(heatmaps: Tensor, boxes: [Box]) -> [[Keypoint]] {
        let k = heatmaps.shape[1], side = heatmaps.shape[2]
        precondition(heatmaps.shape[0] == boxes.count && heatmaps.shape[3] == side, "heatmaps \(heatmaps.shape) for \(boxes.count) boxes")
        return heatmaps.data.withUnsafeBufferPointer { h in
            boxes.indices.map { i in
                KeypointDecoder.decode(h.baseAddress! + i * k * side * side, count: k, side: side, box: boxes[i])
            }
        }
    }
}
