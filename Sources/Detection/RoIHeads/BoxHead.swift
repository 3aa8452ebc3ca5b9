import Tensor

/// The box head on pooled RoI features, as torchvision builds it: `TwoMLPHead` (flatten, fc6+ReLU,
/// fc7+ReLU; Fast R-CNN, section 2) or `FastRCNNConvFCHead` (the v2 models: 3x3 conv+BN+ReLU layers,
/// flatten, fc+ReLU layers), followed by the `FastRCNNPredictor` (class logits and per-class deltas).
/// Immutable; thread-safe.
struct BoxHead: Sendable {
    let convs: [Conv2d]
    private(set) var fcs: [Linear]
    let clsScore: Linear
    let bboxPred: Linear

    init(loader: LayerLoader, config: ModelConfig, channels: Int) throws {
        let pool = config.boxRoiPool.outputSize
        let head = config.boxHead
        var convs: [Conv2d] = [], fcs: [Linear] = []
        if head.type == "two_mlp" {
            guard let rep = head.representationSize else {
                throw WeightsError.invalidConfig(file: loader.path, reason: "two_mlp box head needs representation_size")
            }
            fcs.append(try loader.linear("roi_heads.box_head.fc6", in: channels * pool * pool, out: rep, activation: .relu,
                                         pooled: (channels, pool * pool)))
            fcs.append(try loader.linear("roi_heads.box_head.fc7", in: rep, out: rep, activation: .relu))
        } else {
            let convLayers = head.convLayers ?? [], fcLayers = head.fcLayers ?? []
            var index = 0, c = channels
            for width in convLayers {
                convs.append(try loader.convNormAct("roi_heads.box_head.\(index)", norm: head.norm != nil, in: c, out: width, kernel: 3, activation: .relu))
                c = width
                index += 1
            }
            index += 1   // nn.Flatten
            var features = c * pool * pool
            for width in fcLayers {
                fcs.append(try loader.linear("roi_heads.box_head.\(index)", in: features, out: width, activation: .relu))
                features = width
                index += 2   // Linear, ReLU
            }
        }
        let predictorIn = fcs.last?.outFeatures ?? channels * pool * pool
        let numClasses = config.boxPredictor.numClasses
        clsScore = try loader.linear("roi_heads.box_predictor.cls_score", in: predictorIn, out: numClasses)
        bboxPred = try loader.linear("roi_heads.box_predictor.bbox_pred", in: predictorIn, out: numClasses * 4)
        self.convs = convs
        self.fcs = fcs
    }

    /// The same head with each fully connected layer of the representation (fc6, fc7, ...) replaced
    /// by its truncated SVD (Fast R-CNN, section 3.1); `settings[i]` applies to the i-th layer, the
    /// last setting to any further layers. The predictor layers stay as they are.
    func truncated(_ settings: [TruncatedSVD.Setting]) throws -> (head: BoxHead, reports: [TruncatedSVD.Report]) {
        guard !settings.isEmpty else { return (self, []) }
        var head = self, layers: [Linear] = [], reports: [TruncatedSVD.Report] = []
        for (i, fc) in fcs.enumerated() {
            let (first, second, report) = try TruncatedSVD.factor(fc, setting: settings[min(i, settings.count - 1)])
            layers += [first, second]
            reports.append(report)
        }
        head.fcs = layers
        return (head, reports)
    }

    /// Pooled features `[R, C, 7, 7]` to class logits `[R, K]` and deltas `[R, 4K]`.
    func callAsFunction(_ pooled: Tensor) -> (logits: Tensor, deltas: Tensor) {
        var x = Conv2d.sequence(convs, pooled)
        x.reshape([x.shape[0], x.count / max(1, x.shape[0])])
        for fc in fcs { x = fc(x) }
        return (clsScore(x), bboxPred(x))
    }

    /// The first layer when it reads RoIAlign's samples as levels, bins-major (an int8 fc6 of a
    /// two-MLP head): its input quantization and row stride; nil otherwise, or while chains cannot
    /// run (calibration observes every layer's float input; `RCNN_INT8_CHAINS=0` compares).
    var levelsInput: (quantization: ActivationQuantization, rowBytes: Int)? {
        guard convs.isEmpty, Conv2d.chaining, Linear.inputObserver == nil, let first = fcs.first,
              let int8 = first.int8, int8.pooled != nil else { return nil }
        return (int8.input, int8.weights.paddedK)
    }

    /// `callAsFunction` on `rows` rows of pooled levels laid out as `levelsInput` says: the same
    /// bits as pooling into floats and quantizing them in the first layer.
    func callAsFunction(levels: UnsafePointer<UInt8>, rows: Int) -> (logits: Tensor, deltas: Tensor) {
        let first = fcs[0]
        var x = first.int8!(levels: levels, rows: rows, activation: first.activation)
        for fc in fcs.dropFirst() { x = fc(x) }
        return (clsScore(x), bboxPred(x))
    }
}
