import Foundation
import HTTP
import Imaging
@testable import Service
import TestSupport
import XCTest

/// `GET /`: the page is HTML, self-contained, and calls the routes the server has.
final class WebPageTests: XCTestCase {
    func testPageIsSelfContainedHTML() throws {
        let service = try ServiceFixture.service()
        let r = service.handle(ServiceFixture.request("GET", "/"))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["Content-Type"], "text/html; charset=utf-8")
        let html = String(decoding: r.body, as: UTF8.self).lowercased()
        XCTAssertTrue(html.hasPrefix("<!doctype html>"))
        for external in ["http://", "https://", "//cdn", "<link", "@import", "<script src", "<img src", "<iframe", "@font-face"] {
            XCTAssertFalse(html.contains(external), "the page must not load anything from elsewhere: found \(external)")
        }
        let style = try XCTUnwrap(html.range(of: "<style>").flatMap { s in html.range(of: "</style>").map { html[s.upperBound..<$0.lowerBound] } })
        XCTAssertFalse(style.contains("url("), "no stylesheet resources")
        XCTAssertEqual(html.components(separatedBy: "<script").count, 2, "one inline script")
        // The pieces the issue asks for, and the routes the page calls exist.
        for piece in ["type=\"file\"", "\"drop\"", "id=\"model\"", "id=\"pipeline\"", "type=\"range\"", "<canvas", "id=\"detections\"", "id=\"timings\"", "masks: \"rle\""] {
            XCTAssertTrue(html.contains(piece), "missing \(piece)")
        }
        XCTAssertEqual(Route.match("/v1/models")?.route.template, "/v1/models")
        XCTAssertEqual(Route.match("/v1/models/x/detect")?.route.template, "/v1/models/{name}/detect")
        // HEAD gives the same headers.
        XCTAssertEqual(service.handle(ServiceFixture.request("HEAD", "/")).headers["Content-Type"], "text/html; charset=utf-8")
    }

    /// The page's RLE decoder, run by Node, against the server's
    /// masks: the decoded pixel count equals the engine's mask area.
    func testRLEDecoderInThePageMatchesTheEngine() throws {
        let node = try Prerequisite.executable(["/usr/bin/node", "/usr/bin/nodejs", "/usr/local/bin/node"], "Node.js",
                                               provides: ".ci/run installs it with apt-get install nodejs")
        let service = try ServiceFixture.service()
        let r = service.handle(ServiceFixture.request("POST", "/v1/detect?score_threshold=0&max_detections=5", contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
        let dets = try XCTUnwrap(ServiceFixture.json(r)?["detections"] as? [[String: Any]])
        let html = WebPage.html
        let start = try XCTUnwrap(html.range(of: "function rleCounts"))
        let end = try XCTUnwrap(html.range(of: "function draw()"))
        let js = String(html[start.lowerBound..<end.lowerBound])
        let masks = String(decoding: try JSONSerialization.data(withJSONObject: dets.map { $0["mask"]! }), as: UTF8.self)
        let script = js + "\nconsole.log(JSON.stringify(\(masks).map((m) => decodeMask(m).reduce((a, b) => a + b, 0))));"
        let out = try TestProcess.run(node, ["-e", script])
        XCTAssertEqual(out.status, 0, out.errors)
        let areas = try XCTUnwrap(try JSONSerialization.jsonObject(with: out.stdout) as? [Int])
        let model = service.registry.defaultModel
        let image = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        let direct = model.detect(image, options: .init(scoreThreshold: 0, maxDetections: 5)).detections
        XCTAssertEqual(areas, direct.masks!.map(\.area))
    }
}
