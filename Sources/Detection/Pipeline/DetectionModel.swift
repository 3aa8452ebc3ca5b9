import Foundation
import Imaging
import Tensor

/// A Faster or Mask R-CNN model loaded from a config and its safetensors weights (torchvision's
/// `GeneralizedRCNN` at inference): preprocess -> backbone + FPN -> RPN -> RoI heads -> masks and
/// keypoints ->
/// back to original-image coordinates.
///
/// Thread-safety: a model is immutable after loading; `detect` may run concurrently from several
/// threads, each call with its own activations.
public final class DetectionModel: Sendable {
    public let config: ModelConfig
    public let configURL: URL
    public let weightsURL: URL
    public let preprocessor: ImagePreprocessor
    public let backbone: Backbone
    public let rpn: RegionProposalNetwork
    public let roiHeads: RoIHeads

    /// Loads `NAME.json` and the weights it names (relative to the config's folder), checking the
    /// weights' SHA-256 when `verifyChecksum` and the config records one. `boxHeadSVD` replaces the
    /// box head's fully connected layers by their truncated SVD (one setting per layer, the last
    /// repeated; empty: full weights), as Fast R-CNN does to speed up detection.
    public init(configURL: URL, verifyChecksum: Bool = false, boxHeadSVD: [TruncatedSVD.Setting] = []) throws {
        let config = try ModelConfig.load(configURL)
        let weightsURL = URL(fileURLWithPath: config.weights, relativeTo: configURL.deletingLastPathComponent()).standardizedFileURL
        let file = try SafeTensorsFile(url: weightsURL)
        if verifyChecksum, let expected = config.weightsSha256 {
            let found = try SHA256.hex(of: weightsURL)
            guard found == expected.lowercased() else {
                throw WeightsError.checksumMismatch(file: weightsURL.path, expected: expected, found: found)
            }
        }
        var loader = LayerLoader(file: file)
        let plan = try config.quantization.map { QuantizationPlan(inputs: try $0.inputs(file: configURL.path), file: configURL.path,
                                                                      weightBits: $0.effectiveWeightBits,
                                                                      int8Joins: $0.int8Joins,
                                                                      floatWeights: Set($0.layers.filter(\.floatWeights).map(\.name))) }
        loader.quantization = plan
        self.config = config
        self.configURL = configURL
        self.weightsURL = weightsURL
        preprocessor = ImagePreprocessor(config: config.transform)
        backbone = try Backbone(loader: loader, config: config)
        rpn = try RegionProposalNetwork(loader: loader, channels: backbone.outChannels, config: config)
        roiHeads = try RoIHeads(loader: loader, config: config, channels: backbone.outChannels, boxHeadSVD: boxHeadSVD)
        try plan?.checkAllUsed()
    }

    public var name: String { config.name }
    public var classes: [String] { config.classes }
    public var hasMasks: Bool { roiHeads.hasMasks }
    public var hasKeypoints: Bool { roiHeads.hasKeypoints }

    /// Per-request overrides of the config's thresholds.
    public struct Options: Sendable {
        public var scoreThreshold: Float?
        public var maxDetections: Int?
        public var masks: Bool = true
        /// Which generation runs: `.faster`/`.mask` use the RPN; `.fast` pools the given
        /// `proposals` (or selective search's when nil) from the shared feature map (Fast R-CNN).
        public var pipeline: Pipeline = .default
        /// Client proposals for `.fast`, `[x1, y1, x2, y2]` in original-image pixels.
        public var proposals: [Box]?
        /// Selective search proposals kept for `.fast` when no proposals are given.
        public var selectiveSearchProposals: Int = 2000
        /// Regions `.rcnn` evaluates at most (each is a full backbone pass): the best-ranked first.
        public var rcnnMaxRegions: Int = 100
        /// Class ids to keep (nil: all). Applied before `maxDetections`, so a filter returns up to
        /// `maxDetections` detections of those classes; NMS is per class, so the kept detections
        /// are exactly the unfiltered ones of those classes, without the cut at the limit.
        public var classes: Set<Int>?
        /// Score thresholds of single classes by class id; the others keep `scoreThreshold` (or
        /// the model's). NMS is per class, so thresholding before it keeps exactly the detections
        /// that thresholding after it would.
        public var classScoreThresholds: [Int: Float]?
        /// The probability a pasted mask pixel must exceed (torchvision's 0.5).
        public var maskThreshold: Float = 0.5
        /// Whether a keypoint model's keypoint head runs (every pipeline but R-CNN's).
        public var keypoints: Bool = true

