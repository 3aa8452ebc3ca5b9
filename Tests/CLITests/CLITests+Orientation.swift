import Foundation
import TestSupport
import XCTest

extension CLITests {
    /// `rcnn detect` on a phone-style photo stored sideways (Pillow writes the sample rotated 90
    /// degrees as a PNG with EXIF Orientation 6, which viewers turn back upright) gives the
    /// detections of the upright copy, in the upright frame; `--stored-orientation` keeps the
    /// stored frame.
    func testDetectTurnsARotatedPhotoUpright() throws {
        let python = Repository.venvPython
        try Prerequisite.require(FileManager.default.isExecutableFile(atPath: python)
                                    && (try run(python, ["-c", "import PIL"])).status == 0,
                                 "Pillow in .venv", provides: "Tools/setup_python.sh creates .venv on Debian's python3 with PIL")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-orient-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let upright = dir.appendingPathComponent("upright.png").path, rotated = dir.appendingPathComponent("rotated.png").path
        let made = try run(python, ["-c", """
            import sys
            from PIL import Image
            im = Image.open(sys.argv[1]).convert("RGB")
            im = im.crop((0, 0, im.width, im.height * 3 // 4))  # not square, so the frames differ
            im.save(sys.argv[2])
            exif = Image.Exif()
            exif[0x0112] = 6
            # Orientation 6: the viewer turns the stored pixels 90 degrees clockwise, so store them
            # turned 90 degrees counter-clockwise.
            im.transpose(Image.Transpose.ROTATE_90).save(sys.argv[3], exif=exif.tobytes())
            """, Self.sample, upright, rotated])
        XCTAssertEqual(made.status, 0, made.errors)

        func detect(_ file: String, _ extra: [String] = []) throws -> [String: Any] {
            let r = try run(binary, ["detect", "--config", Self.model, "--score-threshold", "0.05", file] + extra)
            XCTAssertEqual(r.status, 0, r.errors)
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        }
        func frame(_ d: [String: Any]) -> String {
            let i = d["image"] as? [String: Any] ?? [:]
            return "\(i["width"] as? Int ?? -1)x\(i["height"] as? Int ?? -1) o=\(i["orientation"] as? Int ?? -1) applied=\(i["orientation_applied"] as? Bool ?? false)"
        }
        func detections(_ d: [String: Any]) -> [String] {
            (d["detections"] as? [[String: Any]] ?? []).map {
                "\($0["label"] as? String ?? "") \($0["score"] as? Double ?? -1) \($0["box"] as? [Double] ?? []) \(($0["mask"] as? [String: Any])?["counts"] as? String ?? "")"
            }
        }
        let reference = try detect(upright), turned = try detect(rotated), stored = try detect(rotated, ["--stored-orientation"])
        let (w, h) = ((reference["image"] as? [String: Any])?["width"] as? Int ?? 0, (reference["image"] as? [String: Any])?["height"] as? Int ?? 0)
        XCTAssertGreaterThan(detections(reference).count, 3)
        XCTAssertNotEqual(w, h)
        XCTAssertEqual(frame(turned), "\(w)x\(h) o=6 applied=true")
        XCTAssertEqual(detections(turned), detections(reference), "the rotated photo's detections are the upright copy's")
        XCTAssertEqual(frame(stored), "\(h)x\(w) o=6 applied=false")
    }
}
