import Foundation
import TestSupport
import XCTest

extension CLITests {
    /// `rcnn detect --slice on` on a 4 x 4 mosaic of the sample (written by Pillow) reports its tiles
    /// and finds more than the whole-image pass, which shrinks every copy below the model's scale;
    /// `rcnn eval --slice on` runs the COCO evaluation on tiles; bad settings are clear errors.
    func testSlicedDetectAndEval() throws {
        let python = Repository.venvPython
        try Prerequisite.require(FileManager.default.isExecutableFile(atPath: python)
                                    && (try run(python, ["-c", "import PIL"])).status == 0,
                                 "Pillow in .venv", provides: "Tools/setup_python.sh creates .venv on Debian's python3 with PIL")
        let mosaic = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-mosaic-\(getpid()).png").path
        defer { try? FileManager.default.removeItem(atPath: mosaic) }
        let made = try run(python, ["-c", """
            import sys
            from PIL import Image
            im = Image.open(sys.argv[1]).convert("RGB")
            big = Image.new("RGB", (4 * im.width, 4 * im.height))
            for i in range(4):
                for j in range(4):
                    big.paste(im, (i * im.width, j * im.height))
            big.save(sys.argv[2])
            """, Self.sample, mosaic])
        XCTAssertEqual(made.status, 0, made.errors)
        func detect(_ extra: [String]) throws -> [String: Any] {
            let r = try run(binary, ["detect", "--config", Self.model, "--score-threshold", "0.5", "--max-detections", "1000", "--no-masks", mosaic] + extra)
            XCTAssertEqual(r.status, 0, r.errors)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        }
        let whole = try detect([]), sliced = try detect(["--slice", "on", "--slice-overlap", "0.25"])
        XCTAssertNil(whole["slicing"])
        let slicing = try XCTUnwrap(sliced["slicing"] as? [String: Any])
        XCTAssertGreaterThan(slicing["tiles"] as? Int ?? 0, 4)
        let n = { (d: [String: Any]) in (d["detections"] as? [Any])?.count ?? 0 }
        XCTAssertGreaterThan(n(sliced), 2 * n(whole), "the 16 copies are found when sliced")
        XCTAssertEqual(try detect(["--slice", "auto"])["slicing"] != nil, true, "1280 px is more than twice the model's min_size")

        let bad = try run(binary, ["detect", "--config", Self.model, mosaic, "--slice", "on", "--slice-merge", "wbf"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.errors.contains("--slice-merge must be greedy or nms"), bad.errors)

        let ev = try run(binary, ["eval", "--annotations", "Samples/instances_samples.json", "--images", "Samples", "--json",
                                  "--score-threshold", "0.01", "--slice", "on", "--slice-size", "256"])
        XCTAssertEqual(ev.status, 0, ev.errors)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: ev.stdout) as? [String: [String: Double]])
        XCTAssertEqual(report["bbox"]?.count, 12)
        XCTAssertGreaterThan(report["bbox"]?.values.max() ?? 0, 0.1, "sliced evaluation finds the objects")
    }
}
