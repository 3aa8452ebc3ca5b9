import Foundation
import XCTest
@testable import COCO

/// Reading COCO files, `loadResults` rules and hand-checked evaluations (no Python needed).
final class COCODatasetTests: XCTestCase {
    private static let instances = """
    {"images": [{"id": 5, "width": 100, "height": 80, "file_name": "a.jpg"}, {"id": 9, "width": 50, "height": 40}],
     "categories": [{"id": 1, "name": "cat", "supercategory": "animal"}, {"id": 2}],
     "annotations": [
       {"id": 11, "image_id": 5, "category_id": 1, "bbox": [10, 10, 20, 20], "area": 400.5, "iscrowd": 0,
        "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]], "ignore": 1},
       {"id": 12, "image_id": 5, "category_id": 2, "bbox": [0, 0, 2, 2], "area": 4, "iscrowd": true,
        "segmentation": {"size": [80, 100], "counts": [0, 2, 78, 2, 7918]}},
       {"id": 13, "image_id": 9, "category_id": 1, "bbox": [], "area": 1, "iscrowd": 0,
        "segmentation": {"size": [40, 50], "counts": "414"}}]}
    """

    func testReadsEveryAnnotationForm() throws {
        let dataset = try COCODataset(jsonData: Data(Self.instances.utf8))
        XCTAssertEqual(dataset.imageIDs, [5, 9])
        XCTAssertEqual(dataset.categoryIDs, [1, 2])
        XCTAssertEqual(dataset.categories[1].name, "")
        XCTAssertEqual(dataset.image(id: 5)?.fileName, "a.jpg")
        let polygon = try XCTUnwrap(dataset.annotation(id: 11))
        XCTAssertEqual(polygon.bbox, COCOBox(x: 10, y: 10, width: 20, height: 20))
        XCTAssertEqual(polygon.area, 400.5)
        XCTAssertFalse(polygon.isCrowd, "'ignore' is not read: pycocotools replaces it with iscrowd")
        XCTAssertEqual(polygon.segmentation, .polygons([[10, 10, 30, 10, 30, 30, 10, 30]]))
        // Pixel centres 10...29 inside the 20x20 square: a 20x20 block.
        XCTAssertEqual(polygon.segmentation?.rle(imageHeight: 80, imageWidth: 100).area, 400)
        let crowd = try XCTUnwrap(dataset.annotation(id: 12))
        XCTAssertTrue(crowd.isCrowd)
        XCTAssertEqual(crowd.segmentation, .rle(RLE(height: 80, width: 100, counts: [0, 2, 78, 2, 7918])))
        let compressed = try XCTUnwrap(dataset.annotation(id: 13))
        XCTAssertNil(compressed.bbox, "[] means no box")
        XCTAssertEqual(compressed.segmentation, .rle(RLE(height: 40, width: 50, counts: [4, 1, 4])))
    }

