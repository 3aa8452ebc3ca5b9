import Detection
import Foundation
import HTTP
import Imaging
@testable import Service
import XCTest

/// Sliced inference over the API: the answer reports the tiles and the merge, the detections are
/// the engine's sliced run, auto slices only large images, the metrics count tiles, and bad
/// settings are 422s.
final class SliceRequestTests: XCTestCase {
    var service: DetectionService!

    override func setUpWithError() throws {
        service = try ServiceFixture.service()
        service.registry.warmUp(runs: 0)
    }

    /// A 3 x 3 mosaic of the sample (960 x 960 for the 320 x 320 sample), as PNG.
    func mosaic() throws -> (RGBImage, [UInt8]) {
        let s = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        var pixels = [UInt8](repeating: 0, count: 9 * s.pixels.count)
        for cy in 0..<3 {
            for cx in 0..<3 {
                for row in 0..<s.height {
                    let dst = ((cy * s.height + row) * 3 * s.width + cx * s.width) * 3
                    pixels.replaceSubrange(dst..<(dst + s.width * 3), with: s.pixels[(row * s.width * 3)..<((row + 1) * s.width * 3)])
                }
            }
        }
        let image = RGBImage(width: 3 * s.width, height: 3 * s.height, pixels: pixels)
        return (image, try ImageEncoder.png(image))
    }

    func post(_ body: [UInt8], _ query: String, type: String = "image/png") -> HTTPResponse {
        service.handle(ServiceFixture.request("POST", "/v1/detect?\(query)", contentType: type, body: body))
    }

    func testSlicedAnswerIsTheEnginesSlicedRun() throws {
        let (image, png) = try mosaic()
        let model = try XCTUnwrap(service.registry.models.first)
        let tilesBefore = service.metrics.sliceTiles.value(["shapes_mask_rcnn"])
        let r = post(png, "score_threshold=0.5&max_detections=1000&slice=on&slice_overlap=0.25&masks=rle")
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let doc = try XCTUnwrap(ServiceFixture.json(r))
        let slicing = try XCTUnwrap(doc["slicing"] as? [String: Any])
        var options = SliceOptions()
        options.tileSize = model.config.transform.minSize
        options.overlap = 0.25
        let tiles = options.tiles(width: image.width, height: image.height).count
        XCTAssertEqual(slicing["tiles"] as? Int, tiles)
        XCTAssertGreaterThan(tiles, 1)
        XCTAssertEqual(slicing["size"] as? Int, model.config.transform.minSize, "the tile size defaults to the model's min_size")
        XCTAssertEqual(slicing["merge"] as? String, "greedy")
        XCTAssertEqual(slicing["match"] as? String, "iou")
        XCTAssertEqual(slicing["threads"] as? Int, 1, "the fixture's scheduler has one worker")
        XCTAssertGreaterThan(try XCTUnwrap(slicing["wall_ms"] as? Double), 0)
        XCTAssertEqual(service.metrics.sliceTiles.value(["shapes_mask_rcnn"]) - tilesBefore, Double(tiles))

        var engineOptions = DetectionModel.Options(scoreThreshold: 0.5, maxDetections: 1000)
        engineOptions.masks = true
        let engine = model.detectSliced(image, options: engineOptions, slicing: options).detections
        let served = try XCTUnwrap(doc["detections"] as? [[String: Any]])
        XCTAssertEqual(served.count, engine.count)
        XCTAssertEqual(served.compactMap { $0["score"] as? Double }.map { Float($0) }, engine.scores)
        XCTAssertEqual(served.compactMap { ($0["mask"] as? [String: Any])?["counts"] as? String }, engine.masks?.map { $0.rle().compressedCounts })

        // Sliced finds more in the mosaic than the whole-image pass, which shrinks every copy.
        let whole = try XCTUnwrap(ServiceFixture.json(post(png, "score_threshold=0.5&max_detections=1000&masks=none"))?["detections"] as? [[String: Any]])
        XCTAssertGreaterThan(served.count, whole.count)
        XCTAssertNil(ServiceFixture.json(post(png, "score_threshold=0.5&masks=none"))?["slicing"], "no slicing unless asked")
    }

    /// With two workers and nothing else to do, the idle worker runs tiles too; the answer is the
    /// same as the engine's tiles run one after another (tiles are merged in tile order).
    func testIdleWorkersRunTilesAndTheAnswerIsUnchanged() throws {
        let (image, png) = try mosaic()
        let model = try XCTUnwrap(service.registry.models.first)
        var config = service.config
        config.workers = 2
        let scheduler = InferenceScheduler(workers: 2, queueDepth: 2, idleRelease: nil)
        defer { scheduler.shutdown() }
        let two = DetectionService(registry: service.registry, scheduler: scheduler, config: config)
        let r = two.handle(ServiceFixture.request("POST", "/v1/detect?score_threshold=0.3&max_detections=1000&slice=on&masks=rle",
                                                  contentType: "image/png", body: png))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let doc = try XCTUnwrap(ServiceFixture.json(r))
        let slicing = try XCTUnwrap(doc["slicing"] as? [String: Any])
        XCTAssertEqual(slicing["threads"] as? Int, 2, "the idle worker ran no tile")
        var options = SliceOptions()
        options.tileSize = model.config.transform.minSize
        var engineOptions = DetectionModel.Options(scoreThreshold: 0.3, maxDetections: 1000)
        engineOptions.masks = true
        let engine = model.detectSliced(image, options: engineOptions, slicing: options).detections
        let served = try XCTUnwrap(doc["detections"] as? [[String: Any]])
        XCTAssertGreaterThan(engine.count, 9)
        XCTAssertEqual(served.count, engine.count)
        XCTAssertEqual(served.compactMap { $0["score"] as? Double }.map { Float($0) }, engine.scores)
        XCTAssertEqual(served.compactMap { $0["class_id"] as? Int }, engine.labels)
        XCTAssertEqual(served.compactMap { ($0["mask"] as? [String: Any])?["counts"] as? String }, engine.masks?.map { $0.rle().compressedCounts })
    }

    func testAutoSlicesOnlyLargeImages() throws {
        let small = post(try ServiceFixture.sampleBytes(), "slice=auto&masks=none", type: "image/jpeg")
        XCTAssertEqual(small.status, 200)
        XCTAssertNil(ServiceFixture.json(small)?["slicing"], "the sample is the model's input size")
        let (_, png) = try mosaic()
        let large = post(png, "slice=auto&masks=none")
        XCTAssertEqual(large.status, 200)
        XCTAssertNotNil(ServiceFixture.json(large)?["slicing"], "960 px is more than twice the model's min_size")
    }

    func testBadSliceSettingsAre422() throws {
        let body = try ServiceFixture.sampleBytes()
        for q in ["slice=maybe", "slice=on&slice_size=10", "slice=on&slice_overlap=0.95", "slice=on&slice_merge=wbf",
                  "slice=on&slice_match=giou", "slice=on&slice_match_threshold=2", "slice=on&slice_full_pass=yes",
                  "slice=on&proposals=%5B%5B0,0,10,10%5D%5D"] {
            XCTAssertEqual(post(body, q, type: "image/jpeg").status, 422, q)
        }
    }
}
