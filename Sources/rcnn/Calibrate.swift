import ArgumentParser
import Detection
import Foundation
import Imaging
import Tensor

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an int8 variant of a model, calibrated on your images.",
        discussion: """
        Runs the float32 model on up to --count images from --images (JPEG or PNG, in name order), \
        records the input range of every convolution and fully connected layer, and writes \
        NAME.json next to the source config: the same weights file, with a quantization table that \
        runs every dense and depthwise layer and the mask head's upsampling in int8 (weights per \
        output channel, inputs per tensor) except the first layer, other grouped convolutions, \
        transposed convolutions with overlapping taps and the layers given with --float; the RPN's \
        objectness and box layers read the RPN convolution's int8 levels with float32 weights \
        (--int8-rpn-outputs quantizes their weights too). The \
        variant is an \
        ordinary model: list it with `rcnn models`, serve it from the model directory, compare it \
        with `rcnn eval`.
        """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "Folder of calibration images (JPEG or PNG).")
    var images: String

    @Option(name: .long, help: "Images to use at most.")
    var count: Int = 64

    @Option(name: .long, help: "Name of the int8 variant; written as NAME.json beside the source config.")
    var out: String

    @Option(name: .long, help: "Range of each input: percentile or minmax.")
    var method: String = "percentile"

    @Option(name: .long, help: "Percentile of each side of a range (percentile method), in (50, 100]. Default: 99.999 with 8-bit activations, 99.995 with 7-bit.")
    var percentile: Double?

    @Option(name: .customLong("float"), parsing: .upToNextOption, help: "Layer names (as in the weights file) to keep in float32.")
    var floatLayers: [String] = []

    @Option(name: .customLong("float-weights"), parsing: .upToNextOption, help: "Layer names to run on int8 input levels with float32 weights; only the RPN's 1x1 objectness and box layers take it. Default: both of them (rpn.head.cls_logits, rpn.head.bbox_pred), whose outputs move every proposal; their multiply is a few percent of the RPN convolution's.")
    var floatWeightLayers: [String] = []

    @Flag(name: .customLong("int8-rpn-outputs"), help: "Quantize the RPN's objectness and box layers' weights too, instead of the default float32 weights on int8 levels.")
    var int8RPNOutputs = false

    /// The RPN's output layers, which keep float32 weights on int8 levels unless asked otherwise.
    static let rpnOutputLayers = ["rpn.head.cls_logits", "rpn.head.bbox_pred"]

    @Option(name: .customLong("weight-bits"), help: "Bits of the int8 layers' weight levels: 8 or 7. Default: 8, or 7 where this CPU's int8 multiply is AVX2 without VNNI and the activations are 8-bit (its 8 x 8-bit kernel runs at about float32 speed, 8-bit activations with 7-bit weights at its 7-bit speed). Every CPU computes the same results for any widths.")
    var weightBits: Int?

    @Option(name: .customLong("activation-bits"), help: "Bits of the activation levels: 8 (0...255: half the quantization step of 7, closer to float32) or 7 (0...127: with --weight-bits 7, the fastest AVX2 kernel on CPUs without VNNI).")
    var activationBits: Int = 8

    /// The weight width: as asked, else 8, or 7 where AVX2 would multiply 8-bit activations by
    /// 8-bit weights with its slow split kernel.
    static func defaultWeightBits(activationBits: Int) -> Int {
        Int8Kernels.path == .avx2 && activationBits == 8 ? 7 : 8
    }

    @Flag(name: .customLong("all-int8"), help: "Run every int8-capable layer in int8, even where float32 is faster on this CPU (by default each layer is timed both ways on its first input and kept float32 unless int8 is at least 10% faster, then the whole model is timed on the first image with that choice and with every layer in int8, and every layer in int8 is kept when it is at least 10% faster, since a float32 layer also breaks a chain of int8 layers; calibrate with the --threads you serve with).")
    var allInt8 = false

    @Flag(name: .customLong("int8-joins"), help: "Join ResNet residuals in int8: a block whose layers are all int8 runs on levels alone and adds its identity shortcut dequantized from its input's levels instead of the float32 tensor (records residual_joins: int8). Faster on ResNet backbones (no float32 block outputs are written or read back), at the cost of that quantization error on every shortcut; compare the variants with `rcnn compare` before you switch.")
    var int8Joins = false

    @Flag(name: .long, help: "Replace NAME.json when it exists.")
    var force = false

    func run() throws {
        guard let method = ActivationCalibrator.Method(rawValue: method) else {
            throw ValidationError("--method must be percentile or minmax")
        }
        guard count > 0 else { throw ValidationError("--count must be positive") }
        let weightBits = self.weightBits ?? Self.defaultWeightBits(activationBits: activationBits)
        guard PackedInt8Weights.weightBitChoices.contains(weightBits) else { throw ValidationError("--weight-bits must be 7 or 8") }
        guard ActivationQuantization.bitChoices.contains(activationBits) else { throw ValidationError("--activation-bits must be 7 or 8") }
        if let percentile, !(percentile > 50 && percentile <= 100) { throw ValidationError("--percentile must be in (50, 100]") }
        guard !out.isEmpty, out.range(of: #"^[A-Za-z0-9_.-]+$"#, options: .regularExpression) != nil, !out.hasPrefix(".") else {
            throw ValidationError("--out must be a model name (letters, digits, '_', '-', '.')")
        }
        let sourceURL = try model.configURL()
        let detector = try model.loadModel()
        guard detector.config.quantization == nil else {
            throw ValidationError("\(detector.name) is already int8; calibrate its float32 model")
        }
        let files = try Self.imageFiles(in: images).prefix(count)
        guard !files.isEmpty else { throw ValidationError("\(images): no .jpg, .jpeg or .png files") }
        let outURL = sourceURL.deletingLastPathComponent().appendingPathComponent(out + ".json")
        if FileManager.default.fileExists(atPath: outURL.path) && !force {
            throw ValidationError("\(outURL.path) exists (--force replaces it)")
        }
        if int8RPNOutputs && !floatWeightLayers.isEmpty {
            throw ValidationError("--int8-rpn-outputs and --float-weights: choose one")
        }
        if let both = Set(floatLayers).intersection(floatWeightLayers).sorted().first {
            throw ValidationError("\(both) is given with --float and --float-weights; choose one")
        }
        // Layers the model does not have are never marked, so the default needs no check.
        let floatWeights = !floatWeightLayers.isEmpty ? Set(floatWeightLayers)
            : int8RPNOutputs ? [] : Set(Self.rpnOutputLayers).subtracting(floatLayers)
        let calibrator = ActivationCalibrator(method: method, percentile: percentile, keepFloat: Set(floatLayers),
                                              floatWeights: floatWeights, chooseBySpeed: !allInt8,
                                              weightBits: weightBits, activationBits: activationBits)
        let start = Date()
        try calibrator.recording {
            for (i, file) in files.enumerated() {
                let image: RGBImage
                do { image = try ImageDecoder.decode(try Data(contentsOf: file)) } catch {
                    throw ValidationError("\(file.path): \(error)")
                }
                _ = detector.detect(image)
                FileHandle.standardError.write(Data("\rcalibrating: \(i + 1)/\(files.count) images".utf8))
            }
        }
        FileHandle.standardError.write(Data("\n".utf8))
        let unknown = Set(floatLayers).subtracting(calibrator.layerNames)
        if let name = unknown.sorted().first { throw ValidationError("--float \(name): the model ran no layer of that name") }
        if let name = Set(floatWeightLayers).subtracting(calibrator.layerNames).sorted().first {
            throw ValidationError("--float-weights \(name): the model ran no layer of that name")
        }
        var table = calibrator.configuration(source: detector.name, images: files.count)
        if int8Joins { table.residualJoins = "int8" }
        // The variant must load as written.
        func written(_ table: QuantizationConfig) throws -> DetectionModel {
            try Self.writeVariant(of: sourceURL, name: out, quantization: table, to: outURL)
            do { return try DetectionModel(configURL: outURL) } catch {
                try? FileManager.default.removeItem(at: outURL)
                throw ValidationError("the written variant does not load: \(error)")
            }
        }
        var variant = try written(table)
        var wholeModel: String?
        if !allInt8 {
            // Each layer was timed alone, which cannot see that a float32 layer between int8 layers
            // also breaks their chain (levels handed on without a float32 round trip): the whole
            // model decides between the per-layer choice and every layer in int8.
            var every = calibrator.configuration(source: detector.name, images: files.count, bySpeed: false)
            every.residualJoins = table.residualJoins
            if every.layers.count > table.layers.count {
                let image = try ImageDecoder.decode(try Data(contentsOf: files[files.startIndex]))
                let perLayer = variant
                let allLayers = try written(every)
                // Both start with OpenBLAS's workers stopped: the per-layer model's last float32
                // layers would otherwise leave them spinning into the other's run.
                let (a, b) = ActivationCalibrator.compare({ Self.probe(perLayer, image) }, { Self.probe(allLayers, image) },
                                                          beforeA: { BLAS.stopWorkerThreads() }, beforeB: { BLAS.stopWorkerThreads() })
                let keepAll = b < ActivationCalibrator.speedMargin * a
                wholeModel = String(format: "whole model on the first image: %.0f ms with the per-layer choice, %.0f ms with every layer in int8; kept %@",
                                    1000 * a, 1000 * b, keepAll ? "every layer in int8" : "the per-layer choice")
                if keepAll {
                    table = every
                    variant = allLayers
                } else {
                    // The per-layer table loaded above; write it back in place of the other.
                    try Self.writeVariant(of: sourceURL, name: out, quantization: table, to: outURL)
                }
            }
        }
        print("\(variant.name): int8 variant of \(detector.name), \(table.layers.count) int8 layers (\(table.effectiveWeightBits)-bit weights, \(table.effectiveActivationBits)-bit activations), \(table.floatLayers?.count ?? 0) float32 layers\(table.floatWeightsSummary); "
              + String(format: "%.1f%% of the calibration runs' multiply-adds in int8; %d images in %.1f s", 100 * calibrator.int8Share(of: table), files.count, Date().timeIntervalSince(start)))
        for f in table.floatLayers ?? [] { print("  float32: \(f.name) (\(f.reason))") }
        if let path = variant.backbone.residualPath {
            print("ResNet blocks: on levels, residuals joined " + (path.contains("int8") ? "in int8 (identity shortcuts from the input's levels)" : "on pixel rows with the float32 join's bits"))
        } else if int8Joins {
            print("--int8-joins: recorded, but this backbone joins its residuals in float32 (int8 joins need a ResNet with an FPN whose blocks and lateral layers are all int8)")
        }
        if !allInt8 {
            let (f, q, all) = calibrator.timedSeconds(of: table)
            print(String(format: "timed on the first image: the int8 layers take %.0f ms against %.0f ms in float32 (%.2fx); all timed layers %.0f ms in float32",
                         1000 * q, 1000 * f, q / max(1e-9, f), 1000 * all))
        }
        if let wholeModel { print(wholeModel) }
        if Int8Kernels.path == .avx2 {
            print("note: this CPU multiplies int8 with AVX2 (no VNNI): \(activationBits)-bit activations with \(weightBits)-bit weights"
                  + (activationBits == 8 && weightBits == 8 ? " take its split kernel, about twice the time of the others;" : ";")
                  + " --activation-bits 7 --weight-bits 7 runs fastest, about 1.2x faster than one 8-bit width")
        }
        print("wrote \(outURL.path)")
    }

    /// One detection run, for `ActivationCalibrator.compare`: the number of detections.
    static func probe(_ model: DetectionModel, _ image: RGBImage) -> Int {
        model.detect(image).detections.count
    }

    /// JPEG and PNG files directly in `folder`, by name.
    static func imageFiles(in folder: String) throws -> [URL] {
        let url = URL(fileURLWithPath: folder)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw ValidationError("\(folder): \(error.localizedDescription)")
        }
        return names.filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted().map { url.appendingPathComponent($0) }
    }

    /// The source config with a new name and the quantization table; every other key as it was.
    static func writeVariant(of source: URL, name: String, quantization: QuantizationConfig, to url: URL) throws {
        guard var dict = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any] else {
            throw ValidationError("\(source.path) is not a JSON object")
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        dict["name"] = name
        dict["quantization"] = try JSONSerialization.jsonObject(with: encoder.encode(quantization))
        let data = try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url, options: .atomic)
    }
}
