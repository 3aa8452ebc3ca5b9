import Foundation

/// The model config (Docs/model-config.md) the Python converter writes for a torchvision
/// architecture, field for field and in the same order, so `rcnn import` and
/// Tools/convert_torchvision.py write the same file apart from `producer`.
struct TorchvisionConfig {
    static let formatVersion = 1
    static let imageMean = [0.485, 0.456, 0.406]
    static let imageStd = [0.229, 0.224, 0.225]

    let arch: TorchvisionArchitecture
    let name: String
    let classes: [String]
    let options: TorchvisionOptions
    /// The batch-norm eps of the backbone body (`--backbone-bn-eps`), else the builder's 1e-5.
    let backboneNormEps: Double?
    let producer: String
    /// The keypoint head and its names and skeleton (keypoint models).
    var keypoints: KeypointShape? = nil
    var keypointNames: [String] = []
    var keypointSkeleton: [[Int]] = []

    func json(weightsSha256: String) -> PythonJSON {
        let numClasses = classes.count
        var cfg: [(String, PythonJSON)] = [
            ("format_version", .int(Self.formatVersion)),
            ("name", .string(name)),
            ("architecture", .string(arch.rawValue)),
            ("task", .string(arch.hasMasks ? "instance_segmentation" : "detection")),
            ("weights", .string("\(name).safetensors")),
            ("weights_sha256", .string(weightsSha256)),
            ("producer", .string(producer)),
            ("classes", .strings(classes)),
            ("transform", .object([
                ("min_size", .int(options.minSize)),
                ("max_size", .int(options.maxSize)),
                ("image_mean", .floats(Self.imageMean)),
                ("image_std", .floats(Self.imageStd)),
                ("size_divisible", .int(32)),
            ])),
            ("backbone", backbone),
            ("fpn", fpn),
            ("feature_names", .strings(featureNames)),
            ("feature_strides", .ints(featureStrides)),
            ("anchor_generator", .object([
                ("sizes", .array(arch.anchorSizes.map { .ints($0) })),
                ("aspect_ratios", .array(arch.anchorSizes.map { _ in .floats([0.5, 1.0, 2.0]) })),
            ])),
            ("rpn", .object([
                ("conv_depth", .int(arch.isV2 ? 2 : 1)),
                ("pre_nms_top_n_test", .int(options.rpnPreNmsTopNTest)),
                ("post_nms_top_n_test", .int(options.rpnPostNmsTopNTest)),
                ("nms_thresh", .float(options.rpnNmsThresh)),
                ("score_thresh", .float(options.rpnScoreThresh)),
                ("min_size", .float(1e-3)),
                ("box_coder_weights", .floats([1, 1, 1, 1])),
            ])),
            ("box_roi_pool", roiPool(outputSize: 7)),
            ("box_head", boxHead),
            ("box_predictor", .object([("in_channels", .int(arch.representationSize)), ("num_classes", .int(numClasses))])),
            ("box_coder_weights", .floats([10, 10, 5, 5])),
            // torchvision's clip: log(1000 / 16), the largest log-scale a box delta may have.
            ("box_coder_clip", .float(Foundation.log(1000.0 / 16.0))),
            ("box_score_thresh", .float(options.boxScoreThresh)),
            ("box_nms_thresh", .float(options.boxNmsThresh)),
            ("box_detections_per_img", .int(options.boxDetectionsPerImg)),
        ]
        if arch.hasMasks {
            let norm = norm(arch.isV2)
            cfg += [
                ("mask_roi_pool", roiPool(outputSize: 14)),
                ("mask_head", .object([
                    ("layers", .ints([256, 256, 256, 256])), ("dilation", .int(1)), ("norm", norm.0), ("norm_eps", norm.1),
                ])),
                ("mask_predictor", .object([("in_channels", .int(256)), ("dim_reduced", .int(256))])),
            ]
        }
        if arch.hasKeypoints, let keypoints {
            let coco = keypointNames == COCOKeypoints.names
            cfg += [
                ("keypoint_roi_pool", roiPool(outputSize: 14)),
                ("keypoint_head", .object([("layers", .ints(keypoints.layers))])),
                ("keypoint_predictor", .object([("in_channels", .int(keypoints.layers.last ?? 0)), ("num_keypoints", .int(keypoints.count))])),
                ("keypoint_names", .strings(keypointNames)),
                ("keypoint_skeleton", .array(keypointSkeleton.map { .ints($0) })),
                ("keypoint_sigmas", coco ? .floats(COCOKeypoints.sigmas) : .null),
            ]
        }
        return .object(cfg)
    }

