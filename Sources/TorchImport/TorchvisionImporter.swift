import Detection
import Foundation

/// `rcnn import`: turns a torchvision checkpoint (zip or legacy `torch.save`, a training checkpoint,
/// or safetensors with torchvision's names) into the project's model files, `NAME.json` and
/// `NAME.safetensors`, identical to what Tools/convert_torchvision.py writes for the same checkpoint
/// (the same tensors in the same order, bit for bit, and the same config apart from `producer`).
public struct TorchvisionImporter {
    public struct Request {
        public var arch: TorchvisionArchitecture
        public var checkpoint: URL
        public var name: String
        public var outputDirectory: URL
        /// One class name per line, `numClasses` or `numClasses - 1` lines (then "__background__" is
        /// prepended).
        public var classesFile: URL?
        /// Keypoint names, one per line (keypoint models); default: COCO's person keypoints and
        /// skeleton for 17, `keypoint_N` otherwise.
        public var keypointNamesFile: URL?
        /// Builder options; nil fields keep the architecture's defaults.
        public var minSize: Int?
        public var maxSize: Int?
        public var rpnPreNmsTopNTest: Int?
        public var rpnPostNmsTopNTest: Int?
        public var rpnNmsThresh: Double?
        public var rpnScoreThresh: Double?
        public var boxScoreThresh: Double?
        public var boxNmsThresh: Double?
        public var boxDetectionsPerImg: Int?
        public var backboneBnEps: Double?
        /// Check torchvision's file-name hash convention (`NAME-<hex>.pth`).
        public var verifyFileNameHash = true

        public init(arch: TorchvisionArchitecture, checkpoint: URL, name: String, outputDirectory: URL) {
            self.arch = arch
            self.checkpoint = checkpoint
            self.name = name
            self.outputDirectory = outputDirectory
        }
    }

    public struct Result {
        public let configURL: URL
        public let weightsURL: URL
        public let format: TorchCheckpoint.Format
        public let location: String
        public let classes: [String]
        public let tensorCount: Int
        public let valueCount: Int
        public let weightsSha256: String
        /// Remarks for the user (e.g. the eps of torchvision's COCO v1 weights).
        public let notes: [String]
    }

    public static let producer = "rcnn import"

