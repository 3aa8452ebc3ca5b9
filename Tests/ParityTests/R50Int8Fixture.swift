@testable import Detection
import Foundation
import Tensor
import TestSupport
import XCTest

/// The ResNet-50 FPN parity fixture (`fasterrcnn_resnet50_fpn`) with an int8 table calibrated on
/// one seeded random input through the backbone and the RPN head: every one of their layers in
/// int8 but the stem, as `rcnn calibrate --all-int8` makes them (the box head stays float32). Variants are written to a temporary folder that the test removes when it ends.
struct R50Int8Fixture {
    let float: DetectionModel
    let x: Tensor
    var table: QuantizationConfig
    private let dir: URL
    private let source: URL

    /// nil (with the fixtures' XCTFail) where the fixtures are missing.
    init?() throws {
        guard Fixtures.manifest("manifest.json") != nil else { return nil }
        dir = Fixtures.root.appendingPathComponent("fasterrcnn_resnet50_fpn")
        source = dir.appendingPathComponent("fasterrcnn_resnet50_fpn.json")
        float = try DetectionModel(configURL: source)
        var rng = SplitMix64(seed: 11)
        x = Tensor(shape: [1, 3, 96, 128], data: (0..<(3 * 96 * 128)).map { _ in Float(rng.next() % 4001) / 1000 - 2 })
        let calibrator = ActivationCalibrator(chooseBySpeed: false)
        _ = calibrator.recording { [float, x] in float.rpn.head(float.backbone(x).maps) }
        table = calibrator.configuration(source: float.name, images: 1)
    }

    /// The int8 variant, with `residual_joins` set to `joins`.
    func variant(joins: String? = nil, in test: XCTestCase) throws -> DetectionModel {
        var table = table
        table.residualJoins = joins
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-r50-int8-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: tmp) }
        var dict = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any])
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        dict["quantization"] = try JSONSerialization.jsonObject(with: encoder.encode(table))
        let weights = try XCTUnwrap(dict["weights"] as? String)
        try FileManager.default.createSymbolicLink(at: tmp.appendingPathComponent(weights),
                                                   withDestinationURL: dir.appendingPathComponent(weights))
        let url = tmp.appendingPathComponent("r50_int8.json")
        try JSONSerialization.data(withJSONObject: dict).write(to: url)
        return try DetectionModel(configURL: url)
    }
}
