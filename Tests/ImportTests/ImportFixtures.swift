import Foundation
import TestSupport
import XCTest

/// The checkpoints Tests/Import/make_import_fixtures.py writes with torch.save (and the Python
/// converter's output for each) under `$RCNN_FIXTURES/import`.
struct ImportFixtures {
    struct Case: Decodable {
        let name: String
        let checkpoint: String
        let arch: String
        let reference: String
        let args: [String]
    }

    struct Manifest: Decodable {
        let cases: [Case]
        let small: [String: String]
    }

    let directory: URL
    let manifest: Manifest

    static func load() throws -> ImportFixtures {
        let root = ProcessInfo.processInfo.environment["RCNN_FIXTURES"].map { URL(fileURLWithPath: $0) }
            ?? Repository.url(".cache/fixtures")
        let dir = root.appendingPathComponent("import")
        let url = dir.appendingPathComponent("manifest.json")
        try Prerequisite.require(FileManager.default.fileExists(atPath: url.path),
                                 "import fixtures (\(url.path))",
                                 provides: "Tools/test.sh writes them with Tests/Import/make_import_fixtures.py")
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url))
        return ImportFixtures(directory: dir, manifest: manifest)
    }

    func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }

    func small(_ key: String) throws -> URL {
        guard let rel = manifest.small[key] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "import fixture manifest lacks '\(key)': regenerate it with Tests/Import/make_import_fixtures.py"])
        }
        return url(rel)
    }

    /// The `rcnn` executable built next to the test bundle.
    static var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var url = dir.appendingPathComponent("rcnn")
        if !FileManager.default.isExecutableFile(atPath: url.path) {
            url = dir.deletingLastPathComponent().appendingPathComponent("rcnn")
        }
        return url.path
    }

    static func scratch(_ tag: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-import-\(tag)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
