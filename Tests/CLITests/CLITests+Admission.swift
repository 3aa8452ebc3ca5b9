import Foundation
import TestSupport
import XCTest

extension CLITests {
    /// Tests/Hostile/flood.py against the real binary with one worker and a queue of two: 16
    /// clients retrying at once on a 2400 x 2400 photo for 12 s. Every answer is a detection or a
    /// 503 with Retry-After, refusals come from the headers before the upload, the server's memory
    /// stays within 400 MB of its idle baseline (one worker's decode and inference of a 5.8 MP
    /// image plus 16 uploads of 1-2 MB in flight, with a margin) and it serves afterwards.
    func testFloodPastTheQueue() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-flood-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = dir.appendingPathComponent("large.jpg").path
        let made = try run("/usr/bin/python3", ["-c", """
            import sys; from PIL import Image
            Image.open(sys.argv[1]).convert("RGB").resize((2400, 2400), Image.BILINEAR).save(sys.argv[2], quality=90)
            """, Self.sample, image])
        XCTAssertEqual(made.status, 0, made.errors)

        let (server, port, err) = try startServer(env: ["RCNN_ACCESS_LOG": "0"], scheduling: ["--workers", "1", "--queue-depth", "2"])
        defer { if server.isRunning { server.terminate() } }
        DispatchQueue.global().async { _ = err.fileHandleForReading.readDataToEndOfFile() }
        XCTAssertTrue(waitUntilReady(port: port))
        let r = try run("/usr/bin/python3", [Repository.root.appendingPathComponent("Tests/Hostile/flood.py").path,
                                             "--port", "\(port)", "--pid", "\(server.processIdentifier)", "--image", image,
                                             "--clients", "16", "--seconds", "12", "--rss-bound-mb", "400"])
        let report = r.output + r.errors
        print(report)
        XCTAssertEqual(r.status, 0, report)
        XCTAssertTrue(report.contains("\n0 failed check(s)"), report)
        XCTAssertTrue(server.isRunning)
    }

    /// The Python converter loads checkpoints with `weights_only`: a checkpoint whose pickle calls
    /// `os.system` is refused with a clear error, and the command never runs.
    func testConverterRefusesPickledCode() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-pickle-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let marker = dir.appendingPathComponent("pwned").path
        let checkpoint = dir.appendingPathComponent("evil.pth").path
        let python = Repository.root.appendingPathComponent(".venv/bin/python").path
        let made = try run(python, ["-c", """
            import os, sys, torch
            class Evil:
                def __reduce__(self):
                    return (os.system, ("touch " + sys.argv[1],))
            torch.save({"model": {"w": torch.zeros(1)}, "hook": Evil()}, sys.argv[2])
            """, marker, checkpoint])
        XCTAssertEqual(made.status, 0, made.errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "saving must not run the payload")
        let r = try run(python, [Repository.root.appendingPathComponent("Tools/convert_torchvision.py").path,
                                 "--arch", "fasterrcnn_mobilenet_v3_large_fpn", "--checkpoint", checkpoint,
                                 "--name", "evil", "--out", dir.path])
        let output = r.output + r.errors
        XCTAssertNotEqual(r.status, 0, output)
        XCTAssertTrue(output.contains("cannot read checkpoint") && output.contains("pickled code or other objects are refused"), output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the converter ran the checkpoint's command")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("evil.safetensors").path))
    }
}
