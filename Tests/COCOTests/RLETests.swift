import XCTest
@testable import COCO

/// RLE encoding, strings, merges, IoU and rasterization against pycocotools
/// (`Tools/coco_reference.py`, `rle.json`), plus hand-checked examples.
final class RLETests: XCTestCase {
    struct Fixture: Decodable {
        struct Mask: Decodable { let h: Int, w: Int, bits: String, counts: String, area: Int, bbox: [Double] }
        struct Uncompressed: Decodable { let h: Int, w: Int, counts: [UInt32], string: String, area: Int, bbox: [Double] }
        struct Compressed: Decodable { let size: [Int], counts: String }
        struct Merge: Decodable { let inputs: [Compressed], union: String, intersection: String, size: [Int] }
        struct MaskIoU: Decodable { let dt: [Compressed], gt: [Compressed], crowd: [Int], iou: [[Double]] }
        struct Polygon: Decodable { let h: Int, w: Int, parts: [[Double]], counts: String, single: [String] }
        struct Box: Decodable { let h: Int, w: Int, box: [Double], counts: String }
        struct BoxIoU: Decodable { let dt: [[Double]], gt: [[Double]], crowd: [Int], iou: [[Double]] }
        let masks: [Mask], uncompressed: [Uncompressed], merges: [Merge], ious: [MaskIoU]
        let polygons: [Polygon], boxes: [Box], box_ious: [BoxIoU]
    }

    static func fixture() throws -> Fixture { try ReferenceFixtures.load(Fixture.self, "rle.json") }

    private func rle(_ object: Fixture.Compressed) throws -> RLE {
        try RLE(compressedCounts: object.counts, height: object.size[0], width: object.size[1])
    }

    func testEncodeDecodeAreaAndBoxMatchPycocotools() throws {
        let fixture = try Self.fixture()
        XCTAssertGreaterThan(fixture.masks.count, 100)
        XCTAssertTrue(fixture.masks.contains { $0.h == 1 && $0.w > 1 } && fixture.masks.contains { $0.w == 1 && $0.h > 1 })
        XCTAssertTrue(fixture.masks.contains { $0.area == $0.h * $0.w && $0.area > 0 }, "needs a full mask")
        XCTAssertTrue(fixture.masks.contains { $0.area == 0 && $0.h * $0.w > 0 }, "needs an empty mask")
        XCTAssertTrue(fixture.masks.contains { $0.counts.count > 1000 }, "needs a long string")
        for (index, mask) in fixture.masks.enumerated() {
            let pixels = mask.bits.utf8.map { UInt8($0 - 48) }
            let encoded = RLE(rowMajorMask: pixels, height: mask.h, width: mask.w)
            XCTAssertEqual(encoded.compressedCounts, mask.counts, "mask \(index) \(mask.h)x\(mask.w)")
            XCTAssertEqual(encoded.area, mask.area, "mask \(index)")
            XCTAssertEqual(encoded.boundingBox.values, mask.bbox, "mask \(index)")
            XCTAssertEqual(encoded.rowMajorMask(), pixels, "mask \(index)")
            XCTAssertEqual(RLE(rowMajorMask: pixels.map { $0 != 0 }, height: mask.h, width: mask.w), encoded)
            let decoded = try RLE(compressedCounts: mask.counts, height: mask.h, width: mask.w)
            XCTAssertEqual(decoded, encoded, "mask \(index): string round trip")
            if let columnMajor = encoded.columnMajorMask() {
                XCTAssertEqual(RLE(columnMajorMask: columnMajor, height: mask.h, width: mask.w), encoded)
            }
        }
    }

    func testUncompressedCountsMatchPycocotools() throws {
        let fixture = try Self.fixture()
        XCTAssertTrue(fixture.uncompressed.contains { $0.counts.dropFirst().contains(0) }, "needs zero runs")
        for (index, item) in fixture.uncompressed.enumerated() {
            let rle = RLE(height: item.h, width: item.w, counts: item.counts)
            XCTAssertEqual(rle.compressedCounts, item.string, "uncompressed \(index)")
            XCTAssertEqual(rle.area, item.area, "uncompressed \(index)")
            XCTAssertEqual(rle.boundingBox.values, item.bbox, "uncompressed \(index)")
            XCTAssertEqual(try RLE(compressedCounts: item.string, height: item.h, width: item.w).counts, item.counts)
        }
    }

    func testMergeMatchesPycocotools() throws {
        let fixture = try Self.fixture()
        XCTAssertGreaterThan(fixture.merges.count, 50)
        XCTAssertTrue(fixture.merges.contains { $0.size == [0, 0] }, "needs a size mismatch")
        for (index, merge) in fixture.merges.enumerated() {
            let inputs = try merge.inputs.map(rle)
            let union = RLE.merge(inputs)
            let intersection = RLE.merge(inputs, intersect: true)
            XCTAssertEqual(union.compressedCounts, merge.union, "merge \(index)")
            XCTAssertEqual(intersection.compressedCounts, merge.intersection, "merge \(index)")
            XCTAssertEqual([union.height, union.width], merge.size, "merge \(index)")
        }
    }

    func testMaskIoUMatchesPycocotools() throws {
        let fixture = try Self.fixture()
        var crowdPairs = 0, positive = 0, mismatched = 0
        for (index, item) in fixture.ious.enumerated() {
            let ious = RLE.iou(try item.dt.map(rle), try item.gt.map(rle), isCrowd: item.crowd.map { $0 != 0 })
            for d in item.dt.indices {
                for g in item.gt.indices {
                    XCTAssertEqual(ious[d, g], item.iou[d][g], "iou set \(index) dt \(d) gt \(g)")
                    if item.iou[d][g] > 0 { positive += 1; if item.crowd[g] != 0 { crowdPairs += 1 } }
                    if item.iou[d][g] == -1 { mismatched += 1 }
                }
            }
        }
        XCTAssertGreaterThan(positive, 100)
        XCTAssertGreaterThan(crowdPairs, 20)
        XCTAssertGreaterThan(mismatched, 0)
    }

