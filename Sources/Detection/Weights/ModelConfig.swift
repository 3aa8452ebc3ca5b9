import Foundation

/// A model's flat JSON config (`Config/models/NAME.json`); the schema is written down in
/// `Docs/model-config.md`. Every hyperparameter has its home here, with torchvision's meaning.
public struct ModelConfig: Codable, Sendable {
    public var formatVersion: Int
    public var name: String
    public var architecture: String
    /// "detection" (boxes) or "instance_segmentation" (boxes and masks).
    public var task: String
    /// The weights file, relative to the config file's folder.
    public var weights: String
    public var weightsSha256: String?
    /// Class names by class id; index 0 is the background.
    public var classes: [String]
    public var transform: TransformConfig
    public var backbone: BackboneConfig
    /// Absent for single-map backbones (VGG-16 as in Fast/Faster R-CNN).
    public var fpn: FPNConfig?
    public var featureNames: [String]
    public var anchorGenerator: AnchorConfig
    public var rpn: RPNConfig
    public var boxRoiPool: RoIPoolConfig
    public var boxHead: BoxHeadConfig
    public var boxPredictor: PredictorConfig
    public var boxCoderWeights: [Double]
    public var boxScoreThresh: Double
    public var boxNmsThresh: Double
    public var boxDetectionsPerImg: Int
    public var maskRoiPool: RoIPoolConfig?
    public var maskHead: MaskHeadConfig?
    public var maskPredictor: MaskPredictorConfig?
    /// The keypoint branch (Keypoint R-CNN), all or none of these.
    public var keypointRoiPool: RoIPoolConfig?
    public var keypointHead: KeypointHeadConfig?
    public var keypointPredictor: KeypointPredictorConfig?
    /// Keypoint names in the order the head predicts them.
    public var keypointNames: [String]?
    /// Pairs of keypoint indices (0-based) joined when drawing a pose.
    public var keypointSkeleton: [[Int]]?
    /// Per-keypoint OKS sigmas for COCO keypoint evaluation (COCO's person sigmas for its 17).
    public var keypointSigmas: [Double]?
    /// The int8 precision (`rcnn calibrate`); absent: float32.
    public var quantization: QuantizationConfig?

    /// "int8" for a calibrated variant, else "float32".
    public var precision: String { quantization == nil ? "float32" : "int8" }

    public var hasMasks: Bool { task == "instance_segmentation" }
    public var hasKeypoints: Bool { keypointPredictor != nil }

    public struct TransformConfig: Codable, Sendable {
        public var minSize: Int
        public var maxSize: Int
        public var imageMean: [Double]
        public var imageStd: [Double]
        public var sizeDivisible: Int

        public init(minSize: Int, maxSize: Int, imageMean: [Double], imageStd: [Double], sizeDivisible: Int) {
            self.minSize = minSize
            self.maxSize = maxSize
            self.imageMean = imageMean
            self.imageStd = imageStd
            self.sizeDivisible = sizeDivisible
        }
    }

    public struct MobileNetBlock: Codable, Sendable {
        public var inputChannels: Int
        public var kernel: Int
        public var expandedChannels: Int
        public var outChannels: Int
        public var useSe: Bool
        public var activation: String
        public var stride: Int
        public var dilation: Int
    }

    public struct BackboneConfig: Codable, Sendable {
        /// "resnet", "mobilenet_v3" or "vgg".
        public var type: String
        public var returnLayers: [String: String]
        // ResNet
        public var block: String?
        public var layers: [Int]?
        public var norm: String?
        /// Batch-norm eps of the body (torchvision's COCO v1 ResNet weights run with 0).
        public var normEps: Double?
        // MobileNetV3
        public var stemChannels: Int?
        public var lastChannels: Int?
        public var blocks: [MobileNetBlock]?
        // VGG: conv widths per stage (a 2x2 max pool between stages)
        public var stages: [[Int]]?
    }

    public struct FPNConfig: Codable, Sendable {
        public var inChannels: [Int]
        public var outChannels: Int
        public var norm: String?
        public var normEps: Double?
        public var extraBlock: String?
    }

    public struct AnchorConfig: Codable, Sendable {
        public var sizes: [[Double]]
        public var aspectRatios: [[Double]]
    }

    public struct RPNConfig: Codable, Sendable {
        public var convDepth: Int
        public var preNmsTopNTest: Int
        public var postNmsTopNTest: Int
        public var nmsThresh: Double
        public var scoreThresh: Double
        public var minSize: Double
    }

