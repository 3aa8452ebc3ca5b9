import Detection
import Foundation
import Imaging
import TestSupport
import XCTest

/// Sliced inference on the embedded default model: the tiling, the two merges, and a mosaic whose
/// tiles are exactly its copies of the sample, where slicing must give every copy's detections.
final class SlicedDetectionTests: XCTestCase {
    let config = Repository.url("Config/models/shapes_mask_rcnn.json")

    func testTilesCoverTheImageWithTheOverlapAndAlignToEdges() {
        var s = SliceOptions()
        s.tileSize = 100
        s.overlap = 0.25
        let tiles = s.tiles(width: 260, height: 100)
        XCTAssertEqual(tiles.map(\.x), [0, 75, 150, 160])
        XCTAssertTrue(tiles.allSatisfy { $0.y == 0 && $0.width == 100 && $0.height == 100 })
        XCTAssertEqual(s.tiles(width: 80, height: 50).map { [$0.x, $0.y, $0.width, $0.height] }, [[0, 0, 80, 50]], "a small image is one tile")
        s.overlap = 0
        let grid = s.tiles(width: 300, height: 200)
        XCTAssertEqual(grid.count, 6)
        // Every pixel is covered.
        for y in stride(from: 0, to: 200, by: 7) {
            for x in stride(from: 0, to: 300, by: 7) {
                XCTAssertTrue(grid.contains { x >= $0.x && x < $0.x + $0.width && y >= $0.y && y < $0.y + $0.height }, "\(x),\(y)")
            }
        }
    }

    /// Two halves of one object cut by a tile border: greedy merging by intersection over the
    /// smaller box makes them one detection with the union box and the union mask; NMS keeps the
    /// better half; IoU (about 0.5 for halves) at 0.6 keeps both; another class is never merged.
    func testMergesJoinHalvesCutByABorder() throws {
        let (w, h) = (200, 100)
        func mask(_ x0: Int, _ y0: Int, _ mw: Int, _ mh: Int) -> BoxMask {
            BoxMask(x0: x0, y0: y0, width: mw, height: mh, imageWidth: w, imageHeight: h, bits: [UInt8](repeating: 1, count: mw * mh))
        }
        var det = Detections()
        det.boxes = [Box(40, 20, 100, 60), Box(95, 22, 150, 61), Box(96, 22, 150, 61)]
        det.scores = [0.9, 0.8, 0.7]
        det.labels = [1, 1, 2]
        det.masks = [mask(40, 20, 60, 40), mask(95, 22, 55, 39), mask(96, 22, 54, 39)]
        var greedy = SliceOptions()
        greedy.merge = .greedy
        greedy.metric = .ios
        greedy.matchThreshold = 0.5
        // The halves overlap in x 95..100: intersection 5 x 38 = 190 over the smaller 55 x 39 = 2145 is
        // 0.09; widen the overlap as a real tile overlap does: x 60..100, so intersection 40 x 38 =
        // 1520 over the smaller 60 x 40 = 2400 is 0.63 (IoU 1520 / 4390 = 0.35).
        det.boxes[1] = Box(60, 22, 150, 61)
        det.masks![1] = mask(60, 22, 90, 39)
        let merged = SliceMerger.merge(det, greedy)
        XCTAssertEqual(merged.count, 2, "the halves of class 1 merge, class 2 stays")
        XCTAssertEqual(merged.boxes[0], Box(40, 20, 150, 61))
        XCTAssertEqual(merged.scores[0], 0.9)
        let union = try XCTUnwrap(merged.masks?[0])
        XCTAssertEqual([union.x0, union.y0, union.width, union.height], [40, 20, 110, 41])
        XCTAssertEqual(union.area, 60 * 40 + 90 * 39 - 40 * 38, "the union counts the shared pixels once")
        XCTAssertEqual(merged.labels, [1, 2])

        var nms = greedy
        nms.merge = .nms
        let kept = SliceMerger.merge(det, nms)
        XCTAssertEqual(kept.boxes, [Box(40, 20, 100, 60), Box(96, 22, 150, 61)], "NMS keeps the better half as it is")

        var strictIoU = greedy
        strictIoU.metric = .iou
        strictIoU.matchThreshold = 0.6
        XCTAssertEqual(SliceMerger.merge(det, strictIoU).count, 3)
    }

    /// A 2 x 2 mosaic of the sample cut into tiles of the sample's size without overlap: each tile
    /// is one copy, so the sliced detections are the sample's detections four times, moved by each
    /// copy's offset (nothing crosses a border to be merged).
    func testMosaicTilesGiveEveryCopysDetections() throws {
        let model = try DetectionModel(configURL: config)
        let sample = try ImageDecoder.decode(try Data(contentsOf: Repository.url("Samples/shapes_val_0001.jpg")))
        let (w, h) = (sample.width, sample.height)
        var pixels = [UInt8](repeating: 0, count: 4 * w * h * 3)
        for (cx, cy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            for row in 0..<h {
                let dst = ((cy * h + row) * 2 * w + cx * w) * 3
                pixels.replaceSubrange(dst..<(dst + w * 3), with: sample.pixels[(row * w * 3)..<((row + 1) * w * 3)])
            }
        }
        let mosaic = RGBImage(width: 2 * w, height: 2 * h, pixels: pixels)
        var options = DetectionModel.Options(scoreThreshold: 0.3)
        options.maxDetections = 1000
        let single = model.detect(sample, options: options).detections
        XCTAssertGreaterThan(single.count, 3)
        var s = SliceOptions()
        s.tileSize = w
        s.overlap = 0
        s.merge = .nms
        s.metric = .iou
        let (det, timings, report) = model.detectSliced(mosaic, options: options, slicing: s)
        XCTAssertEqual(report.tiles, 4)
        XCTAssertEqual(report.candidates, 4 * single.count)
        XCTAssertEqual(det.count, 4 * single.count)
        func keys(_ d: Detections, dx: Float = 0, dy: Float = 0) -> [String] {
            d.boxes.indices.map { "\(d.labels[$0]) \(d.scores[$0]) \(d.boxes[$0].x1 + dx) \(d.boxes[$0].y1 + dy) \(d.boxes[$0].x2 + dx) \(d.boxes[$0].y2 + dy)" }
        }
        let expected = [(0, 0), (1, 0), (0, 1), (1, 1)].flatMap { keys(single, dx: Float($0.0 * w), dy: Float($0.1 * h)) }
        XCTAssertEqual(Set(keys(det)), Set(expected))
        // Masks are moved, not redrawn: each copy's mask is the single image's, shifted.
        let masks = try XCTUnwrap(det.masks)
        XCTAssertEqual(masks.map(\.area).reduce(0, +), 4 * (single.masks ?? []).map(\.area).reduce(0, +))
        XCTAssertTrue(masks.allSatisfy { $0.imageWidth == 2 * w && $0.imageHeight == 2 * h })
        XCTAssertEqual(Array(timings.stages.map(\.name).prefix(1)), ["slice"])
        XCTAssertTrue(timings.stages.map(\.name).contains("merge"))
        XCTAssertEqual(timings.stages.filter { $0.name == "backbone" }.count, 1, "stages are summed over the tiles")
    }
}