        public init(scoreThreshold: Float? = nil, maxDetections: Int? = nil, masks: Bool = true,
                    pipeline: Pipeline = .default, proposals: [Box]? = nil) {
            self.scoreThreshold = scoreThreshold
            self.maxDetections = maxDetections
            self.masks = masks
            self.pipeline = pipeline
            self.proposals = proposals
        }
    }

    /// The R-CNN generations this engine runs on one set of weights.
    public enum Pipeline: String, Sendable, CaseIterable {
        /// The model's own: Mask R-CNN for mask models, Faster R-CNN otherwise.
        case `default`
        /// Fast R-CNN: external proposals (the client's or selective search's), RoI pooling on the
        /// shared feature map, box head, per-class regression and NMS.
        case fast
        /// Faster R-CNN: RPN proposals; no masks.
        case faster
        /// Mask R-CNN: Faster R-CNN plus the mask head (mask models only).
        case mask
        /// R-CNN: each proposal warped (with context) to a fixed square and run through the
        /// backbone and box head on its own; slow by design, bounded by `rcnnMaxRegions`.
        case rcnn
    }

    /// The pipelines this model supports, by name, its own first.
    public var pipelines: [String] { hasMasks ? ["mask", "faster", "fast", "rcnn"] : ["faster", "fast", "rcnn"] }

    /// Runs the whole pipeline on one RGB image; boxes and masks come back in its pixel coordinates.
    public func detect(_ image: RGBImage, options: Options = Options()) -> (detections: Detections, timings: StageTimings) {
        var timings = StageTimings()
        let pipeline = options.pipeline == .default ? (hasMasks ? Pipeline.mask : .faster) : options.pipeline
        if pipeline == .rcnn { return detectRCNN(image, options: options) }
        let external = pipeline == .fast ? externalProposals(image, options, &timings) : nil
        let input = timings.measure("preprocess") { preprocessor(image) }
        // With the RPN's own proposals an int8 FPN stores its maps' levels for the RPN head too.
        let features = timings.measure("backbone") { backbone(input.batch, rpnInput: external == nil ? rpn.levelsInput : nil) }
        let proposals: [Box]
        if let external {
            // Into the resized image, as torchvision's transform resizes target boxes.
            proposals = DetectionModel.mapBack(external, resized: input.original, original: input.resized)
        } else {
            proposals = timings.measure("rpn") {
                rpn.proposals(rpn.head(features), paddedSize: input.padded, imageSize: input.resized).boxes
            }
        }
        timings.proposals = proposals.count
        var det = timings.measure("box_head") { () -> Detections in
            let (logits, deltas) = roiHeads.classify(features, proposals: proposals, imageSize: input.resized)
            return roiHeads.postprocess(logits: logits, deltas: deltas, proposals: proposals, imageSize: input.resized,
                                        scoreThresh: options.scoreThreshold, detectionsPerImage: options.maxDetections,
                                        classes: options.classes, classScoreThresholds: options.classScoreThresholds)
        }
        if hasMasks && options.masks && pipeline == .mask {
            det.maskProbabilities = timings.measure("mask_head") {
                roiHeads.maskProbabilities(features, detections: det, imageSize: input.resized)
            }
        }
        if hasKeypoints && options.keypoints {
            det.keypoints = timings.measure("keypoint_head") { () -> [[Keypoint]] in
                guard let maps = roiHeads.keypointHeatmaps(features, boxes: det.boxes, imageSize: input.resized) else { return [] }
                return RoIHeads.keypoints(heatmaps: maps, boxes: det.boxes)
            }
        }
        timings.measure("postprocess") {
            det.boxes = DetectionModel.mapBack(det.boxes, resized: input.resized, original: input.original)
            det.keypoints = det.keypoints.map { DetectionModel.mapBack($0, resized: input.resized, original: input.original) }
            if let probs = det.maskProbabilities {
                det.masks = zip(probs, det.boxes).map { p, b in
                    p.withUnsafeBufferPointer {
                        MaskPaster.paste($0.baseAddress!, size: 28, box: b, imageH: image.height, imageW: image.width,
                                         threshold: options.maskThreshold)
                    }
                }
            }
        }
        return (det, timings)
    }