    public struct RoIPoolConfig: Codable, Sendable {
        /// "roi_align" (the default: torchvision's MultiScaleRoIAlign) or "roi_pool" (Fast R-CNN's
        /// RoI max pooling of one map).
        public var type: String?
        public var featmapNames: [String]
        public var outputSize: Int
        /// RoIAlign's samples per bin side (<= 0: adaptive); unused by roi_pool.
        public var samplingRatio: Int?
        /// roi_pool only: the map's scale relative to the input image (1/16 for VGG-16); nil infers
        /// it from the map size as roi_align always does.
        public var spatialScale: Double?
        public var canonicalScale: Int?
        public var canonicalLevel: Int?

        public init(type: String? = nil, featmapNames: [String], outputSize: Int, samplingRatio: Int, spatialScale: Double? = nil,
                    canonicalScale: Int? = 224, canonicalLevel: Int? = 4) {
            self.type = type
            self.spatialScale = spatialScale
            self.featmapNames = featmapNames
            self.outputSize = outputSize
            self.samplingRatio = samplingRatio
            self.canonicalScale = canonicalScale
            self.canonicalLevel = canonicalLevel
        }
    }

    public struct BoxHeadConfig: Codable, Sendable {
        /// "two_mlp" or "conv_fc".
        public var type: String
        public var representationSize: Int?
        public var convLayers: [Int]?
        public var fcLayers: [Int]?
        public var norm: String?
        public var normEps: Double?
    }

    public struct PredictorConfig: Codable, Sendable {
        public var inChannels: Int
        public var numClasses: Int
    }

    public struct MaskHeadConfig: Codable, Sendable {
        public var layers: [Int]
        public var dilation: Int
        public var norm: String?
        public var normEps: Double?
    }

    public struct MaskPredictorConfig: Codable, Sendable {
        public var inChannels: Int
        public var dimReduced: Int
    }

    /// torchvision's `KeypointRCNNHeads`: 3x3 conv + ReLU layers of these widths.
    public struct KeypointHeadConfig: Codable, Sendable {
        public var layers: [Int]
    }

    /// torchvision's `KeypointRCNNPredictor`: a 4x4 stride-2 transposed conv to one heatmap per
    /// keypoint, then 2x bilinear upsampling.
    public struct KeypointPredictorConfig: Codable, Sendable {
        public var inChannels: Int
        public var numKeypoints: Int
    }
}

