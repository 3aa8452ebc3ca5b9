import Foundation
import TestSupport
import XCTest

/// Reference values from pycocotools, generated once per test run by `Tools/coco_reference.py`
/// into a temporary directory.
///
/// The Python is the repository's `.venv/bin/python` (override with `COCO_REFERENCE_PYTHON`);
/// when it is missing, tests that need it meet a missing prerequisite (`Prerequisite`: a failure
/// on CI, a skip on a developer's machine); when it is there but the script fails, they fail.
enum ReferenceFixtures {
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

    private struct MissingPython: Error, CustomStringConvertible {
        let description: String
    }

    private static func generate() throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let python = environment["COCO_REFERENCE_PYTHON"]
            ?? Repository.venvPython
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MissingPython(description: "no Python with pycocotools at \(python) (run Tools/setup_python.sh)")
        }
        let script = Repository.url("Tools/coco_reference.py").path
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("coco-reference-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: output)
        generatedPath = output.path
        atexit { if let path = ReferenceFixtures.generatedPath { try? FileManager.default.removeItem(atPath: path) } }

        let result = try TestProcess.run(python, [script, output.path])
        guard result.status == 0 else {
            throw NSError(domain: "ReferenceFixtures", code: Int(result.status), userInfo: [
                NSLocalizedDescriptionKey: "\(script) failed: \(result.output)\(result.errors)",
            ])
        }
        return output
    }

    /// `directory()`, turning a missing Python into a missing prerequisite.
    static func require() throws -> URL {
        do {
            return try directory()
        } catch let missing as MissingPython {
            try Prerequisite.missing(missing.description,
                                     provides: ".ci/run runs Tools/setup_python.sh (via Tools/test.sh), which installs pycocotools into .venv")
        }
    }
}
