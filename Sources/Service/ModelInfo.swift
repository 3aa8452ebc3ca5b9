import Detection

/// What `GET /v1/models/{name}` reports.
struct ModelInfo: Encodable {
    var name: String
    var architecture: String
    var task: String
    var pipelines: [String]
    var classes: [String]
    var minSize: Int
    var maxSize: Int
    var weights: String
    var weightsSha256: String?
    var ready: Bool
    /// "float32", or "int8" for a calibrated variant.
    var precision: String
    /// Int8 variants: the layers in int8 and in float32.
    var int8Layers: Int?
    var floatLayers: Int?
    /// Int8 variants: how many of the int8 layers read levels with float32 weights.
    var floatWeightLayers: Int?
    /// Int8 variants: bits of the weight levels (8 or 7).
    var weightBits: Int?
    /// Int8 variants: bits of the activation levels (8 or 7).
    var activationBits: Int?
    /// Int8 variants: how ResNet blocks join their residuals, "float" or "int8" (the table's
    /// `residual_joins`).
    var residualJoins: String?
    /// The box head's truncated SVD, one entry per fully connected layer (absent: full weights).
    var boxHeadSVD: [SVDLayer]?
    /// Keypoint models: the keypoints' names in the order detections list them, and the skeleton
    /// as pairs of indices into that list.
    var keypoints: [String]?
    var skeleton: [[Int]]?

    struct SVDLayer: Encodable {
        var outFeatures: Int, inFeatures: Int, rank: Int, energy: Double
        enum CodingKeys: String, CodingKey { case rank, energy, outFeatures = "out_features", inFeatures = "in_features" }
    }

    init(_ m: DetectionModel, ready: Bool) {
        name = m.name
        architecture = m.config.architecture
        task = m.config.task
        pipelines = m.pipelines
        classes = m.classes
        minSize = m.config.transform.minSize
        maxSize = m.config.transform.maxSize
        weights = m.weightsURL.lastPathComponent
        weightsSha256 = m.config.weightsSha256
        self.ready = ready
        precision = m.config.precision
        if let q = m.config.quantization {
            int8Layers = q.layers.count
            floatLayers = q.floatLayers?.count ?? 0
            floatWeightLayers = q.floatWeightLayerCount
            weightBits = q.effectiveWeightBits
            activationBits = q.effectiveActivationBits
            residualJoins = q.residualJoins ?? "float"
        }
        if m.hasKeypoints {
            let count = m.config.keypointPredictor?.numKeypoints ?? 0
            keypoints = m.config.keypointNames ?? (0..<count).map { "keypoint_\($0)" }
            skeleton = m.config.keypointSkeleton ?? []
        }
        let svd = m.roiHeads.boxHeadSVD
        boxHeadSVD = svd.isEmpty ? nil : svd.map { SVDLayer(outFeatures: $0.outFeatures, inFeatures: $0.inFeatures, rank: $0.rank, energy: $0.energy) }
    }

    enum CodingKeys: String, CodingKey {
        case name, architecture, task, pipelines, classes, weights, ready, keypoints, skeleton, precision
        case int8Layers = "int8_layers", floatLayers = "float_layers", floatWeightLayers = "float_weight_layers", weightBits = "weight_bits", activationBits = "activation_bits", residualJoins = "residual_joins"
        case minSize = "min_size", maxSize = "max_size", weightsSha256 = "weights_sha256", boxHeadSVD = "box_head_svd"
    }
}