    /// The client's proposals, or selective search's ("fast" mode, best-ranked first).
    func externalProposals(_ image: RGBImage, _ options: Options, _ timings: inout StageTimings) -> [Box] {
        options.proposals ?? timings.measure("selective_search") {
            SelectiveSearch.proposals(image: image, mode: .fast, maxProposals: options.selectiveSearchProposals).map(\.box)
        }
    }

    /// R-CNN: every region through backbone and box head separately. Box deltas are decoded
    /// against the region's box in image coordinates: the warp is a per-axis scale and shift, under
    /// which the box coder's decoding is equivariant, so this equals decoding in the warped frame
    /// and mapping back.
    public func detectRCNN(_ image: RGBImage, options: Options, warper: RegionWarper = RegionWarper()) -> (detections: Detections, timings: StageTimings) {
        var timings = StageTimings()
        var regions = externalProposals(image, options, &timings)
        if regions.count > options.rcnnMaxRegions { regions.removeLast(regions.count - options.rcnnMaxRegions) }
        timings.proposals = regions.count
        let mean = config.transform.imageMean.map { Float($0) }, std = config.transform.imageStd.map { Float($0) }
        let c = Float(warper.context), s = Float(warper.size)
        let inner = [Box(c, c, s - c, s - c)]
        var logits: [Tensor] = [], deltas: [Tensor] = []
        timings.measure("regions") {
            for region in regions {
                let features = backbone(warper.warp(image, region, mean: mean, std: std))
                let (l, d) = roiHeads.classify(features, proposals: inner, imageSize: (warper.size, warper.size))
                logits.append(l)
                deltas.append(d)
            }
        }
        guard !regions.isEmpty else { return (Detections(), timings) }
        let det = timings.measure("postprocess") {
            roiHeads.postprocess(logits: Tensor.concatRows(logits), deltas: Tensor.concatRows(deltas), proposals: regions,
                                 imageSize: (image.height, image.width),
                                 scoreThresh: options.scoreThreshold, detectionsPerImage: options.maxDetections,
                                 classes: options.classes, classScoreThresholds: options.classScoreThresholds)
        }
        return (det, timings)
    }

    /// Scales keypoints from the resized image back to the original (torchvision `resize_keypoints`:
    /// x times the width ratio, y times the height ratio; scores unchanged).
    public static func mapBack(_ keypoints: [[Keypoint]], resized: (h: Int, w: Int), original: (h: Int, w: Int)) -> [[Keypoint]] {
        let rh = Float(original.h) / Float(resized.h), rw = Float(original.w) / Float(resized.w)
        return keypoints.map { $0.map { Keypoint(x: $0.x * rw, y: $0.y * rh, score: $0.score) } }
    }

    /// Scales boxes from the resized image back to the original (torchvision `resize_boxes`; the
    /// ratios are float32 quotients of the sizes).
    public static func mapBack(_ boxes: [Box], resized: (h: Int, w: Int), original: (h: Int, w: Int)) -> [Box] {
        let rh = Float(original.h) / Float(resized.h), rw = Float(original.w) / Float(resized.w)
        return boxes.map { Box($0.x1 * rw, $0.y1 * rh, $0.x2 * rw, $0.y2 * rh) }
    }
}
