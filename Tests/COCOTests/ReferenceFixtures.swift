import Foundation
import TestSupport
import XCTest

/// Reference values from pycocotools, generated once per test run by `Tools/coco_reference.py`
/// (masks, box and mask evaluation) and `Tools/coco_eval_reference.py --keypoint-fixtures`
/// (keypoint evaluation) into temporary directories.
///
/// The Python is the repository's `.venv/bin/python` (override with `COCO_REFERENCE_PYTHON`);
/// when it is missing, tests that need it meet a missing prerequisite (`Prerequisite`: a failure
/// on CI, a skip on a developer's machine); when it is there but the script fails, they fail.
enum ReferenceFixtures {
    private static let generated: Result<URL, Error> = Result {
        try generate("Tools/coco_reference.py", arguments: [], folder: "coco-reference")
    }
    private static let generatedKeypoints: Result<URL, Error> = Result {
        try generate("Tools/coco_eval_reference.py", arguments: ["--keypoint-fixtures"], folder: "coco-keypoints")
    }
    /// Removed when the test process exits.
    nonisolated(unsafe) private static var generatedPaths: [String] = []
    private static let removeAtExit: Void = {
        atexit { for path in ReferenceFixtures.generatedPaths { try? FileManager.default.removeItem(atPath: path) } }
    }()

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

    /// Runs `script` (relative to the repository) with `arguments` and a fresh output folder.
    private static func generate(_ script: String, arguments: [String], folder: String) throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let python = environment["COCO_REFERENCE_PYTHON"]
            ?? Repository.venvPython
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MissingPython(description: "no Python with pycocotools at \(python) (run Tools/setup_python.sh)")
        }
        let script = Repository.url(script).path
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(folder)-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: output)
        _ = removeAtExit
        generatedPaths.append(output.path)

        let result = try TestProcess.run(python, [script] + arguments + [output.path])
        guard result.status == 0 else {
            throw NSError(domain: "ReferenceFixtures", code: Int(result.status), userInfo: [
                NSLocalizedDescriptionKey: "\(script) failed: \(result.output)\(result.errors)",
            ])
        }
        return output
    }

    /// `directory()`, turning a missing Python into a missing prerequisite.
    static func require() throws -> URL {
        try requiring(generated)
    }

    /// The folder holding the keypoint fixtures (`scenarios.json` and `NAME/`), turning a missing
    /// Python into a missing prerequisite.
    static func requireKeypoints() throws -> URL {
        try requiring(generatedKeypoints)
    }

    private static func requiring(_ generated: Result<URL, Error>) throws -> URL {
        do {
            return try generated.get()
        } catch let missing as MissingPython {
            try Prerequisite.missing(missing.description,
                                     provides: ".ci/run runs Tools/setup_python.sh (via Tools/test.sh), which installs pycocotools into .venv")
        }
    }
}
