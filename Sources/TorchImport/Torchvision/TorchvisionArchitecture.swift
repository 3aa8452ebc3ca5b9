/// The torchvision detection architectures `rcnn import` reads, the same set as the Python converter
/// (Tools/convert_torchvision.py): each name is a torchvision builder (or, for `fasterrcnn_vgg16`,
/// the project's VGG-16 Faster R-CNN in Tools/vgg16_faster_rcnn.py), and each knows the modules the
/// builder makes with `weights=None`: the state-dict names and shapes in module order, and the model
/// config the converter writes for it.
public enum TorchvisionArchitecture: String, CaseIterable, Sendable {
    case fasterrcnnResNet50FPN = "fasterrcnn_resnet50_fpn"
    case maskrcnnResNet50FPN = "maskrcnn_resnet50_fpn"
    case fasterrcnnResNet50FPNv2 = "fasterrcnn_resnet50_fpn_v2"
    case maskrcnnResNet50FPNv2 = "maskrcnn_resnet50_fpn_v2"
    case fasterrcnnMobileNetV3LargeFPN = "fasterrcnn_mobilenet_v3_large_fpn"
    case fasterrcnnMobileNetV3Large320FPN = "fasterrcnn_mobilenet_v3_large_320_fpn"
    case fasterrcnnVGG16 = "fasterrcnn_vgg16"
    case keypointrcnnResNet50FPN = "keypointrcnn_resnet50_fpn"

    enum Body { case resnet50, mobileNetV3Large, vgg16 }

    var body: Body {
        switch self {
        case .fasterrcnnResNet50FPN, .maskrcnnResNet50FPN, .fasterrcnnResNet50FPNv2, .maskrcnnResNet50FPNv2,
             .keypointrcnnResNet50FPN: return .resnet50
        case .fasterrcnnMobileNetV3LargeFPN, .fasterrcnnMobileNetV3Large320FPN: return .mobileNetV3Large
        case .fasterrcnnVGG16: return .vgg16
        }
    }

    var hasMasks: Bool { self == .maskrcnnResNet50FPN || self == .maskrcnnResNet50FPNv2 }
    var hasKeypoints: Bool { self == .keypointrcnnResNet50FPN }

    /// The "v2" models (Li et al., "Benchmarking detection transfer learning with vision
    /// transformers"): batch norm in the FPN and heads, two RPN convs, a conv+fc box head.
    var isV2: Bool { self == .fasterrcnnResNet50FPNv2 || self == .maskrcnnResNet50FPNv2 }

    /// The builder's defaults for the options a user may override (`--min-size` ...).
    var defaults: TorchvisionOptions {
        var o = TorchvisionOptions(
            minSize: 800, maxSize: 1333,
            rpnPreNmsTopNTest: 1000, rpnPostNmsTopNTest: 1000, rpnNmsThresh: 0.7, rpnScoreThresh: 0.0,
            boxScoreThresh: 0.05, boxNmsThresh: 0.5, boxDetectionsPerImg: 100)
        switch self {
        case .fasterrcnnMobileNetV3LargeFPN:
            o.rpnScoreThresh = 0.05
        case .fasterrcnnMobileNetV3Large320FPN:
            o.minSize = 320
            o.maxSize = 640
            o.rpnPreNmsTopNTest = 150
            o.rpnPostNmsTopNTest = 150
            o.rpnScoreThresh = 0.05
        case .fasterrcnnVGG16:
            o.minSize = 600
            o.maxSize = 1000
            o.rpnPreNmsTopNTest = 6000
            o.rpnPostNmsTopNTest = 300
        default:
            break
        }
        return o
    }

    /// Whether torchvision publishes COCO weights for this architecture that it runs with a
    /// backbone batch-norm eps of 0 (`overwrite_eps`): the v1 ResNet-50 models (for keypoints, its
    /// COCO_V1 weights, not COCO_LEGACY).
    var publishedWithZeroEps: Bool { self == .fasterrcnnResNet50FPN || self == .maskrcnnResNet50FPN || self == .keypointrcnnResNet50FPN }

    // MARK: - facts of the networks

    static let fpnChannels = 256
    static let resnetStages = [(planes: 64, blocks: 3), (planes: 128, blocks: 4), (planes: 256, blocks: 6), (planes: 512, blocks: 3)]

