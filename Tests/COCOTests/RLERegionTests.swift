import TestSupport
import XCTest
@testable import COCO

/// The rectangle encoder against the whole-image encoder (itself checked against pycocotools in
/// `RLETests`): the same counts, on random rectangles and contents.
final class RLERegionTests: XCTestCase {
    /// The whole image with the rectangle pasted in, as the reference encoder needs it.
    func fullImage(_ region: [UInt8], x: Int, y: Int, width: Int, height: Int, imageH: Int, imageW: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: imageH * imageW)
        for r in 0..<height { for c in 0..<width { out[(y + r) * imageW + x + c] = region[r * width + c] } }
        return out
    }

    func testRectangleEncodingEqualsWholeImageEncoding() {
        var g = SplitMix64(seed: 2024)
        var checked = 0, touchingBorders = 0, empty = 0, startsSet = 0
        for trial in 0..<3000 {
            let imageH = Int.random(in: 1...23, using: &g), imageW = Int.random(in: 1...23, using: &g)
            // Every fifth rectangle is pushed against the image's edges; some are empty.
            var x = Int.random(in: 0...imageW, using: &g), y = Int.random(in: 0...imageH, using: &g)
            if trial % 5 == 0 { x = 0; y = 0 }
            var width = Int.random(in: 0...(imageW - x), using: &g), height = Int.random(in: 0...(imageH - y), using: &g)
            if trial % 5 == 1 { width = imageW - x; height = imageH - y }
            if trial % 7 == 0 { x = 0; y = 0; width = imageW; height = imageH }
            // Contents: empty, full, sparse, dense, or one row/column set (runs across columns).
            let density = [0.0, 1.0, 0.1, 0.5, 0.9][trial % 5 == 2 ? 0 : Int.random(in: 0...4, using: &g)]
            var region = (0..<(width * height)).map { _ in UInt8(Double.random(in: 0..<1, using: &g) < density ? 1 : 0) }
            if trial % 11 == 0, height > 0 { for c in 0..<width { region[(height - 1) * width + c] = 255 } }
            let full = fullImage(region, x: x, y: y, width: width, height: height, imageH: imageH, imageW: imageW)
            let expected = RLE(rowMajorMask: full, height: imageH, width: imageW)
            let ours = RLE(rowMajorRegion: region, x: x, y: y, width: width, height: height, imageHeight: imageH, imageWidth: imageW)
            XCTAssertEqual(ours, expected, "trial \(trial): \(imageW)x\(imageH) image, rectangle \(x),\(y) \(width)x\(height)")
            checked += 1
            if (x == 0 || y == 0) && (x + width == imageW || y + height == imageH) { touchingBorders += 1 }
            if !full.contains(where: { $0 != 0 }) { empty += 1 }
            if full.first != 0 { startsSet += 1 }
        }
        // The cases that exercise the edges of the run logic did occur.
        XCTAssertGreaterThan(touchingBorders, 300)
        XCTAssertGreaterThan(empty, 300)
        XCTAssertGreaterThan(startsSet, 50)
        XCTAssertEqual(checked, 3000)
    }

    /// pycocotools' own test masks, placed at offsets inside larger images.
    func testFixtureMasksInsideLargerImages() throws {
        let fixture = try RLETests.fixture()
        for (index, mask) in fixture.masks.enumerated() {
            let pixels = mask.bits.utf8.map { UInt8($0 - 48) }
            for (dx, dy, extraW, extraH) in [(0, 0, 0, 0), (3, 0, 5, 2), (0, 4, 1, 0), (2, 7, 0, 3)] {
                let imageW = mask.w + dx + extraW, imageH = mask.h + dy + extraH
                let full = fullImage(pixels, x: dx, y: dy, width: mask.w, height: mask.h, imageH: imageH, imageW: imageW)
                let ours = RLE(rowMajorRegion: pixels, x: dx, y: dy, width: mask.w, height: mask.h, imageHeight: imageH, imageWidth: imageW)
                XCTAssertEqual(ours, RLE(rowMajorMask: full, height: imageH, width: imageW), "mask \(index) at \(dx),\(dy)")
                if dx == 0 && dy == 0 && extraW == 0 && extraH == 0 {
                    XCTAssertEqual(ours.compressedCounts, mask.counts, "mask \(index): pycocotools' string")
                }
            }
        }
    }
}