    func testPolygonRasterizationMatchesPycocotools() throws {
        let fixture = try Self.fixture()
        var nonEmpty = 0
        for (index, item) in fixture.polygons.enumerated() {
            for (part, expected) in zip(item.parts, item.single) {
                XCTAssertEqual(RLE(polygon: part, height: item.h, width: item.w).compressedCounts, expected,
                               "polygon \(index) \(item.h)x\(item.w) \(part)")
            }
            let merged = RLE(polygons: item.parts, height: item.h, width: item.w)
            XCTAssertEqual(merged.compressedCounts, item.counts, "polygon \(index)")
            XCTAssertEqual(COCOSegmentation.polygons(item.parts).rle(imageHeight: item.h, imageWidth: item.w), merged)
            if merged.area > 0 { nonEmpty += 1 }
        }
        XCTAssertGreaterThan(nonEmpty, 50)
        for (index, item) in fixture.boxes.enumerated() {
            let box = COCOBox(item.box)!
            XCTAssertEqual(RLE(box: box, height: item.h, width: item.w).compressedCounts, item.counts, "box \(index)")
        }
    }

    func testBoxIoUMatchesPycocotools() throws {
        let fixture = try Self.fixture()
        var crowdPairs = 0
        for (index, item) in fixture.box_ious.enumerated() {
            let ious = COCOBox.iou(item.dt.map { COCOBox($0)! }, item.gt.map { COCOBox($0)! },
                                   isCrowd: item.crowd.map { $0 != 0 })
            XCTAssertEqual(ious.rows, item.dt.count)
            XCTAssertEqual(ious.columns, item.gt.count)
            for d in item.dt.indices {
                for g in item.gt.indices {
                    XCTAssertEqual(ious[d, g], item.iou[d][g], "box iou set \(index) dt \(d) gt \(g)")
                    if item.iou[d][g] > 0 && item.crowd[g] != 0 { crowdPairs += 1 }
                }
            }
        }
        XCTAssertGreaterThan(crowdPairs, 10)
    }

    // MARK: Hand-checked examples (no Python needed)

    /// A 3x3 mask with only the centre set: 4 zeros, 1 one, 4 zeros in column order; each count
    /// fits in one character, '0' + count.
    func testCentrePixel() throws {
        let rle = RLE(rowMajorMask: [0, 0, 0, 0, 1, 0, 0, 0, 0] as [UInt8], height: 3, width: 3)
        XCTAssertEqual(rle.counts, [4, 1, 4])
        XCTAssertEqual(rle.compressedCounts, "414")
        XCTAssertEqual(rle.area, 1)
        XCTAssertEqual(rle.boundingBox, COCOBox(x: 1, y: 1, width: 1, height: 1))
    }

    /// Column-major order: a 2x3 mask whose top row is set is 0,1 / 0,1 / 0,1 down the columns.
    func testColumnMajorOrder() {
        let rle = RLE(rowMajorMask: [1, 1, 1, 0, 0, 0] as [UInt8], height: 2, width: 3)
        XCTAssertEqual(rle.counts, [0, 1, 1, 1, 1, 1, 1])
        XCTAssertEqual(rle.rowMajorMask(), [1, 1, 1, 0, 0, 0])
        XCTAssertEqual(rle.boundingBox, COCOBox(x: 0, y: 0, width: 3, height: 1))
    }

    /// Deltas start at index 3, not 2 (pycocotools' `if(i>2)`): counts [5, 5, 5, 5] write 5, 5,
    /// 5 and then 5 - 5 = 0. Values are 5 bits a character, low bits first, with 0x20 meaning
    /// "more follows" and 0x10 of the last character the sign; 48 is added. Expected strings
    /// are pycocotools' `frPyObjects({'size': ..., 'counts': ...})` output.
    func testStringCoding() throws {
        XCTAssertEqual(RLE(height: 4, width: 5, counts: [5, 5, 5, 5]).compressedCounts, "5550")
        // 40 = 8 + 1 * 32: 'X' (8 | 0x20) then '1'; 60 = 28 + 1 * 32, and 28 has the sign bit,
        // so it needs 'l' (28 | 0x20) and '1'.
        XCTAssertEqual(RLE(height: 10, width: 10, counts: [40, 60]).compressedCounts, "X1l1")
        // The fourth count is written as 10 - 20 = -10: 22 (the low 5 bits) + 48 = 'F'.
        XCTAssertEqual(RLE(height: 10, width: 10, counts: [40, 20, 30, 10]).compressedCounts, "X1d0n0F")
        XCTAssertEqual(try RLE(compressedCounts: "X1d0n0F", height: 10, width: 10).counts, [40, 20, 30, 10])
        XCTAssertThrowsError(try RLE(compressedCounts: "X", height: 10, width: 10))  // unfinished
        XCTAssertThrowsError(try RLE(compressedCounts: "5 5", height: 10, width: 10))
    }

    func testDecodeRejectsCountsPastTheMask() {
        XCTAssertNil(RLE(height: 2, width: 2, counts: [3, 2]).rowMajorMask())
        XCTAssertEqual(RLE(height: 2, width: 2, counts: [3]).rowMajorMask(), [0, 0, 0, 0])
    }
}
