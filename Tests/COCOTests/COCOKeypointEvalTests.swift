import Foundation
import XCTest
@testable import COCO

/// Keypoint (OKS) evaluation against pycocotools' `COCOeval(gt, dt, 'keypoints')` on the random
/// scenarios of `Tools/coco_eval_reference.py --keypoint-fixtures`: the 10 stats, the precision
/// and recall arrays, the printed summary, and `computeOks`' matrix for every image and category.
final class COCOKeypointEvalTests: XCTestCase {
    struct Expected: Decodable {
        struct Facts: Decodable {
            let ground_truths: Int, detections: Int, crowd: Int, zero_visible: Int
            let zero_visible_not_ignored: Int, num_keypoints_zero: Int, medium: Int, large: Int
            let keypoint_counts: [Int], max_dets_per_image_category: Int, tied_scores: Int, dets_with_box: Int
        }
        struct LoadedResult: Decodable { let id: Int, area: Double, bbox: [Double] }
        struct Run: Decodable {
            let imgIds: [Int]?
            let stats: [Double], precision: [Double], recall: [Double]
            let summary: String
            let matched50: Int, matched_ignored50: Int
            let loadres: [LoadedResult]
        }
        struct OKS: Decodable {
            let image_id: Int, category_id: Int, dt_ids: [Int], gt_ids: [Int], matrix: [[Double]]
        }
        let name: String, facts: Facts
        /// Every category's sigmas; `custom_sigmas` only those that are not COCO's person sigmas.
        let sigmas: [String: [Double]], custom_sigmas: [String: [Double]]
        let runs: [Run], oks: [OKS]
    }

    static let scenarios = ["crowd_and_unlabelled", "many_detections", "normal", "results_with_boxes", "small"]

    func testScenarioListMatchesGenerator() throws {
        let url = try ReferenceFixtures.requireKeypoints().appendingPathComponent("scenarios.json")
        XCTAssertEqual(try JSONDecoder().decode([String].self, from: Data(contentsOf: url)), Self.scenarios)
    }

    /// Three categories with 17, 5 and 4 keypoints, the last two with their own sigmas; all
    /// images and a subset.
    func testNormal() throws { try check("normal") { facts, expected in
        XCTAssertEqual(facts.keypoint_counts, [4, 5, 17])
        XCTAssertEqual(expected.custom_sigmas.keys.sorted(), ["2", "3"])
        XCTAssertEqual(expected.runs.count, 2)
        XCTAssertNotNil(expected.runs[1].imgIds)
        XCTAssertGreaterThan(expected.runs[0].stats[2], 0, "matches above OKS 0.75")
    } }

    /// Many crowd regions and people without labelled keypoints (ignored through num_keypoints 0).
    func testCrowdAndUnlabelled() throws { try check("crowd_and_unlabelled") { facts, expected in
        XCTAssertGreaterThan(facts.crowd, 10)
        XCTAssertGreaterThan(facts.zero_visible, 10)
        XCTAssertGreaterThan(facts.num_keypoints_zero, facts.crowd / 2)
        XCTAssertGreaterThan(expected.runs[0].matched_ignored50, 10, "detections absorbed by ignored ground truths")
    } }

    /// More than 20 detections of one category on an image: only the 20 best count.
    func testMoreThanTwentyDetectionsPerImage() throws { try check("many_detections") { facts, _ in
        XCTAssertGreaterThan(facts.max_dets_per_image_category, 20)
    } }

    /// Keypoint results that also carry a box: `loadRes` takes the box's area, not the keypoints'.
    func testResultsWithBoxes() throws { try check("results_with_boxes") { facts, _ in
        XCTAssertEqual(facts.dets_with_box, facts.detections)
    } }

