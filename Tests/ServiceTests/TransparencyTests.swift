import Foundation
import HTTP
import Imaging
@testable import Service
import XCTest

/// Transparency over the API: what lies under transparent pixels is not detected. An RGBA PNG whose
/// right half is fully transparent (its colours still there) gets the detections of the same image
/// with that half painted the background colour; `background=none` drops the alpha and detects
/// what is underneath.
final class TransparencyTests: XCTestCase {
    var service: DetectionService!

    override func setUpWithError() throws {
        service = try ServiceFixture.service()
        service.registry.warmUp(runs: 0)
    }

    func detections(_ png: [UInt8], _ query: String) throws -> [[String: Any]] {
        let r = service.handle(ServiceFixture.request("POST", "/v1/detect?\(query)", contentType: "image/png", body: png))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        return try XCTUnwrap(ServiceFixture.json(r)?["detections"] as? [[String: Any]])
    }

    func summary(_ d: [[String: Any]]) -> [String] {
        d.map { "\($0["label"] as? String ?? "?") \($0["score"] as? Double ?? -1) \($0["box"] as? [Double] ?? [])" }
    }

    func testTransparentHalfIsCompositedOverTheBackground() throws {
        let image = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        let (w, h) = (image.width, image.height)
        var rgba = [UInt8](repeating: 255, count: w * h * 4)
        for i in 0..<(w * h) {
            rgba[i * 4] = image.pixels[i * 3]; rgba[i * 4 + 1] = image.pixels[i * 3 + 1]; rgba[i * 4 + 2] = image.pixels[i * 3 + 2]
            if i % w >= w / 2 { rgba[i * 4 + 3] = 0 }
        }
        let transparent = TestImageFiles.rgbaPNG(width: w, height: h, rgba: rgba)
        func painted(_ c: RGBColor) throws -> [UInt8] {
            var p = image.pixels
            for i in 0..<(w * h) where i % w >= w / 2 { p[i * 3] = c.red; p[i * 3 + 1] = c.green; p[i * 3 + 2] = c.blue }
            return try ImageEncoder.png(RGBImage(width: w, height: h, pixels: p))
        }
        let query = "score_threshold=0.05&masks=none"
        let whole = try detections(try ImageEncoder.png(image), query)
        XCTAssertTrue(whole.contains { ($0["box"] as? [Double])?[0] ?? 0 > Double(w / 2) }, "the test needs objects in the right half")

        let overWhite = try detections(transparent, query)
        XCTAssertEqual(summary(overWhite), summary(try detections(try painted(.white), query)), "default: composited over white")
        XCTAssertFalse(overWhite.contains { ($0["box"] as? [Double])?[0] ?? 0 > Double(w / 2) + 2 }, "nothing detected under transparent pixels")
        let overColour = try detections(transparent, query + "&background=%233366CC")
        XCTAssertEqual(summary(overColour), summary(try detections(try painted(RGBColor(hex: 0x3366CC)), query)))
        XCTAssertEqual(summary(try detections(transparent, query + "&background=none")), summary(whole), "none: alpha dropped")

        let bad = service.handle(ServiceFixture.request("POST", "/v1/detect?background=purple", contentType: "image/png", body: transparent))
        XCTAssertEqual(bad.status, 422)
    }
}
