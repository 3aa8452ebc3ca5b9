import COCO
import Detection
import Foundation
import TestSupport
import XCTest

/// `rcnn eval`'s numbers against pycocotools on the engine's own detections: the embedded default
/// model over the sample images (held-out split of the generator), low threshold so there are many
/// detections, every one of the twelve numbers for bbox and segm, and the ten for keypoints, within
/// 1e-6.
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
        var arguments = [root.appendingPathComponent("Tools/coco_eval_reference.py").path,
                         "--annotations", annotations.path, "--results", file.path, "--segm"]
        if evaluator.evaluatesKeypoints {
            arguments += ["--keypoints"]
            if let sigmas = model.config.keypointSigmas { arguments += ["--keypoint-sigmas", sigmas.map { "\($0)" }.joined(separator: ",")] }
        }
        XCTAssertEqual(evaluator.evaluatesKeypoints, model.hasKeypoints, "a keypoint model's samples must carry keypoints to score")
        XCTAssertEqual(ours.map(\.0.rawValue), ["bbox", "segm"] + (model.hasKeypoints ? ["keypoints"] : []))
        let p = try TestProcess.run(Repository.venvPython, arguments)
        XCTAssertEqual(p.status, 0, p.errors)
        let data = p.stdout
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [Double]])
        var nonzero = 0
        for (iouType, evaluation) in ours {
            let ref = try XCTUnwrap(reference[iouType.rawValue])
            XCTAssertEqual(ref.count, evaluation.stats.kind.names.count)
            for (i, (a, b)) in zip(evaluation.stats.values, ref).enumerated() {
                XCTAssertEqual(a, b, accuracy: 1e-6, "\(iouType.rawValue) \(evaluation.stats.kind.names[i])")
                if b > 0 { nonzero += 1 }
            }
        }
        XCTAssertGreaterThan(nonzero, 0, "every statistic is zero: the comparison would be vacuous")
    }
}
