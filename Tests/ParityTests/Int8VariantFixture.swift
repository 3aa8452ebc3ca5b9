@testable import Detection
import Foundation
import Tensor
import TestSupport
import XCTest

/// A float32 model and an int8 table calibrated on it, as `rcnn calibrate --all-int8` makes one,
/// from which tests write int8 variants (to a temporary folder the test removes when it ends).
struct Int8VariantFixture {
    let float: DetectionModel
    var table: QuantizationConfig
    private let source: URL

    /// Calibrates `source`'s model with `run` (which drives the model while the calibrator records).
    init(source: URL, run: (DetectionModel) -> Void) throws {
        self.source = source
        float = try DetectionModel(configURL: source)
        let calibrator = ActivationCalibrator(chooseBySpeed: false)
        calibrator.recording { [float] in run(float) }
        table = calibrator.configuration(source: float.name, images: 1)
    }

    /// The ResNet-50 FPN parity fixture (`fasterrcnn_resnet50_fpn`) calibrated on one seeded random
    /// input through the backbone, the RPN head and the box head on 200 seeded boxes (every layer
    /// in int8 but the stem), with that input; nil (with the fixtures' XCTFail) where the fixtures
    /// are missing.
    static func resNet50() throws -> (fixture: Int8VariantFixture, x: Tensor)? {
        guard Fixtures.manifest("manifest.json") != nil else { return nil }
        let source = Fixtures.root.appendingPathComponent("fasterrcnn_resnet50_fpn/fasterrcnn_resnet50_fpn.json")
        var rng = SplitMix64(seed: 11)
        let x = Tensor(shape: [1, 3, 96, 128], data: (0..<(3 * 96 * 128)).map { _ in Float(rng.next() % 4001) / 1000 - 2 })
        let boxes = (0..<200).map { _ -> Box in
            let x0 = Float(rng.next() % 100), y0 = Float(rng.next() % 70)
            return Box(x0, y0, x0 + 4 + Float(rng.next() % 60), y0 + 4 + Float(rng.next() % 40))
        }
        return (try Int8VariantFixture(source: source) { model in
            let features = model.backbone(x)
            _ = model.rpn.head(features.maps)
            _ = model.roiHeads.classify(features, proposals: boxes, imageSize: (96, 128))
        }, x)
    }

    /// The int8 variant, with `residual_joins` set to `joins` and the layers in `keepFloat` left
    /// out of the table (float32).
    func variant(joins: String? = nil, keepFloat: Set<String> = [], in test: XCTestCase) throws -> DetectionModel {
        var table = table
        table.residualJoins = joins
        table.layers.removeAll { keepFloat.contains($0.name) }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-int8-variant-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: tmp) }
        var dict = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any])
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        dict["quantization"] = try JSONSerialization.jsonObject(with: encoder.encode(table))
        let weights = try XCTUnwrap(dict["weights"] as? String)
        dict["weights"] = source.deletingLastPathComponent().appendingPathComponent(weights).standardizedFileURL.path
        let url = tmp.appendingPathComponent("\(float.name)_int8.json")
        try JSONSerialization.data(withJSONObject: dict).write(to: url)
        return try DetectionModel(configURL: url)
    }
}
