import Detection
import Foundation
import TestSupport
@testable import TorchImport
import XCTest

/// The checkpoint reader on small torch.save files: exact values (views, float16, bfloat16,
/// float64, a shared storage), every truncation, random corruption, and hostile files, which must
/// give a `CheckpointError` and never crash, hang or run anything.
final class CheckpointReaderTests: XCTestCase {
    /// torch's float32 conversion of each tensor, as bit patterns (signed 32-bit integers).
    private func expected(_ fixtures: ImportFixtures) throws -> [String: [Int32]] {
        let data = try Data(contentsOf: try fixtures.small("small-expected"))
        return try JSONDecoder().decode([String: [Int32]].self, from: data)
    }

    func testSmallCheckpointsReadExactlyInBothFormats() throws {
        let fixtures = try ImportFixtures.load()
        let want = try expected(fixtures)
        for key in ["small-zip", "small-legacy"] {
            let ckpt = try TorchCheckpoint(url: try fixtures.small(key))
            XCTAssertEqual(ckpt.format, key == "small-zip" ? .zip : .legacy)
            XCTAssertEqual(ckpt.entries.map(\.name), ["a.weight", "a.t", "b.half", "b.bf16", "c.double", "c.view", "n.num_batches_tracked"])
            XCTAssertEqual(ckpt.versions["rpn.head"], 2, key)
            XCTAssertEqual(ckpt.versions[""], 1, key)
            for e in ckpt.entries {
                if e.name == "n.num_batches_tracked" {
                    XCTAssertNil(e.values)
                    XCTAssertEqual(e.shape, [])
                    continue
                }
                let values = try XCTUnwrap(e.values, e.name)
                // torch's float32 conversion of each value: bit-exact (-1e300 becomes -inf).
                XCTAssertEqual(values.map { Int32(bitPattern: $0.bitPattern) }, try XCTUnwrap(want[e.name]), "\(key) \(e.name)")
            }
            XCTAssertEqual(ckpt.entries[1].shape, [6, 4], "the transpose keeps its shape")
        }
    }

    /// Cut at every byte: each prefix of the file is an error (never a crash), and the message says
    /// truncated or corrupt.
    func testEveryTruncationIsAnError() throws {
        let fixtures = try ImportFixtures.load()
        for key in ["small-zip", "small-legacy"] {
            let full = try Data(contentsOf: try fixtures.small(key))
            let dir = try ImportFixtures.scratch("truncate")
            defer { try? FileManager.default.removeItem(at: dir) }
            let url = dir.appendingPathComponent("cut.pth")
            var kinds: [CheckpointError.Kind: Int] = [:]
            for n in 0..<full.count {
                try full.prefix(n).write(to: url)
                do {
                    _ = try TorchCheckpoint(url: url)
                    XCTFail("\(key) cut to \(n) of \(full.count) bytes was read")
                } catch let e as CheckpointError {
                    kinds[e.kind, default: 0] += 1
                }
            }
            XCTAssertGreaterThan(kinds[.truncated, default: 0], full.count / 2, "\(key): \(kinds)")
        }
    }