    public static func run(_ r: Request) throws -> Result {
        try validate(r)
        if r.verifyFileNameHash { try FileNameHash.verify(r.checkpoint) }
        let checkpoint = try TorchCheckpoint(url: r.checkpoint)
        var tensors = checkpoint.entries
        var versions = checkpoint.versions
        // DataParallel / DistributedDataParallel prefix every key with "module.".
        if tensors.allSatisfy({ $0.name.hasPrefix("module.") }) {
            tensors = tensors.map { .init(name: String($0.name.dropFirst(7)), dtype: $0.dtype, shape: $0.shape, values: $0.values) }
            versions = Dictionary(versions.map { ($0.key.hasPrefix("module.") ? String($0.key.dropFirst(7)) : $0.key, $0.value) },
                                  uniquingKeysWith: { a, _ in a })
        }
        let classKey = "roi_heads.box_predictor.cls_score.weight"
        guard let cls = tensors.first(where: { $0.name == classKey }) else {
            throw CheckpointError(.invalid, "no '\(classKey)' in the state dict, so the number of classes is unknown (is this a Faster/Mask R-CNN state dict?)")
        }
        guard let numClasses = cls.shape.first, numClasses >= 1, cls.shape.count == 2 else {
            throw CheckpointError(.invalid, "'\(classKey)' has shape \(cls.shape); expected [num_classes, features]")
        }
        let keypoints = try keypointShape(tensors, arch: r.arch)
        if keypoints == nil && r.keypointNamesFile != nil {
            throw CheckpointError(.invalid, "--keypoint-names is for keypoint models")
        }
        let classes = try resolveClasses(numClasses, file: r.classesFile, keypoints: keypoints != nil)
        let (keypointNames, skeleton) = try keypoints.map { try resolveKeypoints($0.count, file: r.keypointNamesFile) } ?? ([], [])
        let upgraded = LegacyNames.upgrade(tensors, arch: r.arch, versions: versions)
        let ordered = try match(upgraded, TorchvisionLayout(r.arch, numClasses: numClasses, keypoints: keypoints))

        var options = r.arch.defaults
        if let v = r.minSize { options.minSize = v }
        if let v = r.maxSize { options.maxSize = v }
        if let v = r.rpnPreNmsTopNTest { options.rpnPreNmsTopNTest = v }
        if let v = r.rpnPostNmsTopNTest { options.rpnPostNmsTopNTest = v }
        if let v = r.rpnNmsThresh { options.rpnNmsThresh = v }
        if let v = r.rpnScoreThresh { options.rpnScoreThresh = v }
        if let v = r.boxScoreThresh { options.boxScoreThresh = v }
        if let v = r.boxNmsThresh { options.boxNmsThresh = v }
        if let v = r.boxDetectionsPerImg { options.boxDetectionsPerImg = v }

        var notes: [String] = []
        if r.backboneBnEps == nil, r.arch.publishedWithZeroEps, !tensors.contains(where: { $0.name.hasSuffix("num_batches_tracked") }) {
            notes.append("the checkpoint has no num_batches_tracked (FrozenBatchNorm2d weights); if it is torchvision's COCO_V1 checkpoint, pass --backbone-bn-eps 0 to match torchvision")
        }

        try FileManager.default.createDirectory(at: r.outputDirectory, withIntermediateDirectories: true)
        let weightsURL = r.outputDirectory.appendingPathComponent("\(r.name).safetensors")
        let configURL = r.outputDirectory.appendingPathComponent("\(r.name).json")
        let sha = try SafeTensorsWriter.write(
            ordered, metadata: [("format", "pt"), ("architecture", r.arch.rawValue), ("name", r.name)], to: weightsURL)
        var config = TorchvisionConfig(arch: r.arch, name: r.name, classes: classes, options: options,
                                       backboneNormEps: r.backboneBnEps, producer: producer)
        config.keypoints = keypoints
        config.keypointNames = keypointNames
        config.keypointSkeleton = skeleton
        let text = config.json(weightsSha256: sha).configText() + "\n"
        let tmp = configURL.appendingPathExtension("tmp")
        try Data(text.utf8).write(to: tmp)
        guard rename(tmp.path, configURL.path) == 0 else {
            throw CheckpointError(.invalid, "cannot move \(tmp.path) to \(configURL.path): \(String(cString: strerror(errno)))")
        }
        return Result(configURL: configURL, weightsURL: weightsURL, format: checkpoint.format, location: checkpoint.location,
                      classes: classes, tensorCount: ordered.count, valueCount: ordered.reduce(0) { $0 + $1.values.count },
                      weightsSha256: sha, notes: notes)
    }

    private static func validate(_ r: Request) throws {
        guard !r.name.isEmpty, !r.name.contains("/"), r.name != ".", r.name != ".." else {
            throw CheckpointError(.invalid, "--name '\(r.name)' must be a file name (no '/')")
        }
        for (flag, v) in [("--rpn-nms-thresh", r.rpnNmsThresh), ("--rpn-score-thresh", r.rpnScoreThresh),
                          ("--box-score-thresh", r.boxScoreThresh), ("--box-nms-thresh", r.boxNmsThresh),
                          ("--backbone-bn-eps", r.backboneBnEps)] {
            if let v, !v.isFinite { throw CheckpointError(.invalid, "\(flag) must be a finite number") }
        }
    }

