import Detection
import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest

/// The truncated-SVD box head on the embedded default model: at full rank it is the same network
/// (same detections), and a cut rank changes the box head's outputs by what the dropped singular
/// values carry, not more.
final class BoxHeadSVDTests: XCTestCase {
    let config = Repository.url("Config/models/shapes_mask_rcnn.json")

    func sample() throws -> RGBImage {
        try ImageDecoder.decode(try Data(contentsOf: Repository.url("Samples/shapes_val_0001.jpg")))
    }

    func testFullRankKeepsDetections() throws {
        let plain = try DetectionModel(configURL: config)
        let full = try DetectionModel(configURL: config, boxHeadSVD: [.rank(100_000)])
        XCTAssertEqual(full.roiHeads.boxHeadSVD.count, 2, "fc6 and fc7 factored")
        for r in full.roiHeads.boxHeadSVD {
            XCTAssertEqual(r.rank, min(r.outFeatures, r.inFeatures))
            XCTAssertEqual(r.energy, 1, accuracy: 1e-9)
        }
        let image = try sample()
        let options = DetectionModel.Options(scoreThreshold: 0.05, maxDetections: 100)
        let a = plain.detect(image, options: options).detections, b = full.detect(image, options: options).detections
        XCTAssertGreaterThan(a.count, 3)
        XCTAssertEqual(a.labels, b.labels)
        for (x, y) in zip(a.scores, b.scores) { XCTAssertEqual(x, y, accuracy: 2e-3) }
        for (x, y) in zip(a.boxes, b.boxes) { XCTAssertGreaterThan(x.iou(y), 0.995) }
    }

    func testEnergySettingPicksRankAndStillDetects() throws {
        let plain = try DetectionModel(configURL: config)
        let cut = try DetectionModel(configURL: config, boxHeadSVD: [.energy(0.95)])
        let reports = cut.roiHeads.boxHeadSVD
        XCTAssertEqual(reports.count, 2)
        for r in reports {
            XCTAssertGreaterThanOrEqual(r.energy, 0.95)
            XCTAssertLessThan(r.rank, min(r.outFeatures, r.inFeatures), "a trained layer needs fewer than all values for 95%")
            // Minimal: one value fewer would miss the target.
            let s = r.singularValues
            let total = s.reduce(0.0) { $0 + Double($1) * Double($1) }
            let fewer = s.prefix(r.rank - 1).reduce(0.0) { $0 + Double($1) * Double($1) }
            XCTAssertLessThan(fewer / total, 0.95)
        }
        // The objects of the sample are still found with their classes (score threshold 0.5).
        let image = try sample()
        let a = plain.detect(image).detections, b = cut.detect(image).detections
        XCTAssertGreaterThan(a.count, 0)
        let matched = a.boxes.indices.filter { i in b.boxes.indices.contains { j in b.labels[j] == a.labels[i] && b.boxes[j].iou(a.boxes[i]) > 0.8 } }
        XCTAssertGreaterThanOrEqual(Double(matched.count), 0.8 * Double(a.count), "\(matched.count) of \(a.count) detections kept")
    }
}
