import Foundation
import XCTest

/// Reference values from pycocotools, generated once per test run by `Tools/coco_reference.py`
/// into a temporary directory.
///
/// The Python is the repository's `.venv/bin/python` (override with `COCO_REFERENCE_PYTHON`);
/// tests that need it are skipped with a message when it is missing, and fail when it is there
/// but the script fails.
enum ReferenceFixtures {
    /// The repository root, found from this file's real path (the test folder may be reached
    /// through a symlink).
    static let repositoryRoot: URL = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let path = realpath(#filePath, &buffer) != nil ? String(cString: buffer) : #filePath
        return URL(fileURLWithPath: path)
            .deletingLastPathComponent()  // COCOTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
    }()

    private static let generated: Result<URL, Error> = Result { try generate() }
    /// Removed when the test process exits.
    nonisolated(unsafe) private static var generatedPath: String?

    /// The folder holding `rle.json`, `scenarios.json` and `eval/NAME/`.
    static func directory() throws -> URL {
        try generated.get()
    }

    /// Decodes one fixture file.
    static func load<T: Decodable>(_ type: T.Type, _ relativePath: String) throws -> T {
        let url = try require().appendingPathComponent(relativePath)
        return try JSONDecoder().decode(type, from: Data(contentsOf: url))
    }

    private struct Skip: Error, CustomStringConvertible {
        let description: String
    }

    private static func generate() throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let python = environment["COCO_REFERENCE_PYTHON"]
            ?? repositoryRoot.appendingPathComponent(".venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Skip(description: "no Python with pycocotools at \(python) (run Tools/setup_python.sh)")
        }
        let script = repositoryRoot.appendingPathComponent("Tools/coco_reference.py").path
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("coco-reference-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: output)
        generatedPath = output.path
        atexit { if let path = ReferenceFixtures.generatedPath { try? FileManager.default.removeItem(atPath: path) } }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, output.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let log = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "ReferenceFixtures", code: Int(process.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: "\(script) failed: \(String(decoding: log, as: UTF8.self))",
            ])
        }
        return output
    }

    /// `directory()`, turning a missing Python into `XCTSkip`.
    static func require() throws -> URL {
        do {
            return try directory()
        } catch let skip as Skip {
            throw XCTSkip(skip.description)
        }
    }
}