    /// Random byte changes (seeded): the reader returns or throws a CheckpointError, never traps.
    /// A change inside a zip entry is caught by its CRC-32.
    func testCorruptedBytesNeverCrash() throws {
        let fixtures = try ImportFixtures.load()
        var rng = SplitMix64(seed: 16)
        let dir = try ImportFixtures.scratch("mutate")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.pth")
        for key in ["small-zip", "small-legacy"] {
            let full = [UInt8](try Data(contentsOf: try fixtures.small(key)))
            var read = 0, refused = 0
            for _ in 0..<1500 {
                var bytes = full
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
                try Data(bytes).write(to: url)
                do { _ = try TorchCheckpoint(url: url); read += 1 } catch is CheckpointError { refused += 1 }
            }
            XCTAssertGreaterThan(refused, 500, "\(key): \(read) read, \(refused) refused")
        }
        // A flipped bit in a tensor's bytes inside the zip: the CRC says so.
        let zipURL = try fixtures.small("small-zip")
        var bytes = [UInt8](try Data(contentsOf: zipURL))
        let archive = try bytes.withUnsafeBytes { try ZipArchive($0) }
        let record = try XCTUnwrap(archive.entries.first { $0.name.hasSuffix("/data/0") })
        bytes[record.range.lowerBound + 3] ^= 0x10
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try TorchCheckpoint(url: url)) { e in
            XCTAssertEqual((e as? CheckpointError)?.kind, .corrupt)
            XCTAssertTrue("\(e)".contains("CRC-32"), "\(e)")
        }
    }

    /// A checkpoint whose pickle calls os.system, in both formats: refused by name, and the command
    /// never runs (its marker file is not created). The importer CLI says so and exits 2.
    func testHostilePicklesAreRefusedAndNothingRuns() throws {
        let fixtures = try ImportFixtures.load()
        let marker = try fixtures.small("marker")
        try? FileManager.default.removeItem(at: marker)
        for key in ["hostile-zip", "hostile-legacy"] {
            XCTAssertThrowsError(try TorchCheckpoint(url: try fixtures.small(key))) { e in
                XCTAssertEqual((e as? CheckpointError)?.kind, .refused, "\(key): \(e)")
                XCTAssertTrue("\(e)".contains("system"), "\(key): \(e)")
            }
            let out = try ImportFixtures.scratch("hostile")
            defer { try? FileManager.default.removeItem(at: out) }
            let r = try TestProcess.run(ImportFixtures.binary, ["import", "--arch", "fasterrcnn_resnet50_fpn",
                                                                try fixtures.small(key).path, "--name", "x", "--out", out.path])
            XCTAssertEqual(r.status, 2, r.errors)
            XCTAssertTrue(r.errors.contains("refused"), r.errors)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("x.json").path))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker.path), "the hostile pickle ran a command")
    }

    func testCompressedEntriesAndOtherFilesGetClearErrors() throws {
        let fixtures = try ImportFixtures.load()
        XCTAssertThrowsError(try TorchCheckpoint(url: try fixtures.small("compressed"))) { e in
            XCTAssertEqual((e as? CheckpointError)?.kind, .unsupported, "\(e)")
            XCTAssertTrue("\(e)".contains("compressed"), "\(e)")
        }
        let dir = try ImportFixtures.scratch("other")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, [UInt8], CheckpointError.Kind)] = [
            ("empty", [], .invalid),
            ("text", Array("hello, world\n".utf8), .invalid),
            ("plain pickle", [0x80, 0x02, 0x4b, 0x07, 0x2e], .invalid),
            ("zip without data.pkl", Self.emptyZip, .invalid),
        ]
        for (name, bytes, kind) in cases {
            let url = dir.appendingPathComponent("f")
            try Data(bytes).write(to: url)
            XCTAssertThrowsError(try TorchCheckpoint(url: url)) { e in
                XCTAssertEqual((e as? CheckpointError)?.kind, kind, "\(name): \(e)")
            }
        }
    }

    /// An empty zip archive: just the end-of-central-directory record.
    static let emptyZip: [UInt8] = [0x50, 0x4b, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)

    func testFileNameHashConvention() throws {
        XCTAssertEqual(FileNameHash.claimedPrefix("maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth"), "bf2d0c1e")
        XCTAssertNil(FileNameHash.claimedPrefix("model_final.pth"))
        XCTAssertNil(FileNameHash.claimedPrefix("my-model.pth"))
        XCTAssertNil(FileNameHash.claimedPrefix("weights-BF2D0C1E.pth"))
        let fixtures = try ImportFixtures.load()
        let source = try fixtures.small("small-zip")
        let dir = try ImportFixtures.scratch("hash")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Data(contentsOf: source)
        let digest = data.withUnsafeBytes { SHA256.hex($0) }
        let good = dir.appendingPathComponent("small-\(digest.prefix(8)).pth")
        let bad = dir.appendingPathComponent("small-deadbeef.pth")
        try data.write(to: good)
        try data.write(to: bad)
        XCTAssertNoThrow(try FileNameHash.verify(good))
        XCTAssertThrowsError(try FileNameHash.verify(bad)) { e in
            XCTAssertTrue("\(e)".contains("deadbeef") && "\(e)".contains(digest), "\(e)")
        }
    }
}
