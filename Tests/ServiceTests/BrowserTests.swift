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
        // The default model's poses: the page's keypoints column (checked against the answer by
        // the script) has something to show.
        XCTAssertTrue(expected.allSatisfy { ($0["keypoints"] as? [[Double]])?.isEmpty == false }, "the default model returns keypoints")
        XCTAssertTrue(FileManager.default.fileExists(atPath: shot))
    }

    /// A phone photo stored sideways (EXIF Orientation 6, written by Pillow from a non-square crop
    /// of the sample): the browser shows it upright, the server detects in that frame, and the page
    /// draws boxes and masks on it (the canvas is the upright size, every mask is shown).
    func testPageDrawsARotatedPhotoUpright() throws {
        let chromium = try Prerequisite.executable(["/usr/bin/chromium", "/usr/bin/chromium-browser"], "Chromium",
                                                   provides: ".ci/run installs it with apt-get install chromium")
        let python = LiveServer.python
        try Prerequisite.require(try TestProcess.run(python, ["-c", "import PIL"]).status == 0, "Pillow for \(python)",
                                 provides: "Tools/setup_python.sh creates .venv on Debian's python3 with PIL")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-browser-rotated-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let rotated = dir.appendingPathComponent("rotated.jpg").path
        let made = try TestProcess.run(python, ["-c", """
            import sys
            from PIL import Image
            im = Image.open(sys.argv[1]).convert("RGB")
            im = im.crop((0, 0, im.width, im.height * 3 // 4))
            exif = Image.Exif()
            exif[0x0112] = 6
            im.transpose(Image.Transpose.ROTATE_90).save(sys.argv[2], quality=95, exif=exif.tobytes())
            print(im.width, im.height)
            """, ServiceFixture.sample.path, rotated])
        XCTAssertEqual(made.status, 0, made.errors)
        let size = made.output.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(size.count, 2)

        let service = try LiveServer.service { _ in }
        service.registry.warmUp(runs: 0)
        let live = try LiveServer(service)
        defer { live.stop() }
        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-browser-rotated.png").path
        let r = try TestProcess.run("/usr/bin/python3", [Repository.url("Tests/Browser/browser_check.py").path, "--base", live.base,
                                                        "--image", rotated, "--screenshot", shot, "--chromium", chromium])
        XCTAssertEqual(r.status, 0, r.output + r.errors)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.output)
        XCTAssertEqual(summary["ok"] as? Bool, true, r.output)
        XCTAssertGreaterThan(summary["server_detections"] as? Int ?? 0, 0)
        XCTAssertEqual((summary["page"] as? [String: Any])?["canvas"] as? [Int], size, "the canvas is the upright photo, not the stored frame")
    }

    /// A large image (a 4 x 4 mosaic of the sample, 1280 px) with the page's default "Large images:
    /// slice when much larger than the model's input": the page's detections are the server's
    /// sliced answer, and the status line names the tiles.
    func testPageSlicesALargeImage() throws {
        let chromium = try Prerequisite.executable(["/usr/bin/chromium", "/usr/bin/chromium-browser"], "Chromium",
                                                   provides: ".ci/run installs it with apt-get install chromium")
        let python = LiveServer.python
        try Prerequisite.require(try TestProcess.run(python, ["-c", "import PIL"]).status == 0, "Pillow for \(python)",
                                 provides: "Tools/setup_python.sh creates .venv on Debian's python3 with PIL")
        let mosaic = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-browser-mosaic-\(getpid()).jpg").path
        defer { try? FileManager.default.removeItem(atPath: mosaic) }
        let made = try TestProcess.run(python, ["-c", """
            import sys
            from PIL import Image
            im = Image.open(sys.argv[1]).convert("RGB")
            big = Image.new("RGB", (4 * im.width, 4 * im.height))
            for i in range(4):
                for j in range(4):
                    big.paste(im, (i * im.width, j * im.height))
            big.save(sys.argv[2], quality=95)
            """, ServiceFixture.sample.path, mosaic])
        XCTAssertEqual(made.status, 0, made.errors)
        let service = try LiveServer.service { _ in }
        service.registry.warmUp(runs: 0)
        let live = try LiveServer(service)
        defer { live.stop() }
        let shot = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-browser-sliced.png").path
        let r = try TestProcess.run("/usr/bin/python3", [Repository.url("Tests/Browser/browser_check.py").path, "--base", live.base,
                                                        "--image", mosaic, "--screenshot", shot, "--chromium", chromium, "--threshold", "0.5"])
        XCTAssertEqual(r.status, 0, r.output + r.errors)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.output)
        XCTAssertEqual(summary["ok"] as? Bool, true, r.output)
        XCTAssertEqual(summary["sliced"] as? Bool, true, r.output)
        XCTAssertGreaterThan(summary["server_detections"] as? Int ?? 0, 60, "the whole image gives 50 at 0.5")
    }
}