    /// The keypoint head of a keypoint architecture's checkpoint: conv widths from
    /// `roi_heads.keypoint_head.{0,2,4,...}.weight`, the count from the predictor. Nil for other
    /// architectures; a checkpoint with keypoint weights for an architecture without them is refused.
    static func keypointShape(_ tensors: [TorchCheckpoint.Entry], arch: TorchvisionArchitecture) throws -> KeypointShape? {
        let byName = Dictionary(tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        let predictorKey = "roi_heads.keypoint_predictor.kps_score_lowres.weight"
        guard arch.hasKeypoints else {
            if byName[predictorKey] != nil {
                throw CheckpointError(.invalid, "the checkpoint has a keypoint head, but --arch \(arch.rawValue) has none (use keypointrcnn_resnet50_fpn)")
            }
            return nil
        }
        guard let p = byName[predictorKey], p.count == 4, (1...1024).contains(p[1]) else {
            throw CheckpointError(.invalid, "no usable '\(predictorKey)' (shape [in, keypoints, 4, 4]) for --arch \(arch.rawValue)")
        }
        var layers: [Int] = []
        while let w = byName["roi_heads.keypoint_head.\(2 * layers.count).weight"] {
            guard w.count == 4, w[0] >= 1, layers.count < 64 else {
                throw CheckpointError(.invalid, "'roi_heads.keypoint_head.\(2 * layers.count).weight' has shape \(w)")
            }
            layers.append(w[0])
        }
        guard !layers.isEmpty else { throw CheckpointError(.invalid, "a keypoint predictor without roi_heads.keypoint_head convs") }
        return KeypointShape(layers: layers, count: p[1])
    }

    /// Keypoint names from `file` (no skeleton), else COCO's person keypoints and skeleton for 17,
    /// else `keypoint_N`.
    static func resolveKeypoints(_ count: Int, file: URL?) throws -> ([String], [[Int]]) {
        if let file {
            let names = try lines(of: file, what: "keypoint names")
            guard names.count == count else {
                throw CheckpointError(.invalid, "\(file.path): \(names.count) keypoint names, but the model predicts \(count)")
            }
            return (names, [])
        }
        if count == COCOKeypoints.names.count { return (COCOKeypoints.names, COCOKeypoints.skeleton) }
        return ((0..<count).map { "keypoint_\($0)" }, [])
    }

    private static func lines(of file: URL, what: String) throws -> [String] {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw CheckpointError(.invalid, "cannot read the \(what) \(file.path): \(error.localizedDescription)")
        }
        return text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" })
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    static func resolveClasses(_ numClasses: Int, file: URL?, keypoints: Bool = false) throws -> [String] {
        if let file {
            let text: String
            do { text = try String(contentsOf: file, encoding: .utf8) } catch {
                throw CheckpointError(.invalid, "cannot read the class names \(file.path): \(error.localizedDescription)")
            }
            var names = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" })
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
            if names.count == numClasses - 1 { names.insert("__background__", at: 0) }
            guard names.count == numClasses else {
                throw CheckpointError(.invalid, "\(file.path): \(names.count) class names, but the model has num_classes=\(numClasses) (background included); give \(numClasses) or \(numClasses - 1) lines")
            }
            return names
        }
        if numClasses == COCOCategories.names.count { return COCOCategories.names }
        if keypoints && numClasses == 2 { return ["__background__", "person"] }
        return ["__background__"] + (1..<max(numClasses, 1)).map { "class_\($0)" }
    }

    /// The checkpoint's tensors in the layout's order, after checking that the names and shapes are
    /// exactly the architecture's (`num_batches_tracked` counters may be present or not).
    static func match(_ tensors: [TorchCheckpoint.Entry], _ layout: TorchvisionLayout) throws -> [(name: String, shape: [Int], values: [Float])] {
        var byName: [String: TorchCheckpoint.Entry] = [:]
        for t in tensors where !t.name.hasSuffix("num_batches_tracked") { byName[t.name] = t }
        let expected = Set(layout.entries.map(\.name))
        var problems: [String] = []
        let missing = layout.entries.map(\.name).filter { byName[$0] == nil }
        let unexpected = tensors.map(\.name).filter { !$0.hasSuffix("num_batches_tracked") && !expected.contains($0) }
        for e in layout.entries {
            guard let t = byName[e.name] else { continue }
            if t.shape != e.shape { problems.append("\(e.name): checkpoint \(t.shape) vs model \(e.shape)") }
            else if t.values == nil { problems.append("\(e.name): dtype \(t.dtype), expected a floating-point tensor") }
        }
        if !missing.isEmpty { problems.append("missing keys (\(missing.count)): " + list(missing)) }
        if !unexpected.isEmpty { problems.append("unexpected keys (\(unexpected.count)): " + list(unexpected)) }
        guard problems.isEmpty else {
            throw CheckpointError(.invalid, "the state dict does not match the architecture:\n  " + problems.joined(separator: "\n  "))
        }
        return layout.entries.map { ($0.name, $0.shape, byName[$0.name]!.values!) }
    }

    private static func list(_ names: [String]) -> String {
        names.count <= 12 ? names.joined(separator: ", ") : names.prefix(12).joined(separator: ", ") + ", ... (\(names.count - 12) more)"
    }
}