    /// One image: a labelled person, a partly labelled one, an unlabelled one (num_keypoints 0),
    /// an unlabelled one that counts (num_keypoints 2: OKS to the enlarged box) and a crowd.
    func testSmall() throws { try check("small") { facts, expected in
        XCTAssertEqual(facts.zero_visible_not_ignored, 1)
        let matrix = try XCTUnwrap(expected.oks.first?.matrix)
        XCTAssertEqual(matrix.count, 6)
        XCTAssertEqual(matrix[3][2], 1, "a detection inside the enlarged box of an unlabelled person")
        XCTAssertTrue(matrix[4][3] > 0 && matrix[4][3] < 1, "a detection outside the enlarged box")
    } }

    /// `ObjectKeypointSimilarity.matrix` against `computeOks` for every image and category of every
    /// scenario, detections in pycocotools' order (by decreasing score, at most 20).
    func testOKSMatricesMatchComputeOks() throws {
        var compared = 0, between = 0
        for name in Self.scenarios {
            let (expected, groundTruth, detections) = try load(name)
            for record in expected.oks {
                let dts = try record.dt_ids.map { try XCTUnwrap(detections.annotation(id: $0)) }
                let gts = try record.gt_ids.map { try XCTUnwrap(groundTruth.annotation(id: $0)) }
                let sigmas = try XCTUnwrap(expected.sigmas[String(record.category_id)])
                let oks = try ObjectKeypointSimilarity.matrix(detections: dts, groundTruths: gts, sigmas: sigmas)
                XCTAssertEqual(oks.rows, record.matrix.count)
                XCTAssertEqual(oks.columns, gts.count)
                for (d, row) in record.matrix.enumerated() {
                    for (g, value) in row.enumerated() {
                        XCTAssertEqual(oks[d, g], value, accuracy: 1e-12,
                                       "\(name) image \(record.image_id) category \(record.category_id) [\(d), \(g)]")
                        compared += 1
                        if value > 0.05 && value < 0.95 { between += 1 }
                    }
                }
            }
        }
        XCTAssertGreaterThan(compared, 1000)
        XCTAssertGreaterThan(between, 100, "values across the threshold range, not just 0 and 1")
    }

