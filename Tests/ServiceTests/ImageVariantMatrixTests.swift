import Foundation
@testable import Service
import TestSupport
import XCTest

/// Every image variant Pillow can make here (progressive, CMYK, subsampling, palette, 1- to 16-bit,
/// Adam7, tiny and extreme sizes, every EXIF orientation, transparency) through the running
/// server: the pixels it detects on equal Pillow's view of the file (exif_transpose, alpha over
/// white) byte for byte, and damaged files get clean 400s (Tests/Images/api_variant_matrix.py).
final class ImageVariantMatrixTests: XCTestCase {
    func testEveryVariantIsDetectedOnPillowsPixels() throws {
        let python = LiveServer.python
        try Prerequisite.require(try TestProcess.run(python, ["-c", "import PIL, numpy"]).status == 0, "Pillow and numpy for \(python)",
                                 provides: "Tools/setup_python.sh creates .venv on Debian's python3 with PIL and numpy")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-variant-matrix-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try TestProcess.run(python, [Repository.url("Tools/make_image_fixtures.py").path, "--out", dir.path])
        XCTAssertEqual(made.status, 0, made.errors)

        let service = try LiveServer.service { _ in }
        service.registry.warmUp(runs: 0)
        let live = try LiveServer(service)
        defer { live.stop() }
        let r = try TestProcess.run(python, [Repository.url("Tests/Images/api_variant_matrix.py").path, "--base", live.base, "--fixtures", dir.path])
        XCTAssertEqual(r.status, 0, r.output + r.errors)
        XCTAssertTrue(r.output.contains(" 0 failed"), r.output)
        let passed = r.output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count
        XCTAssertGreaterThanOrEqual(passed, 55, "too few variants checked:\n\(r.output)")
    }
}
