import Foundation
@testable import Service
import XCTest

/// The web page in a real browser: headless Chromium (apt `chromium`) loads `/` from the live
/// server, submits the sample image and checks what the page drew (`Tests/Browser/browser_check.py`).
/// The screenshot is kept at `$TMPDIR/rcnn-browser-check.png`. Skipped where Chromium is absent.
final class BrowserTests: XCTestCase {
    func testPageDetectsInHeadlessChromium() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("chromium is not installed (apt-get install chromium)")
        }
        let service = try LiveServer.service { _ in }
        service.registry.warmUp(runs: 0)
        let live = try LiveServer(service)
        defer { live.stop() }
        let script = ServiceFixture.repoRoot.appendingPathComponent("Tests/Browser/browser_check.py").path
        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-browser-check.png").path
        let r = try LiveServer.run("/usr/bin/python3", [script, "--base", live.base, "--image", ServiceFixture.sample.path,
                                                        "--screenshot", shot, "--chromium", chromium])
        let text = String(decoding: r.out, as: UTF8.self)
        XCTAssertEqual(r.status, 0, text + String(decoding: r.err, as: UTF8.self))
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.out) as? [String: Any], text)
        XCTAssertEqual(summary["ok"] as? Bool, true, text)
        XCTAssertGreaterThan(summary["server_detections"] as? Int ?? 0, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: shot))
    }
}