    func testDefaultParametersArePycocotools() throws {
        let p = COCOEvalParameters(iouType: .keypoints)
        XCTAssertEqual(p.iouThresholds, COCOEvalParameters(iouType: .bbox).iouThresholds)
        XCTAssertEqual(p.recallThresholds.count, 101)
        XCTAssertEqual(p.maxDetections, [20])
        XCTAssertEqual(p.areaRanges.map(\.label), ["all", "medium", "large"])
        XCTAssertEqual(p.areaRanges.map(\.lowerBound), [0, 1024, 9216])
        XCTAssertEqual(p.areaRanges.map(\.upperBound), [1e10, 9216, 1e10])
        XCTAssertTrue(p.useCategories)
        // pycocotools' np.array([.26, ...]) / 10.0, bit for bit (from the fixture's person sigmas).
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf:
            ReferenceFixtures.requireKeypoints().appendingPathComponent("normal/expected.json")))
        XCTAssertEqual(p.keypointSigmas, expected.sigmas["1"])
        XCTAssertEqual(p.keypointSigmas, ObjectKeypointSimilarity.cocoPersonSigmas)
        var custom = p
        custom.keypointSigmasByCategory[2] = [0.1, 0.2]
        XCTAssertEqual(custom.keypointSigmas(forCategory: 2), [0.1, 0.2])
        XCTAssertEqual(custom.keypointSigmas(forCategory: 1).count, 17)
    }

    func testKeypointStatsLayout() {
        let stats = COCOStats(kind: .keypoints, values: (0..<10).map { Double($0) / 10 })
        XCTAssertEqual(stats.kind.names, ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"])
        XCTAssertEqual([stats.ap, stats.ap50, stats.ap75, stats.apMedium, stats.apLarge], [0, 0.1, 0.2, 0.3, 0.4])
        XCTAssertEqual([stats.ar, stats.ar50, stats.ar75, stats.arMedium, stats.arLarge], [0.5, 0.6, 0.7, 0.8, 0.9])
        XCTAssertEqual([stats.apSmall, stats.arSmall, stats.ar1, stats.ar10, stats.ar100], [-1, -1, -1, -1, -1])
        XCTAssertEqual(stats["AR75"], 0.7)
        XCTAssertNil(stats["APs"])
        let boxes = COCOStats(values: (0..<12).map(Double.init))
        XCTAssertEqual(boxes.kind, .detection)
        XCTAssertEqual([boxes.ar, boxes.ar100, boxes.ar50, boxes.apSmall], [8, 8, -1, 3])
    }

    /// Keypoints, num_keypoints, and a category's names and skeleton survive reading and writing.
    func testKeypointFieldsRoundTrip() throws {
        let json = #"""
        {"images": [{"id": 1, "width": 10, "height": 10}],
         "categories": [{"id": 1, "name": "p", "keypoints": ["a", "b"], "skeleton": [[1, 2]]}],
         "annotations": [{"id": 3, "image_id": 1, "category_id": 1, "area": 4, "bbox": [1, 1, 2, 2],
                          "keypoints": [1, 2, 2, 3.5, 4, 0], "num_keypoints": 1}]}
        """#
        let dataset = try COCODataset(jsonData: Data(json.utf8))
        let annotation = try XCTUnwrap(dataset.annotation(id: 3))
        XCTAssertEqual(annotation.keypoints, [1, 2, 2, 3.5, 4, 0])
        XCTAssertEqual(annotation.numKeypoints, 1)
        XCTAssertEqual(dataset.categories[0].keypoints, ["a", "b"])
        XCTAssertEqual(dataset.categories[0].skeleton, [[1, 2]])
        let again = try JSONDecoder().decode(COCOAnnotation.self, from: JSONEncoder().encode(annotation))
        XCTAssertEqual(again, annotation)
        let category = try JSONDecoder().decode(COCOCategory.self, from: JSONEncoder().encode(dataset.categories[0]))
        XCTAssertEqual(category, dataset.categories[0])
        let detection = COCODetection(imageID: 1, categoryID: 1, score: 0.5, keypoints: [1, 2, 0.9])
        XCTAssertEqual(try JSONDecoder().decode(COCODetection.self, from: JSONEncoder().encode(detection)), detection)
    }

    /// Keypoint lists that are not finite triples are refused with an error, never a crash.
    func testMalformedKeypointsAreRejected() throws {
        func annotations(_ keypoints: String) -> String {
            #"{"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 1, "keypoints": \#(keypoints)}]}"#
        }
        XCTAssertThrowsError(try COCODataset(jsonData: Data(annotations("[1, 2, 2, 4]").utf8), path: "k.json")) { error in
            XCTAssertEqual("\(error)", "k.json: annotations[0].keypoints: keypoints must be (x, y, v) triples, "
                           + "but the list has 4 numbers")
        }
        for bad in ["[1, 2, NaN]", "[1, 2, 1e400]", "[1, \"2\", 0]", "{\"x\": 1}"] {
            XCTAssertThrowsError(try COCODataset(jsonData: Data(annotations(bad).utf8)), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix("<data>: "), "\(bad): \(error)")
            }
        }
        let negative = #"{"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 1, "num_keypoints": -1}]}"#
        XCTAssertThrowsError(try COCODataset(jsonData: Data(negative.utf8)))
        let results = #"[{"image_id": 1, "category_id": 1, "score": 0.5, "keypoints": [1, 2]}]"#
        XCTAssertThrowsError(try JSONDecoder().decode([COCODetection].self, from: Data(results.utf8)))
        let skeleton = #"{"categories": [{"id": 1, "keypoints": ["a", "b"], "skeleton": [[1, 3]]}]}"#
        XCTAssertThrowsError(try COCODataset(jsonData: Data(skeleton.utf8))) { error in
            XCTAssertTrue("\(error)".contains("categories[0].skeleton"), "\(error)")
        }

        // Made in code rather than read: refused when loaded or evaluated.
        let image = COCOImage(id: 1, width: 100, height: 100)
        let gt = COCODataset(images: [image], annotations: [person(id: 1, shift: 0)],
                             categories: [COCOCategory(id: 1, name: "person")])
        for bad in [[1, 2, 0.5, 3], [1, .nan, 0.5], [Double.infinity, 2, 0.5], []] {
            let detection = COCODetection(imageID: 1, categoryID: 1, score: 0.5, keypoints: bad)
            XCTAssertThrowsError(try gt.loadResults([detection]), "\(bad)") { error in
                guard case COCOError.invalidKeypoints(annotationID: 1, _) = error else {
                    return XCTFail("\(bad): \(error)")
                }
            }
        }
        var nanGT = person(id: 1, shift: 0)
        nanGT.keypoints![4] = .nan
        let nanDataset = COCODataset(images: [image], annotations: [nanGT], categories: gt.categories)
        let dt = try nanDataset.loadResults([COCODetection(imageID: 1, categoryID: 1, score: 1,
                                                           keypoints: person(id: 1, shift: 1).keypoints)])
        XCTAssertThrowsError(try COCOEvaluator(groundTruth: nanDataset, detections: dt, iouType: .keypoints).evaluate()) {
            XCTAssertEqual("\($0)", "annotation 1: ground truth keypoints must be finite numbers, but value 4 is nan")
        }
    }

    /// A keypoint count that differs from the number of sigmas, and sigmas or settings that
    /// cannot work, are refused with errors that say what to change.
    func testSigmaMismatchesAreRefused() throws {
        let (expected, groundTruth, detections) = try load("normal")
        // Default sigmas (17) for the 5-keypoint hand category, which names its keypoints.
        var parameters = COCOEvalParameters(iouType: .keypoints)
        parameters.keypointSigmasByCategory[3] = expected.custom_sigmas["3"]
        XCTAssertThrowsError(try COCOEvaluator(groundTruth: groundTruth, detections: detections,
                                               parameters: parameters).evaluate()) { error in
            XCTAssertEqual(error as? COCOError, .invalidParameters(
                "category 2 has 5 keypoints but 17 OKS sigmas; give its sigmas in keypointSigmasByCategory[2]"))
        }
        // Without keypoint names the annotations' own count is checked.
        let unnamed = COCODataset(images: groundTruth.images, annotations: groundTruth.annotations,
                                  categories: groundTruth.categories.map { COCOCategory(id: $0.id, name: $0.name) })
        XCTAssertThrowsError(try COCOEvaluator(groundTruth: unnamed, detections: detections,
                                               parameters: parameters).evaluate()) { error in
            guard case COCOError.invalidKeypoints(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("has 5 keypoints, but there are 17 OKS sigmas"), reason)
        }
        for bad in [[Double](), [0.1, 0, 0.1, 0.1, 0.1], [0.1, .nan, 0.1, 0.1, 0.1]] {
            var p = parameters
            p.keypointSigmasByCategory[2] = bad
            XCTAssertThrowsError(try COCOEvaluator(groundTruth: groundTruth, detections: detections, parameters: p)
                .evaluate(), "\(bad)") { error in
                guard case COCOError.invalidParameters = error else { return XCTFail("\(bad): \(error)") }
            }
        }
        var acrossCategories = parameters
        acrossCategories.keypointSigmasByCategory[2] = expected.custom_sigmas["2"]
        acrossCategories.useCategories = false
        XCTAssertThrowsError(try COCOEvaluator(groundTruth: groundTruth, detections: detections,
                                               parameters: acrossCategories).evaluate())
    }

    /// Keypoint evaluation reads num_keypoints of ground truth; its absence is an error.
    func testMissingNumKeypointsIsAnError() throws {
        let image = COCOImage(id: 1, width: 100, height: 100)
        var gt = person(id: 7, shift: 0)
        gt.numKeypoints = nil
        let dataset = COCODataset(images: [image], annotations: [gt], categories: [COCOCategory(id: 1, name: "person")])
        let dt = try dataset.loadResults([COCODetection(imageID: 1, categoryID: 1, score: 1,
                                                        keypoints: person(id: 1, shift: 1).keypoints)])
        XCTAssertThrowsError(try COCOEvaluator(groundTruth: dataset, detections: dt, iouType: .keypoints).evaluate()) {
            XCTAssertEqual($0 as? COCOError, .missingField(annotationID: 7, field: "num_keypoints"))
        }
    }

    // MARK: - Helpers

    /// A person with 17 visible keypoints on a diagonal, moved `shift` pixels right.
    private func person(id: Int, shift: Double) -> COCOAnnotation {
        var keypoints: [Double] = []
        for k in 0..<17 {
            let x: Double = 10 + 4 * Double(k) + shift, y: Double = 10 + 3 * Double(k)
            keypoints += [x, y, 2]
        }
        return COCOAnnotation(id: id, imageID: 1, categoryID: 1, bbox: COCOBox(x: 10, y: 10, width: 70, height: 50),
                              area: 2500, keypoints: keypoints, numKeypoints: 17)
    }

    private func load(_ name: String) throws -> (Expected, COCODataset, COCODataset) {
        let folder = try ReferenceFixtures.requireKeypoints().appendingPathComponent(name)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        let groundTruth = try COCODataset(contentsOf: folder.appendingPathComponent("gt.json"))
        let detections = try groundTruth.loadResults(contentsOf: folder.appendingPathComponent("dt.json"))
        return (expected, groundTruth, detections)
    }

    /// Loads one scenario, evaluates every run pycocotools ran, and compares everything.
    private func check(_ name: String, facts assertFacts: (Expected.Facts, Expected) throws -> Void) throws {
        let (expected, groundTruth, detections) = try load(name)
        XCTAssertEqual(groundTruth.annotations.count, expected.facts.ground_truths)
        XCTAssertEqual(detections.annotations.count, expected.facts.detections)
        XCTAssertEqual(expected.facts.tied_scores, 0)
        XCTAssertGreaterThan(expected.facts.medium, 0)
        XCTAssertGreaterThan(expected.facts.large, 0)
        try assertFacts(expected.facts, expected)

        // loadRes: ids 1...N in file order; area and box from the keypoints' extent (or the box).
        for (mine, theirs) in zip(detections.annotations, expected.runs[0].loadres) {
            XCTAssertEqual(mine.id, theirs.id)
            XCTAssertEqual(mine.area, theirs.area, "\(name) detection \(mine.id) area")
            XCTAssertEqual(mine.bbox?.values, theirs.bbox, "\(name) detection \(mine.id) bbox")
        }

        for run in expected.runs {
            var parameters = COCOEvalParameters(iouType: .keypoints)
            parameters.imageIDs = run.imgIds
            for (category, sigmas) in expected.custom_sigmas { parameters.keypointSigmasByCategory[Int(category)!] = sigmas }
            let label = "\(name) images=\(run.imgIds?.count ?? -1)"
            let result = try COCOEvaluator(groundTruth: groundTruth, detections: detections, parameters: parameters).evaluate()
            XCTAssertEqual(result.stats.kind, .keypoints)
            assertClose(result.stats.values, run.stats, "\(label) stats")
            assertClose(result.precision, run.precision, "\(label) precision")
            assertClose(result.recall, run.recall, "\(label) recall")
            XCTAssertEqual(result.summary, run.summary, label)
            // Not vacuous: matches were made, and the summary is neither undefined nor zero.
            XCTAssertGreaterThan(run.matched50, 0, label)
            XCTAssertGreaterThan(run.stats[0], 0, label)
            XCTAssertGreaterThan(Set(run.stats).count, 3, label)
        }
    }
}