    /// MobileNetV3-Large's inverted residual blocks (Howard et al., "Searching for MobileNetV3",
    /// table 1): input, kernel, expanded, output channels, squeeze-excitation, activation, stride.
    struct MobileBlock {
        let input: Int, kernel: Int, expanded: Int, output: Int
        let se: Bool
        let hardswish: Bool
        let stride: Int
        var seChannels: Int { Self.divisible(expanded / 4, by: 8) }
        var residual: Bool { stride == 1 && input == output }

        /// The closest multiple of `d` to `v`, not under 90% of `v` (torchvision's `_make_divisible`).
        static func divisible(_ v: Int, by d: Int) -> Int {
            var n = max(d, (v + d / 2) / d * d)
            if 10 * n < 9 * v { n += d }
            return n
        }
    }

    static let mobileNetV3Large: [MobileBlock] = [
        .init(input: 16, kernel: 3, expanded: 16, output: 16, se: false, hardswish: false, stride: 1),
        .init(input: 16, kernel: 3, expanded: 64, output: 24, se: false, hardswish: false, stride: 2),
        .init(input: 24, kernel: 3, expanded: 72, output: 24, se: false, hardswish: false, stride: 1),
        .init(input: 24, kernel: 5, expanded: 72, output: 40, se: true, hardswish: false, stride: 2),
        .init(input: 40, kernel: 5, expanded: 120, output: 40, se: true, hardswish: false, stride: 1),
        .init(input: 40, kernel: 5, expanded: 120, output: 40, se: true, hardswish: false, stride: 1),
        .init(input: 40, kernel: 3, expanded: 240, output: 80, se: false, hardswish: true, stride: 2),
        .init(input: 80, kernel: 3, expanded: 200, output: 80, se: false, hardswish: true, stride: 1),
        .init(input: 80, kernel: 3, expanded: 184, output: 80, se: false, hardswish: true, stride: 1),
        .init(input: 80, kernel: 3, expanded: 184, output: 80, se: false, hardswish: true, stride: 1),
        .init(input: 80, kernel: 3, expanded: 480, output: 112, se: true, hardswish: true, stride: 1),
        .init(input: 112, kernel: 3, expanded: 672, output: 112, se: true, hardswish: true, stride: 1),
        .init(input: 112, kernel: 5, expanded: 672, output: 160, se: true, hardswish: true, stride: 2),
        .init(input: 160, kernel: 5, expanded: 960, output: 160, se: true, hardswish: true, stride: 1),
        .init(input: 160, kernel: 5, expanded: 960, output: 160, se: true, hardswish: true, stride: 1),
    ]
    static let mobileNetStem = 16
    static let mobileNetLast = 960

    /// VGG-16's conv widths per stage (2x2 max pool between stages; conv5_3 at stride 16 is the map).
    static let vggStages = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]

    /// Anchor sizes per feature map and anchors per location.
    var anchorSizes: [[Int]] {
        switch body {
        case .resnet50: return [[32], [64], [128], [256], [512]]
        case .mobileNetV3Large: return Array(repeating: [32, 64, 128, 256, 512], count: 3)
        case .vgg16: return [[128, 256, 512]]
        }
    }

    var anchorsPerLocation: Int { anchorSizes[0].count * 3 }

    /// Channels of the maps the heads see.
    var featureChannels: Int { body == .vgg16 ? 512 : Self.fpnChannels }

    /// Width of the box head's output (fc7).
    var representationSize: Int { body == .vgg16 ? 4096 : 1024 }
}

/// A keypoint head read from a checkpoint: its conv widths and the number of keypoints.
public struct KeypointShape: Equatable, Sendable {
    public var layers: [Int]
    public var count: Int
}

/// The builder options `rcnn import` lets a user override, as the Python converter's flags do.
public struct TorchvisionOptions: Equatable, Sendable {
    public var minSize: Int
    public var maxSize: Int
    public var rpnPreNmsTopNTest: Int
    public var rpnPostNmsTopNTest: Int
    public var rpnNmsThresh: Double
    public var rpnScoreThresh: Double
    public var boxScoreThresh: Double
    public var boxNmsThresh: Double
    public var boxDetectionsPerImg: Int
}
