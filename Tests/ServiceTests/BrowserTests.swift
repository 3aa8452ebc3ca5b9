import Foundation
@testable import Service
import TestSupport
import XCTest

/// The web page in a real browser: headless Chromium (apt `chromium`) loads `/` from the live
/// server, submits the sample image and checks what the page drew (`Tests/Browser/browser_check.py`).
/// The screenshot is kept at `$TMPDIR/rcnn-browser-check.png`. A missing Chromium is a missing
/// prerequisite (`Prerequisite`: a failure on CI).
final class BrowserTests: XCTestCase {
    func testPageDetectsInHeadlessChromium() throws {
        let chromium = try Prerequisite.executable(["/usr/bin/chromium", "/usr/bin/chromium-browser"], "Chromium",
                                                   provides: ".ci/run installs it with apt-get install chromium")
        let service = try LiveServer.service { _ in }
        service.registry.warmUp(runs: 0)
        let live = try LiveServer(service)
        defer { live.stop() }
        let script = Repository.url("Tests/Browser/browser_check.py").path
        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-browser-check.png").path
        let r = try TestProcess.run("/usr/bin/python3", [script, "--base", live.base, "--image", ServiceFixture.sample.path,
                                                        "--screenshot", shot, "--chromium", chromium])
        let text = r.output
        XCTAssertEqual(r.status, 0, text + r.errors)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], text)
        XCTAssertEqual(summary["ok"] as? Bool, true, text)
        // The page asked the server for the model and pipeline it chose, at the script's default
        // threshold (0.3): the same question asked of the service directly has the same answer.
        let model = try XCTUnwrap(summary["model"] as? String), pipeline = try XCTUnwrap(summary["pipeline"] as? String)
        XCTAssertEqual(model, "shapes_mask_rcnn")
        let direct = service.handle(ServiceFixture.request(
            "POST", "/v1/models/\(model)/detect?score_threshold=0.3&pipeline=\(pipeline)&masks=rle",
            contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
        let expected = try XCTUnwrap(ServiceFixture.json(direct)?["detections"] as? [[String: Any]])
        XCTAssertGreaterThan(expected.count, 0, "the sample has objects at 0.3; a page showing none would pass vacuously")
        XCTAssertEqual(summary["server_detections"] as? Int, expected.count)
        XCTAssertTrue(FileManager.default.fileExists(atPath: shot))
    }
}
