import Foundation
import XCTest
import Imaging
#if canImport(Detection)
import Detection
#else
import SelectiveSearch
#endif
import TestSupport

/// Felzenszwalb segmentation against `skimage.segmentation.felzenszwalb` (scikit-image 0.24) on
/// the same pixels and parameters. `Tools/selective_search_reference.py` writes the images and
/// skimage's label maps; agreement is measured by the adjusted Rand index (ARI, 1 = identical
/// partitions) and by segment counts. Exact equality is not expected: skimage sorts edges with an
/// unstable quicksort and smooths in float64, we sort stably in float32, so ties and near-ties
/// are visited in a different order. Measured: ARI >= 0.99 in all 15 cases, 13 of them 1.0, and
/// identical segment counts; the test asks for ARI >= 0.98 and counts within 10%.
final class FelzenszwalbSegmentationTests: XCTestCase {
    struct Reference: Decodable {
        let image: String, width: Int, height: Int
        let scale: Float, sigma: Float, min_size: Int
        let labels: String, count: Int
    }

    func testAgreesWithSkimage() throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("felzenszwalb-ref-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = Repository.url("Tools/selective_search_reference.py")
        try SelectiveSearchTestSupport.runPython([script.path, "felzenszwalb", dir.path])
        let manifest = try JSONDecoder().decode(
            [Reference].self, from: Data(contentsOf: dir.appendingPathComponent("manifest.json")))
        XCTAssertGreaterThanOrEqual(manifest.count, 10)
        var worst = 1.0
        for ref in manifest {
            let image = try SelectiveSearchTestSupport.loadImage(dir.appendingPathComponent(ref.image))
            XCTAssertEqual(image.width, ref.width)
            let raw = try Data(contentsOf: dir.appendingPathComponent(ref.labels))
            let expected = raw.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
            let ours = FelzenszwalbSegmentation(scale: ref.scale, sigma: ref.sigma, minSize: ref.min_size)
                .segment(image)
            XCTAssertEqual(ours.labels.count, expected.count)
            XCTAssertEqual(Int(ours.labels.max()!) + 1, ours.count)
            let ari = SelectiveSearchTestSupport.adjustedRandIndex(ours.labels, expected)
            worst = min(worst, ari)
            print(String(format: "felzenszwalb %@ scale=%g min_size=%d: ARI %.4f, segments ours %d skimage %d",
                         ref.image, ref.scale, ref.min_size, ari, ours.count, ref.count))
            XCTAssertGreaterThanOrEqual(ari, 0.98, "\(ref.image) scale \(ref.scale)")
            XCTAssertLessThanOrEqual(abs(ours.count - ref.count), max(2, ref.count / 10),
                                     "\(ref.image) scale \(ref.scale): \(ours.count) vs \(ref.count) segments")
        }
        print(String(format: "felzenszwalb worst ARI %.4f over %d cases", worst, manifest.count))
    }

    /// A hand-made case: two flat halves with a strong edge give exactly two segments, split at the
    /// edge, labelled in raster order.
    func testTwoFlatHalves() {
        var image = RGBImage(width: 8, height: 4)
        for y in 0..<4 { for x in 4..<8 { image[x, y] = RGBColor(red: 255, green: 255, blue: 255) } }
        let map = FelzenszwalbSegmentation(scale: 10, sigma: 0, minSize: 1).segment(image)
        XCTAssertEqual(map.count, 2)
        for y in 0..<4 { for x in 0..<8 { XCTAssertEqual(map.labels[y * 8 + x], x < 4 ? 0 : 1) } }
    }
}
