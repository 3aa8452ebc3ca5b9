import COCO
import Detection
import Foundation
import HTTP
import Imaging
@testable import Service
import XCTest

/// The API through `DetectionService.handle`, without sockets, on the embedded default model.
final class RouteTests: XCTestCase {
    var service: DetectionService!

    override func setUpWithError() throws { service = try ServiceFixture.service() }

    func get(_ path: String) -> HTTPResponse { service.handle(ServiceFixture.request("GET", path)) }

    func testHealthReadinessAndModels() throws {
        XCTAssertEqual(get("/healthz").status, 200)
        service.registry.warmUp(runs: 1)
        XCTAssertEqual(get("/readyz").status, 200)
        let models = ServiceFixture.json(get("/v1/models"))?["models"] as? [[String: Any]]
        XCTAssertEqual(models?.first?["name"] as? String, "shapes_mask_rcnn")
        let one = ServiceFixture.json(get("/v1/models/shapes_mask_rcnn"))
        XCTAssertEqual(one?["pipelines"] as? [String], ["mask", "faster", "fast", "rcnn"])
        XCTAssertEqual((one?["classes"] as? [String])?.count, 9)
        XCTAssertEqual(one?["weights_sha256"] as? String, "989d2594b29d0b926b958855e7c94fbe4856d616476d5dae7bc70b57c072ff7a",
                       "the checksum in Config/models/shapes_mask_rcnn.json")
        XCTAssertEqual(one?["precision"] as? String, "float32")
        XCTAssertNil(one?["int8_layers"], "a float32 model lists no int8 layers")
        let missing = get("/v1/models/nope")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual((ServiceFixture.json(missing)?["error"] as? [String: Any])?["code"] as? String, "not_found")
        XCTAssertEqual(get("/nowhere").status, 404)
    }

    func testWrongMethodIs405WithAllow() {
        let r = service.handle(ServiceFixture.request("GET", "/v1/detect"))
        XCTAssertEqual(r.status, 405)
        XCTAssertEqual(r.headers["Allow"], "POST, OPTIONS", "a 405 names OPTIONS, which the route answers")
        let p = service.handle(ServiceFixture.request("POST", "/healthz"))
        XCTAssertEqual(p.status, 405)
        XCTAssertEqual(p.headers["Allow"], "GET, HEAD, OPTIONS")
    }

