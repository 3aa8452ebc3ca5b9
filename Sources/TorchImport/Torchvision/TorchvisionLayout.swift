/// The state dict a torchvision builder's model has (`weights=None`), as `model.state_dict()` lists
/// it: every parameter and buffer name with its shape, in module registration order, without the
/// `num_batches_tracked` counters (the converter drops them). The importer checks a checkpoint
/// against it and writes the tensors in this order, as the Python converter does.
struct TorchvisionLayout {
    private(set) var entries: [(name: String, shape: [Int])] = []

    init(_ arch: TorchvisionArchitecture, numClasses: Int, keypoints: KeypointShape? = nil) {
        switch arch.body {
        case .resnet50: resnet50(prefix: "backbone.body.")
        case .mobileNetV3Large: mobileNetV3Large(prefix: "backbone.body.")
        case .vgg16: vgg16(prefix: "backbone.body.")
        }
        let fpnNorm = arch.isV2
        switch arch.body {
        case .resnet50: fpn(prefix: "backbone.fpn.", inChannels: [256, 512, 1024, 2048], norm: fpnNorm)
        case .mobileNetV3Large: fpn(prefix: "backbone.fpn.", inChannels: [160, 960], norm: fpnNorm)
        case .vgg16: break
        }
        let c = arch.featureChannels
        let a = arch.anchorsPerLocation
        for d in 0..<(arch.isV2 ? 2 : 1) { conv("rpn.head.conv.\(d).0.", out: c, in: c, k: 3, bias: true) }
        conv("rpn.head.cls_logits.", out: a, in: c, k: 1, bias: true)
        conv("rpn.head.bbox_pred.", out: 4 * a, in: c, k: 1, bias: true)

        let rep = arch.representationSize
        if arch.isV2 {
            for i in 0..<4 {
                conv("roi_heads.box_head.\(i).0.", out: c, in: c, k: 3, bias: false)
                batchNorm("roi_heads.box_head.\(i).1.", c)
            }
            linear("roi_heads.box_head.5.", out: rep, in: c * 7 * 7)
        } else {
            linear("roi_heads.box_head.fc6.", out: rep, in: c * 7 * 7)
            linear("roi_heads.box_head.fc7.", out: rep, in: rep)
        }
        linear("roi_heads.box_predictor.cls_score.", out: numClasses, in: rep)
        linear("roi_heads.box_predictor.bbox_pred.", out: 4 * numClasses, in: rep)

        if arch.hasMasks {
            for i in 0..<4 {
                conv("roi_heads.mask_head.\(i).0.", out: c, in: c, k: 3, bias: !arch.isV2)
                if arch.isV2 { batchNorm("roi_heads.mask_head.\(i).1.", c) }
            }
            add("roi_heads.mask_predictor.conv5_mask.weight", [c, c, 2, 2])   // ConvTranspose2d: [in, out, kh, kw]
            add("roi_heads.mask_predictor.conv5_mask.bias", [c])
            conv("roi_heads.mask_predictor.mask_fcn_logits.", out: numClasses, in: c, k: 1, bias: true)
        }
        if arch.hasKeypoints, let keypoints {
            // KeypointRCNNHeads: conv3x3 + ReLU pairs, so the convs sit at 0, 2, 4, ...
            var channels = c
            for (i, width) in keypoints.layers.enumerated() {
                conv("roi_heads.keypoint_head.\(2 * i).", out: width, in: channels, k: 3, bias: true)
                channels = width
            }
            add("roi_heads.keypoint_predictor.kps_score_lowres.weight", [channels, keypoints.count, 4, 4])   // [in, out, kh, kw]
            add("roi_heads.keypoint_predictor.kps_score_lowres.bias", [keypoints.count])
        }
    }

    private mutating func add(_ name: String, _ shape: [Int]) { entries.append((name, shape)) }

    private mutating func conv(_ p: String, out: Int, in: Int, k: Int, bias: Bool) {
        add(p + "weight", [out, `in`, k, k])
        if bias { add(p + "bias", [out]) }
    }

    private mutating func linear(_ p: String, out: Int, in: Int) {
        add(p + "weight", [out, `in`])
        add(p + "bias", [out])
    }

    private mutating func batchNorm(_ p: String, _ c: Int) {
        for n in ["weight", "bias", "running_mean", "running_var"] { add(p + n, [c]) }
    }