extension ModelConfig {
    /// Reads and validates a config file.
    public static func load(_ url: URL) throws -> ModelConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw WeightsError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config: ModelConfig
        do {
            config = try decoder.decode(ModelConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw WeightsError.invalidConfig(file: url.path, reason: "missing key '\(snake(ctx.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            throw WeightsError.invalidConfig(file: url.path, reason: "wrong type at '\(snake(ctx.codingPath))'")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw WeightsError.invalidConfig(file: url.path, reason: "not valid JSON (\(ctx.debugDescription))")
        }
        try config.validate(file: url.path)
        return config
    }

    private static func snake(_ path: [CodingKey]) -> String {
        path.map { key in
            key.stringValue.reduce(into: "") { s, ch in
                if ch.isUppercase { s += "_" + ch.lowercased() } else { s.append(ch) }
            }
        }.joined(separator: ".")
    }

    func validate(file: String) throws {
        func check(_ ok: Bool, _ reason: @autoclosure () -> String) throws {
            if !ok { throw WeightsError.invalidConfig(file: file, reason: reason()) }
        }
        try check(formatVersion == 1, "format_version \(formatVersion) is not supported (expected 1)")
        try check(["detection", "instance_segmentation"].contains(task), "task '\(task)' is not detection or instance_segmentation")
        try check(classes.count == boxPredictor.numClasses, "\(classes.count) class names for \(boxPredictor.numClasses) classes")
        try check(transform.imageMean.count == 3 && transform.imageStd.count == 3, "image_mean and image_std need 3 values")
        try check(transform.minSize > 0 && transform.maxSize >= transform.minSize, "transform sizes must satisfy 0 < min_size <= max_size")
        try check(["resnet", "mobilenet_v3", "vgg"].contains(backbone.type), "backbone type '\(backbone.type)' is not resnet, mobilenet_v3 or vgg")
        if let fpn {
            try check(fpn.inChannels.count == backbone.returnLayers.count, "fpn.in_channels has \(fpn.inChannels.count) entries for \(backbone.returnLayers.count) return layers")
        } else {
            try check(featureNames.count == backbone.returnLayers.count, "without an fpn, feature_names needs one name per return layer (\(backbone.returnLayers.count))")
        }
        let pools = [("box_roi_pool", boxRoiPool)] + (maskRoiPool.map { [("mask_roi_pool", $0)] } ?? [])
            + (keypointRoiPool.map { [("keypoint_roi_pool", $0)] } ?? [])
        for (key, pool) in pools {
            switch pool.type ?? "roi_align" {
            case "roi_align":
                try check(pool.samplingRatio != nil, "\(key).sampling_ratio is required for roi_align")
                try check(pool.spatialScale == nil, "\(key).spatial_scale is for roi_pool; roi_align infers each level's scale")
            case "roi_pool":
                try check(pool.featmapNames.count == 1, "\(key): roi_pool pools one feature map (got \(pool.featmapNames.count))")
            default:
                try check(false, "\(key).type '\(pool.type!)' is not roi_align or roi_pool")
            }
            try check(pool.outputSize > 0 && pool.featmapNames.allSatisfy(featureNames.contains), "\(key): output_size must be positive and featmap_names must be feature names")
            if let scale = pool.spatialScale { try check(scale > 0 && scale <= 1, "\(key).spatial_scale must be in (0, 1]") }
        }
        try check(anchorGenerator.sizes.count == featureNames.count && anchorGenerator.aspectRatios.count == featureNames.count,
                  "anchor sizes and aspect ratios need one entry per feature level (\(featureNames.count))")
        try check(Set(anchorGenerator.sizes.map { $0.count }).count == 1 && Set(anchorGenerator.aspectRatios.map { $0.count }).count == 1,
                  "every level needs the same number of anchors (the RPN head is shared)")
        try check(boxCoderWeights.count == 4, "box_coder_weights needs 4 values")
        try check(["two_mlp", "conv_fc"].contains(boxHead.type), "box_head type '\(boxHead.type)' is not two_mlp or conv_fc")
        if hasMasks {
            try check(maskRoiPool != nil && maskHead != nil && maskPredictor != nil, "instance_segmentation needs mask_roi_pool, mask_head and mask_predictor")
        }
        try validateKeypoints(check)
        if let quantization { _ = try quantization.inputs(file: file) }
    }

    private func validateKeypoints(_ check: (Bool, @autoclosure () -> String) throws -> Void) throws {
        let parts = [keypointRoiPool != nil, keypointHead != nil, keypointPredictor != nil]
        try check(parts.allSatisfy { $0 } || !parts.contains(true), "a keypoint model needs keypoint_roi_pool, keypoint_head and keypoint_predictor")
        guard let predictor = keypointPredictor, let head = keypointHead, let pool = keypointRoiPool else {
            try check(keypointNames == nil && keypointSkeleton == nil && keypointSigmas == nil, "keypoint_names, keypoint_skeleton and keypoint_sigmas need a keypoint head")
            return
        }
        let k = predictor.numKeypoints
        try check((1...1024).contains(k), "keypoint_predictor.num_keypoints \(k) is not in 1...1024")
        try check(!head.layers.isEmpty && head.layers.allSatisfy { $0 > 0 } && head.layers.last == predictor.inChannels,
                  "keypoint_head.layers must be positive widths ending in keypoint_predictor.in_channels (\(predictor.inChannels))")
        try check((pool.type ?? "roi_align") == "roi_align", "keypoint_roi_pool must be roi_align")
        try check(pool.outputSize <= 256, "keypoint_roi_pool.output_size \(pool.outputSize) is larger than 256")
        if let names = keypointNames {
            try check(names.count == k, "\(names.count) keypoint_names for \(k) keypoints")
        }
        for pair in keypointSkeleton ?? [] {
            try check(pair.count == 2 && pair.allSatisfy { (0..<k).contains($0) }, "keypoint_skeleton pair \(pair) is not two keypoint indices in 0..<\(k)")
        }
        if let sigmas = keypointSigmas {
            try check(sigmas.count == k && sigmas.allSatisfy { $0.isFinite && $0 > 0 }, "keypoint_sigmas needs \(k) positive numbers")
        }
    }
}
