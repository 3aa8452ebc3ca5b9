import Foundation
import XCTest

import Imaging
import TestSupport

/// One variant written by `Tools/make_image_fixtures.py` (see its docstring for the layout).
struct FixtureEntry: Decodable {
    let name: String
    let file: String
    let width: Int
    let height: Int
    let expected: String
    /// "exact" (lossless formats) or "jpeg".
    let compare: String
    let orientation: Int
    let oriented: String?
    let orientedWidth: Int?
    let orientedHeight: Int?
    /// Transparent variants: background hex (`ffffff`, `3366cc`) -> PIL's composite over it.
    let composited: [String: String]?
}

/// The fixture folder, generated once per test process by running the fixture script with a
/// Python that has PIL and numpy. Tests that need it call `Fixtures.require()`: where no such
/// Python exists it is a missing prerequisite (`Prerequisite`: a failure on CI, a skip elsewhere);
/// where the script itself fails it is a failure everywhere.
struct Fixtures {
    let directory: URL
    let entries: [FixtureEntry]
    let python: String
    let script: String

    static func require() throws -> Fixtures {
        switch shared {
        case .success(let fixtures): return fixtures
        case .failure(let missing as NoPython):
            try Prerequisite.missing("a Python with PIL and numpy for the image fixtures (\(missing.candidates.joined(separator: ", ")))",
                                     provides: ".ci/run runs Tools/setup_python.sh (via Tools/test.sh), which creates .venv with them")
        case .failure(let error): throw error
        }
    }

    func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(file)))
    }

    func entry(_ name: String) throws -> FixtureEntry {
        guard let entry = entries.first(where: { $0.name == name }) else {
            throw FixtureError("no fixture named \(name)")
        }
        return entry
    }

    /// PIL's RGB decode of an arbitrary file (the script's `--decode` mode).
    func pilDecode(_ file: URL) throws -> RGBImage {
        let output = directory.appendingPathComponent(file.lastPathComponent + ".pil.rgb")
        let printed = try TestProcess.check(python, [script, "--decode", file.path, "--out", output.path])
        let size = printed.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard size.count == 2 else { throw FixtureError("unexpected --decode output: \(printed)") }
        let pixels = [UInt8](try Data(contentsOf: output))
        return RGBImage(width: size[0], height: size[1], pixels: pixels)
    }

    private static let shared: Result<Fixtures, Error> = Result { try generate() }

    private static func generate() throws -> Fixtures {
        let root = Repository.root
        let script = root.appendingPathComponent("Tools/make_image_fixtures.py").path
        guard FileManager.default.fileExists(atPath: script) else {
            throw FixtureError("missing \(script)")
        }
        var candidates = [root.appendingPathComponent(".venv/bin/python").path, "/usr/bin/python3"]
        if let override = ProcessInfo.processInfo.environment["RCNN_PYTHON"] {
            candidates.insert(override, at: 0)
        }
        guard let python = candidates.first(where: { candidate in
            FileManager.default.isExecutableFile(atPath: candidate)
                && (try? TestProcess.run(candidate, ["-c", "import PIL, numpy"]))?.status == 0
        }) else {
            throw NoPython(candidates: candidates)
        }
        removeStaleFixtureFolders()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(folderPrefix)\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        try TestProcess.check(python, [script, "--out", directory.path])
        XCTestObservationCenter.shared.addTestObserver(FixtureCleanup(directory: directory))
        let manifest = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        let entries = try JSONDecoder().decode([FixtureEntry].self, from: manifest)
        return Fixtures(directory: directory, entries: entries, python: python, script: script)
    }
}

private let folderPrefix = "rcnn-imaging-fixtures-"

/// Deletes this run's fixture folder when the test bundle finishes.
private final class FixtureCleanup: NSObject, XCTestObservation {
    let directory: URL
    init(directory: URL) { self.directory = directory }
    func testBundleDidFinish(_ testBundle: Bundle) {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Deletes fixture folders left by test processes that have exited (each run writes its own
/// folder named after its process id, so parallel runs never share one).
private func removeStaleFixtureFolders() {
    let temporary = FileManager.default.temporaryDirectory
    let names = (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []
    for name in names where name.hasPrefix(folderPrefix) {
        guard let pid = Int32(name.dropFirst(folderPrefix.count)), pid != getpid() else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH {
            try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
        }
    }
}

/// No candidate Python can import PIL and numpy: a missing prerequisite, not a fixture failure.
private struct NoPython: Error {
    let candidates: [String]
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Largest per-byte difference and how many bytes differ.
func pixelDifference(_ a: [UInt8], _ b: [UInt8]) -> (maximum: Int, differing: Int) {
    precondition(a.count == b.count)
    var maximum = 0, differing = 0
    for (x, y) in zip(a, b) where x != y {
        differing += 1
        maximum = max(maximum, abs(Int(x) - Int(y)))
    }
    return (maximum, differing)
}

/// CRC-32 as PNG chunks use it (ISO 3309 / zlib), for hand-patched test files.
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// Rewrites every PNG chunk's CRC to match its (possibly altered) type and data; stops quietly
/// at the first chunk that does not fit in the data.
func fixPNGChunkCRCs(_ png: inout [UInt8]) {
    var offset = 8
    while offset + 12 <= png.count {
        let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16
            | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
        let end = offset + 8 + length
        guard length >= 0, end + 4 <= png.count else { return }
        let crc = crc32(png[(offset + 4)..<end])
        for i in 0..<4 { png[end + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
        offset = end + 4
    }
}

/// Writes a big-endian UInt32 into `bytes` at `offset`.
func putBigEndian(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(i))) }
}

/// A small test image: gradients plus a hard-edged block, deterministic.
func syntheticImage(width: Int, height: Int) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let offset = (y * width + x) * 3
            pixels[offset] = UInt8(x * 255 / max(width - 1, 1))
            pixels[offset + 1] = UInt8(y * 255 / max(height - 1, 1))
            pixels[offset + 2] = UInt8((x + 2 * y) % 256)
            if x > width / 3 && x < width / 2 && y > height / 4 && y < height / 2 {
                pixels[offset] = 240; pixels[offset + 1] = 20; pixels[offset + 2] = 60
            }
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}
