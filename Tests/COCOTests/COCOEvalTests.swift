import Foundation
import XCTest
@testable import COCO

/// COCO evaluation against pycocotools' COCOeval on the random scenarios of
/// `Tools/coco_reference.py`: the 12 stats and the whole precision, recall and score arrays, for
/// box and mask IoU.
final class COCOEvalTests: XCTestCase {
    struct Expected: Decodable {
        struct Facts: Decodable {
            let detections: Int, ground_truths: Int, crowd: Int, rle_ground_truths: Int
            let max_dets_per_image_category: Int, tied_scores: Int
            let categories_with_gt: [Int], categories_with_dets: [Int]
        }
        struct LoadedResult: Decodable { let area: Double, bbox: [Double] }
        struct Run: Decodable {
            let iouType: String, useCats: Int, imgIds: [Int]?
            let stats: [Double], precision: [Double], recall: [Double], scores: [Double]
            let summary: String
            let evaluated_dets: Int, matched50: Int, matched_ignored50: Int
            let loadres: [LoadedResult]
        }
        let name: String, facts: Facts, runs: [Run]
    }

    static let scenarios = ["area_ranges", "box_results", "class_without_dets", "class_without_gt", "crowd",
                            "many_detections", "mask_results", "no_detections", "normal",
                            "rle_ground_truth", "score_ties"]

    func testScenarioListMatchesGenerator() throws {
        XCTAssertEqual(try ReferenceFixtures.load([String].self, "scenarios.json"), Self.scenarios)
    }

    func testNormal() throws { try check("normal") { facts, runs in
        XCTAssertEqual(runs.count, 5, "per-category, across categories, and an image subset")
        XCTAssertTrue(runs.contains { $0.useCats == 0 } && runs.contains { $0.imgIds != nil })
        XCTAssertGreaterThan(runs[0].stats[2], 0, "matches above IoU 0.75")
    } }

    func testNoDetections() throws { try check("no_detections") { facts, runs in
        XCTAssertEqual(facts.detections, 0)
        XCTAssertGreaterThan(facts.ground_truths, 10)
        for run in runs { XCTAssertEqual(run.stats[0], 0) }
    } }

    func testCategoryWithoutGroundTruth() throws { try check("class_without_gt") { facts, runs in
        XCTAssertFalse(facts.categories_with_gt.contains(7))
        XCTAssertTrue(facts.categories_with_dets.contains(7))
    } }

    func testCategoryWithoutDetections() throws { try check("class_without_dets") { facts, runs in
        XCTAssertTrue(facts.categories_with_gt.contains(3))
        XCTAssertFalse(facts.categories_with_dets.contains(3))
    } }

    func testCrowdRegions() throws { try check("crowd") { facts, runs in
        XCTAssertGreaterThan(facts.crowd, 10)
        for run in runs { XCTAssertGreaterThan(run.matched_ignored50, 10, "detections absorbed by crowds") }
    } }

    func testScoreTies() throws { try check("score_ties") { facts, _ in
        XCTAssertGreaterThan(facts.tied_scores, 30)
    } }

    func testAreaRanges() throws { try check("area_ranges") { _, runs in
        for run in runs { XCTAssertTrue(run.stats[3...5].allSatisfy { $0 > 0 }, "small, medium and large all matched") }
    } }

    func testMoreThanHundredDetectionsPerImage() throws { try check("many_detections") { facts, runs in
        XCTAssertGreaterThan(facts.max_dets_per_image_category, 100)
        XCTAssertLessThan(runs[0].evaluated_dets, facts.detections, "the 100-per-image cap applied")
    } }

    func testRLEGroundTruth() throws { try check("rle_ground_truth") { facts, _ in
        XCTAssertGreaterThan(facts.rle_ground_truths - facts.crowd, 10, "non-crowd RLE ground truths")
    } }

    /// Results with masks only: loadRes takes the area and box from the mask.
    func testMaskResults() throws { try check("mask_results") { _, runs in
        XCTAssertTrue(runs[0].loadres.contains { $0.area > 0 })
    } }

    /// Results with boxes only: mask evaluation rasterizes the box.
    func testBoxResults() throws { try check("box_results") { _, runs in
        XCTAssertGreaterThan(runs[1].matched50, 0)
    } }

    /// Loads one scenario, evaluates every run pycocotools ran, and compares everything.
    private func check(_ name: String, facts assertFacts: (Expected.Facts, [Expected.Run]) -> Void) throws {
        let folder = try ReferenceFixtures.require().appendingPathComponent("eval/\(name)")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        let groundTruth = try COCODataset(contentsOf: folder.appendingPathComponent("gt.json"))
        let detections = try groundTruth.loadResults(contentsOf: folder.appendingPathComponent("dt.json"))
        XCTAssertEqual(detections.annotations.count, expected.facts.detections)
        XCTAssertEqual(groundTruth.annotations.count, expected.facts.ground_truths)
        assertFacts(expected.facts, expected.runs)
        if expected.facts.detections > 0 {
            XCTAssertGreaterThan(expected.runs.map(\.matched50).min() ?? 0, 0, "\(name): nothing matched")
        }

        // loadRes: ids 1...N in file order, areas and boxes.
        let loaded = expected.runs[0].loadres
        XCTAssertEqual(loaded.count, detections.annotations.count)
        for (index, (mine, theirs)) in zip(detections.annotations, loaded).enumerated() {
            XCTAssertEqual(mine.id, index + 1)
            XCTAssertEqual(mine.area, theirs.area, "\(name) detection \(index + 1) area")
            XCTAssertEqual(mine.bbox?.values, theirs.bbox, "\(name) detection \(index + 1) bbox")
        }

        for run in expected.runs {
            var parameters = COCOEvalParameters(iouType: run.iouType == "bbox" ? .bbox : .segm)
            parameters.useCategories = run.useCats != 0
            parameters.imageIDs = run.imgIds
            let label = "\(name) \(run.iouType) useCats=\(run.useCats) images=\(run.imgIds?.count ?? -1)"
            let result = try COCOEvaluator(groundTruth: groundTruth, detections: detections, parameters: parameters).evaluate()
            assertClose(result.stats.values, run.stats, "\(label) stats")
            assertClose(result.precision, run.precision, "\(label) precision")
            assertClose(result.recall, run.recall, "\(label) recall")
            assertClose(result.scores, run.scores, "\(label) scores")
            XCTAssertEqual(result.summary, run.summary, label)
            // Not vacuous: some precision is defined and some is positive where there are matches.
            XCTAssertTrue(result.precision.contains { $0 > -1 }, label)
            if run.matched50 > 0 { XCTAssertTrue(result.precision.contains { $0 > 0 }, label) }
        }
    }
}