    /// ResNet-50: conv1, bn1, then four stages of bottlenecks (conv1 1x1, conv2 3x3, conv3 1x1
    /// with 4x expansion, each followed by its batch norm; a 1x1 downsample in each stage's first).
    private mutating func resnet50(prefix: String) {
        conv(prefix + "conv1.", out: 64, in: 3, k: 7, bias: false)
        batchNorm(prefix + "bn1.", 64)
        var inplanes = 64
        for (s, stage) in TorchvisionArchitecture.resnetStages.enumerated() {
            let width = stage.planes, out = stage.planes * 4
            for b in 0..<stage.blocks {
                let p = "\(prefix)layer\(s + 1).\(b)."
                conv(p + "conv1.", out: width, in: inplanes, k: 1, bias: false)
                batchNorm(p + "bn1.", width)
                conv(p + "conv2.", out: width, in: width, k: 3, bias: false)
                batchNorm(p + "bn2.", width)
                conv(p + "conv3.", out: out, in: width, k: 1, bias: false)
                batchNorm(p + "bn3.", out)
                if b == 0 {
                    conv(p + "downsample.0.", out: out, in: inplanes, k: 1, bias: false)
                    batchNorm(p + "downsample.1.", out)
                }
                inplanes = out
            }
        }
    }

    /// MobileNetV3-Large features 0-16: the stem conv, the 15 inverted residuals (expand 1x1 when
    /// widened, depthwise kxk, squeeze-excitation fc1/fc2 with biases, project 1x1), the last 1x1.
    private mutating func mobileNetV3Large(prefix: String) {
        let stem = TorchvisionArchitecture.mobileNetStem
        conv(prefix + "0.0.", out: stem, in: 3, k: 3, bias: false)
        batchNorm(prefix + "0.1.", stem)
        for (i, b) in TorchvisionArchitecture.mobileNetV3Large.enumerated() {
            let p = "\(prefix)\(i + 1).block."
            var j = 0
            if b.expanded != b.input {
                conv("\(p)\(j).0.", out: b.expanded, in: b.input, k: 1, bias: false)
                batchNorm("\(p)\(j).1.", b.expanded)
                j += 1
            }
            add("\(p)\(j).0.weight", [b.expanded, 1, b.kernel, b.kernel])
            batchNorm("\(p)\(j).1.", b.expanded)
            j += 1
            if b.se {
                conv("\(p)\(j).fc1.", out: b.seChannels, in: b.expanded, k: 1, bias: true)
                conv("\(p)\(j).fc2.", out: b.expanded, in: b.seChannels, k: 1, bias: true)
                j += 1
            }
            conv("\(p)\(j).0.", out: b.output, in: b.expanded, k: 1, bias: false)
            batchNorm("\(p)\(j).1.", b.output)
        }
        let last = TorchvisionArchitecture.mobileNetLast
        let n = TorchvisionArchitecture.mobileNetV3Large.count + 1
        conv("\(prefix)\(n).0.", out: last, in: TorchvisionArchitecture.mobileNetV3Large.last!.output, k: 1, bias: false)
        batchNorm("\(prefix)\(n).1.", last)
    }

    /// VGG-16's 13 convs, named by their index in torchvision's `vgg16().features`.
    private mutating func vgg16(prefix: String) {
        var index = 0
        var channels = 3
        for stage in TorchvisionArchitecture.vggStages {
            for width in stage {
                conv("\(prefix)\(index).", out: width, in: channels, k: 3, bias: true)
                channels = width
                index += 2   // conv, ReLU
            }
            index += 1       // max pool
        }
    }

    /// The FPN: every inner (lateral 1x1) block, then every layer (output 3x3) block; convs carry a
    /// bias unless a batch norm follows them.
    private mutating func fpn(prefix: String, inChannels: [Int], norm: Bool) {
        let c = TorchvisionArchitecture.fpnChannels
        for (i, ch) in inChannels.enumerated() {
            conv("\(prefix)inner_blocks.\(i).0.", out: c, in: ch, k: 1, bias: !norm)
            if norm { batchNorm("\(prefix)inner_blocks.\(i).1.", c) }
        }
        for i in inChannels.indices {
            conv("\(prefix)layer_blocks.\(i).0.", out: c, in: c, k: 3, bias: !norm)
            if norm { batchNorm("\(prefix)layer_blocks.\(i).1.", c) }
        }
    }
}
