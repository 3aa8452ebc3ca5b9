import COCO
import Detection
import Foundation
import TestSupport
import XCTest

/// `rcnn eval`'s numbers against pycocotools on the engine's own detections: the embedded default
/// model over the sample images (held-out split of the generator), low threshold so there are many
/// detections, every one of the twelve numbers for bbox and segm within 1e-6.
final class EvalAgreementTests: XCTestCase {
    func testEvalAgreesWithPycocotoolsOnEngineDetections() throws {
        let root = Repository.root
        let annotations = root.appendingPathComponent("Samples/instances_samples.json")
        let model = try DetectionModel(configURL: root.appendingPathComponent("Config/models/shapes_mask_rcnn.json"))
        let dataset = try COCODataset(contentsOf: annotations)
        let evaluator = DatasetEvaluator(model: model, dataset: dataset, imagesDirectory: root.appendingPathComponent("Samples"))
        let ids = dataset.imageIDs
        let results = try evaluator.detections(imageIDs: ids, options: .init(scoreThreshold: 0.01))
        XCTAssertGreaterThan(results.count, 5 * ids.count, "too few detections for a meaningful comparison")
        let ours = try evaluator.evaluate(results, imageIDs: ids)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-results-\(getpid()).json")
        try JSONEncoder().encode(results).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try Prerequisite.require(FileManager.default.isExecutableFile(atPath: Repository.venvPython),
                                 "the Python reference environment \(Repository.venvPython) with pycocotools",
                                 provides: ".ci/run runs Tools/setup_python.sh (via Tools/test.sh), which creates it")
        let p = try TestProcess.run(Repository.venvPython, [root.appendingPathComponent("Tools/coco_eval_reference.py").path,
                                                            "--annotations", annotations.path, "--results", file.path, "--segm"])
        XCTAssertEqual(p.status, 0, p.errors)
        let data = p.stdout
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [Double]])
        var nonzero = 0
        for (iouType, evaluation) in ours {
            let ref = try XCTUnwrap(reference[iouType.rawValue])
            XCTAssertEqual(ref.count, 12)
            for (i, (a, b)) in zip(evaluation.stats.values, ref).enumerated() {
                XCTAssertEqual(a, b, accuracy: 1e-6, "\(iouType.rawValue) \(COCOStats.names[i])")
                if b > 0 { nonzero += 1 }
            }
        }
        XCTAssertGreaterThan(nonzero, 0, "every statistic is zero: the comparison would be vacuous")
    }
}