    func testDetectReturnsTheEngineDocument() throws {
        let r = service.handle(ServiceFixture.request("POST", "/v1/detect?score_threshold=0.0&max_detections=20", contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let doc = try XCTUnwrap(ServiceFixture.json(r))
        XCTAssertEqual(doc["model"] as? String, "shapes_mask_rcnn")
        XCTAssertEqual(doc["pipeline"] as? String, "mask")
        XCTAssertEqual((doc["image"] as? [String: Int])?["width"], 320)
        let dets = try XCTUnwrap(doc["detections"] as? [[String: Any]])
        XCTAssertFalse(dets.isEmpty)
        XCTAssertLessThanOrEqual(dets.count, 20)
        let first = dets[0]
        XCTAssertEqual((first["box"] as? [Double])?.count, 4)
        let mask = try XCTUnwrap(first["mask"] as? [String: Any])
        XCTAssertEqual(mask["size"] as? [Int], [320, 320])
        // The mask is the engine's own mask of the first detection, as COCO compressed RLE.
        let counts = try XCTUnwrap(mask["counts"] as? String)
        XCTAssertGreaterThan(try XCTUnwrap((doc["timings_ms"] as? [String: Double])?["backbone"]), 0)

        // The same detections as the engine run directly.
        let model = service.registry.defaultModel
        let image = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        let direct = model.detect(image, options: .init(scoreThreshold: 0, maxDetections: 20)).detections
        XCTAssertEqual(dets.count, direct.count)
        XCTAssertEqual(dets.map { Float($0["score"] as! Double) }, direct.scores)
        XCTAssertEqual(counts, try XCTUnwrap(direct.masks?.first).rle().compressedCounts)
    }

    func testMaskFormatsClassesAndPipelines() throws {
        let body = try ServiceFixture.sampleBytes()
        func post(_ q: String, accept: String? = nil) -> HTTPResponse {
            service.handle(ServiceFixture.request("POST", "/v1/models/shapes_mask_rcnn/detect?score_threshold=0&max_detections=10" + q,
                                                  contentType: "application/octet-stream", body: body,
                                                  headers: accept.map { [("Accept", $0)] } ?? []))
        }
        let poly = try XCTUnwrap(ServiceFixture.json(post("&masks=polygon"))?["detections"] as? [[String: Any]])
        let polygons = try XCTUnwrap((poly.first?["mask"] as? [String: Any])?["polygons"] as? [[Double]])
        XCTAssertFalse(polygons.isEmpty, "the top detection's mask has at least one outline")
        for ring in polygons {
            XCTAssertEqual(ring.count % 2, 0, "x, y pairs")
            XCTAssertGreaterThanOrEqual(ring.count, 6, "a polygon has at least 3 points")
        }
        let none = try XCTUnwrap(ServiceFixture.json(post("&masks=none"))?["detections"] as? [[String: Any]])
        XCTAssertTrue(none.allSatisfy { $0["mask"] == nil })
        let faster = try XCTUnwrap(ServiceFixture.json(post("&pipeline=faster")))
        XCTAssertEqual(faster["pipeline"] as? String, "faster")
        XCTAssertTrue((faster["detections"] as! [[String: Any]]).allSatisfy { $0["mask"] == nil })
        let all = try XCTUnwrap(ServiceFixture.json(post(""))?["detections"] as? [[String: Any]])
        let label = try XCTUnwrap(all.first?["label"] as? String)
        let only = try XCTUnwrap(ServiceFixture.json(post("&classes=\(label)"))?["detections"] as? [[String: Any]])
        XCTAssertFalse(only.isEmpty)
        XCTAssertTrue(only.allSatisfy { $0["label"] as? String == label })
        XCTAssertEqual(post("&pipeline=yolo").status, 422)
        XCTAssertEqual(post("&classes=unicorn").status, 422)
        // Annotated output: by query or by Accept.
        for r in [post("&format=png"), post("", accept: "image/png")] {
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.headers["Content-Type"], "image/png")
            XCTAssertEqual(Array(r.body.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
            let drawn = try ImageDecoder.decode(r.body)
            XCTAssertEqual([drawn.width, drawn.height], [320, 320])
            XCTAssertNotEqual(drawn.pixels, try ImageDecoder.decode(body).pixels)
        }
        let jpeg = post("&format=jpeg")
        XCTAssertEqual(jpeg.headers["Content-Type"], "image/jpeg")
        XCTAssertEqual(Array(jpeg.body.prefix(2)), [0xFF, 0xD8])
    }

    func testBadImagesGetPreciseErrors() throws {
        func post(_ body: [UInt8], _ type: String = "image/jpeg") -> (Int, String?) {
            let r = service.handle(ServiceFixture.request("POST", "/v1/detect", contentType: type, body: body))
            return (r.status, (ServiceFixture.json(r)?["error"] as? [String: Any])?["code"] as? String)
        }
        let sample = try ServiceFixture.sampleBytes()
        XCTAssertEqual(post(Array(sample.prefix(300))).0, 400)            // truncated JPEG
        XCTAssertEqual(post(Array("GIF89a....".utf8)).0, 400)               // not JPEG/PNG
        XCTAssertEqual(post(sample, "text/plain").0, 415)
        // A PNG header declaring 60000 x 60000 pixels: refused before decoding (decompression bomb).
        // A real 8x8 PNG whose IHDR is rewritten to 60000 x 60000 (CRC fixed).
        var png = try ImageEncoder.png(RGBImage(width: 8, height: 8))
        png.replaceSubrange(16..<24, with: [0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60])
        let crc = crc32(Array(png[12..<29]))
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        let bomb = post(png, "image/png")
        XCTAssertEqual(bomb.0, 413, "declared size should be refused as too large: \(bomb)")
        XCTAssertEqual(bomb.1, "image_too_large")
    }
}

/// CRC-32 (ISO-HDLC), as PNG chunks use.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
    }
    return c ^ 0xFFFF_FFFF
}

/// The Fast R-CNN pipeline through the API: client proposals and selective search.
final class FastPipelineRouteTests: XCTestCase {
    func testClientProposalsAndSelectiveSearch() throws {
        let service = try ServiceFixture.service()
        let b64 = Data(try ServiceFixture.sampleBytes()).base64EncodedString()
        func post(_ fields: [String: Any]) throws -> HTTPResponse {
            var body = fields
            body["image"] = b64
            return service.handle(ServiceFixture.request("POST", "/v1/detect", contentType: "application/json",
                                                         body: [UInt8](try JSONSerialization.data(withJSONObject: body))))
        }
        // Proposals imply the fast pipeline; detections are boxes regressed from them.
        let proposals: [[Double]] = [[10, 10, 120, 120], [150, 40, 300, 200], [0, 0, 320, 320], [60, 200, 140, 300]]
        let r = try post(["proposals": proposals, "score_threshold": 0.0, "max_detections": 50])
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let doc = try XCTUnwrap(ServiceFixture.json(r))
        XCTAssertEqual(doc["pipeline"] as? String, "fast")
        let dets = try XCTUnwrap(doc["detections"] as? [[String: Any]])
        XCTAssertFalse(dets.isEmpty)
        XCTAssertTrue(dets.allSatisfy { $0["mask"] == nil })
        let timings = try XCTUnwrap(doc["timings_ms"] as? [String: Double])
        XCTAssertNil(timings["rpn"])
        XCTAssertNil(timings["selective_search"])

        // Without proposals the fast pipeline runs selective search.
        let ss = try XCTUnwrap(ServiceFixture.json(try post(["pipeline": "fast", "max_detections": 10])))
        XCTAssertEqual(ss["pipeline"] as? String, "fast")
        XCTAssertGreaterThan(try XCTUnwrap((ss["timings_ms"] as? [String: Double])?["selective_search"]), 0)

        // R-CNN on the same proposals: one network pass per region.
        let rc = try XCTUnwrap(ServiceFixture.json(try post(["proposals": proposals, "pipeline": "rcnn", "score_threshold": 0.0])))
        XCTAssertEqual(rc["pipeline"] as? String, "rcnn")
        XCTAssertGreaterThan(try XCTUnwrap((rc["timings_ms"] as? [String: Double])?["regions"]), 0)
        XCTAssertFalse((rc["detections"] as? [[String: Any]] ?? []).isEmpty)

        // Invalid proposals are refused with the reason.
        XCTAssertEqual(try post(["proposals": proposals, "pipeline": "mask"]).status, 422)
        XCTAssertEqual(try post(["proposals": proposals, "pipeline": "faster"]).status, 422)
        XCTAssertEqual(try post(["proposals": [[10, 10, 5, 50]]]).status, 422)
        XCTAssertEqual(try post(["proposals": [[1, 2, 3]]]).status, 422)
        XCTAssertEqual(try post(["proposals": [[1000, 1000, 2000, 2000]]]).status, 422)
        XCTAssertEqual(try post(["proposals": []]).status, 422)
        XCTAssertEqual(try post(["proposals": "not json"]).status, 422)
    }
}