    func testBadFilesNameTheProblem() {
        let badBox = #"{"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 1, "bbox": [1, 2, 3]}]}"#
        XCTAssertThrowsError(try COCODataset(jsonData: Data(badBox.utf8), path: "x.json")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("x.json: annotations[0].bbox"), text)
        }
        let noArea = #"{"annotations": [{"id": 1, "image_id": 1, "category_id": 1}]}"#
        XCTAssertThrowsError(try COCODataset(jsonData: Data(noArea.utf8), path: "y.json")) { error in
            XCTAssertEqual("\(error)", "y.json: annotations[0].area: missing")
        }
        let badRLE = #"{"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "area": 1, "segmentation": {"size": [2, 2], "counts": "4 "}}]}"#
        XCTAssertThrowsError(try COCODataset(jsonData: Data(badRLE.utf8)))
        XCTAssertThrowsError(try COCODataset(contentsOf: URL(fileURLWithPath: "/nonexistent/instances.json"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/instances.json: cannot read"), "\(error)")
        }
    }

    func testLoadResultsRules() throws {
        let gt = try COCODataset(jsonData: Data(Self.instances.utf8))
        let mask = RLE(box: COCOBox(x: 0, y: 0, width: 3, height: 2), height: 80, width: 100)
        XCTAssertEqual(mask.area, 6)
        // First detection has a box: box results, area = w * h even when a mask is given.
        let boxFirst = try gt.loadResults([
            COCODetection(imageID: 5, categoryID: 1, score: 0.5, bbox: COCOBox(x: 1, y: 2, width: 4, height: 5),
                          segmentation: .rle(mask)),
            COCODetection(imageID: 9, categoryID: 1, score: 0.7, bbox: COCOBox(x: 0, y: 0, width: 2, height: 2)),
        ])
        XCTAssertEqual(boxFirst.annotations.map(\.id), [1, 2])
        XCTAssertEqual(boxFirst.annotations.map(\.area), [20, 4])
        XCTAssertEqual(boxFirst.annotations[1].segmentation, .polygons([[0, 0, 0, 2, 2, 2, 2, 0]]))
        XCTAssertEqual(boxFirst.images, gt.images)
        // First detection without a box: mask results, area and box from the mask.
        let maskFirst = try gt.loadResults([COCODetection(imageID: 5, categoryID: 1, score: 0.5, segmentation: .rle(mask))])
        XCTAssertEqual(maskFirst.annotations[0].area, 6)
        XCTAssertEqual(maskFirst.annotations[0].bbox, COCOBox(x: 0, y: 0, width: 3, height: 2))
        XCTAssertFalse(maskFirst.annotations[0].isCrowd)

        XCTAssertThrowsError(try gt.loadResults([COCODetection(imageID: 6, categoryID: 1, score: 1, bbox: mask.boundingBox)])) {
            XCTAssertEqual($0 as? COCOError, .unknownImage(imageID: 6))
        }
        XCTAssertThrowsError(try gt.loadResults([
            COCODetection(imageID: 5, categoryID: 1, score: 1, bbox: mask.boundingBox),
            COCODetection(imageID: 5, categoryID: 1, score: 1, segmentation: .rle(mask)),
        ])) { XCTAssertEqual($0 as? COCOError, .missingField(annotationID: 2, field: "bbox")) }
        XCTAssertEqual(try gt.loadResults([]).annotations.count, 0)
    }

    func testDetectionJSONRoundTrip() throws {
        let detection = COCODetection(imageID: 3, categoryID: 4, score: 0.25, bbox: COCOBox(x: 1, y: 2, width: 3, height: 4),
                                      segmentation: .rle(RLE(height: 3, width: 3, counts: [4, 1, 4])))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(detection), as: UTF8.self)
        XCTAssertEqual(json, #"{"bbox":[1,2,3,4],"category_id":4,"image_id":3,"score":0.25,"segmentation":{"counts":"414","size":[3,3]}}"#)
        XCTAssertEqual(try JSONDecoder().decode(COCODetection.self, from: Data(json.utf8)), detection)
    }

    // MARK: Hand-checked evaluations

    /// One 20x20 object (small) on one image.
    private func evaluate(_ detections: [COCODetection], crowd: Bool = false) throws -> COCOStats {
        var annotations = [COCOAnnotation(id: 1, imageID: 1, categoryID: 1, bbox: COCOBox(x: 10, y: 10, width: 20, height: 20), area: 400)]
        if crowd {
            annotations.append(COCOAnnotation(id: 2, imageID: 1, categoryID: 1, bbox: COCOBox(x: 50, y: 50, width: 50, height: 50),
                                              area: 2500, isCrowd: true))
        }
        let gt = COCODataset(images: [COCOImage(id: 1, width: 100, height: 100)], annotations: annotations,
                             categories: [COCOCategory(id: 1, name: "thing"), COCOCategory(id: 2, name: "other")])
        return try COCOEvaluator(groundTruth: gt, detections: gt.loadResults(detections), iouType: .bbox).evaluate().stats
    }

    private func box(_ x: Double, _ y: Double, _ score: Double, category: Int = 1) -> COCODetection {
        COCODetection(imageID: 1, categoryID: category, score: score, bbox: COCOBox(x: x, y: y, width: 20, height: 20))
    }

    func testPerfectDetection() throws {
        let stats = try evaluate([box(10, 10, 0.9)])
        // Only small objects exist: medium and large are undefined (-1). Category 2 has no
        // ground truth, so it is left out of the means. Precision is tp / (tp + fp + eps), so a
        // perfect AP is 1 / (1 + 2^-52) averaged numpy's way: these are pycocotools' exact digits.
        XCTAssertEqual(stats.values, [0.9999999999999998, 0.9999999999999999, 0.9999999999999999, 0.9999999999999998,
                                      -1, -1, 1, 1, 1, 1, -1, -1])
    }

    /// A false positive scored above the true positive: at recall 1 precision is 1/2, and every
    /// recall point up to 1 reads that, so AP = 0.5. AR1 is 0: the one allowed detection misses.
    func testFalsePositiveFirst() throws {
        let stats = try evaluate([box(10, 10, 0.5), box(60, 10, 0.9)])
        XCTAssertEqual(stats.ap, 0.5, accuracy: 1e-12)
        XCTAssertEqual(stats.ar1, 0)
        XCTAssertEqual(stats.ar10, 1)
    }

    /// Detections inside a crowd region are ignored rather than false positives; a detection in
    /// a category that is not in the dataset is ignored too.
    func testCrowdAbsorbsDetections() throws {
        let stats = try evaluate([box(10, 10, 0.5), box(60, 60, 0.9), box(70, 70, 0.8), box(60, 10, 0.95, category: 99)],
                                 crowd: true)
        XCTAssertEqual(stats.ap, 1, accuracy: 1e-12)
        let without = try evaluate([box(10, 10, 0.5), box(60, 60, 0.9)])
        XCTAssertEqual(without.ap, 0.5, accuracy: 1e-12)
    }

    func testNoDetections() throws {
        XCTAssertEqual(try evaluate([]).values, [0, 0, 0, 0, -1, -1, 0, 0, 0, 0, -1, -1])
    }

    func testBoxFromCorners() {
        XCTAssertEqual(COCOBox(x1: 10, y1: 20, x2: 15.5, y2: 30), COCOBox(x: 10, y: 20, width: 5.5, height: 10))
    }

    func testDefaultThresholdsMatchNumpy() {
        let p = COCOEvalParameters(iouType: .bbox)
        XCTAssertEqual(p.iouThresholds.count, 10)
        XCTAssertEqual(p.iouThresholds[8], 0.8999999999999999)  // np.linspace(.5, .95, 10)[8]
        XCTAssertEqual(p.recallThresholds.count, 101)
        XCTAssertEqual(p.recallThresholds[35], 0.35000000000000003)  // not 0.35
        XCTAssertEqual(numpyMean([0.1, 0.2, 0.3]), (0.1 + 0.2 + 0.3) / 3)
    }
}