    private func norm(_ present: Bool, eps: Double = 1e-5) -> (PythonJSON, PythonJSON) {
        present ? (.string("batchnorm"), .float(eps)) : (.null, .null)
    }

    private var featureNames: [String] {
        switch arch.body {
        case .resnet50: return ["0", "1", "2", "3", "pool"]
        case .mobileNetV3Large: return ["0", "1", "pool"]
        case .vgg16: return ["0"]
        }
    }

    private var featureStrides: [Int] {
        switch arch.body {
        case .resnet50: return [4, 8, 16, 32, 64]
        case .mobileNetV3Large: return [32, 32, 64]
        case .vgg16: return [16]
        }
    }

    private var backbone: PythonJSON {
        let eps = backboneNormEps ?? 1e-5
        switch arch.body {
        case .resnet50:
            return .object([
                ("type", .string("resnet")), ("block", .string("bottleneck")), ("layers", .ints([3, 4, 6, 3])),
                ("stem_channels", .int(64)), ("groups", .int(1)), ("width_per_group", .int(64)),
                ("norm", .string("batchnorm")), ("norm_eps", .float(eps)),
                ("return_layers", .object([("layer1", .string("0")), ("layer2", .string("1")),
                                           ("layer3", .string("2")), ("layer4", .string("3"))])),
            ])
        case .mobileNetV3Large:
            let blocks: [PythonJSON] = TorchvisionArchitecture.mobileNetV3Large.map { b in
                .object([
                    ("input_channels", .int(b.input)), ("kernel", .int(b.kernel)),
                    ("expanded_channels", .int(b.expanded)), ("out_channels", .int(b.output)),
                    ("use_se", .bool(b.se)), ("se_channels", b.se ? .int(b.seChannels) : .null),
                    ("activation", .string(b.hardswish ? "hardswish" : "relu")),
                    ("stride", .int(b.stride)), ("dilation", .int(1)), ("residual", .bool(b.residual)),
                ])
            }
            return .object([
                ("type", .string("mobilenet_v3")), ("variant", .string("mobilenet_v3_large")),
                ("stem_channels", .int(TorchvisionArchitecture.mobileNetStem)), ("stem_activation", .string("hardswish")),
                ("last_channels", .int(TorchvisionArchitecture.mobileNetLast)), ("last_activation", .string("hardswish")),
                ("blocks", .array(blocks)),
                ("norm", .string("batchnorm")), ("norm_eps", .float(eps)),
                ("return_layers", .object([("13", .string("0")), ("16", .string("1"))])),
            ])
        case .vgg16:
            return .object([
                ("type", .string("vgg")),
                ("stages", .array(TorchvisionArchitecture.vggStages.map { .ints($0) })),
                ("return_layers", .object([("29", .string("0"))])),
                ("norm", .null), ("norm_eps", .null),
            ])
        }
    }

    private var fpn: PythonJSON {
        let inChannels: [Int]
        switch arch.body {
        case .resnet50: inChannels = [256, 512, 1024, 2048]
        case .mobileNetV3Large: inChannels = [160, 960]
        case .vgg16: return .null
        }
        let norm = norm(arch.isV2)
        return .object([
            ("in_channels", .ints(inChannels)), ("out_channels", .int(TorchvisionArchitecture.fpnChannels)),
            ("norm", norm.0), ("norm_eps", norm.1), ("extra_block", .string("max_pool")),
        ])
    }

    private func roiPool(outputSize: Int) -> PythonJSON {
        switch arch.body {
        case .vgg16:
            return .object([("type", .string("roi_pool")), ("featmap_names", .strings(["0"])),
                            ("output_size", .int(outputSize)), ("spatial_scale", .float(1.0 / 16.0))])
        case .resnet50, .mobileNetV3Large:
            // The FPN maps the pooler reads: all but "pool" (MobileNet's FPN has only "0" and "1").
            let names = featureNames.filter { $0 != "pool" }
            return .object([("type", .string("roi_align")), ("featmap_names", .strings(names)),
                            ("output_size", .int(outputSize)), ("sampling_ratio", .int(2)),
                            ("canonical_scale", .int(224)), ("canonical_level", .int(4))])
        }
    }

    private var boxHead: PythonJSON {
        if arch.isV2 {
            return .object([("type", .string("conv_fc")), ("conv_layers", .ints([256, 256, 256, 256])),
                            ("fc_layers", .ints([1024])), ("norm", .string("batchnorm")), ("norm_eps", .float(1e-5))])
        }
        return .object([("type", .string("two_mlp")), ("representation_size", .int(arch.representationSize))])
    }
}
