import Detection
import Foundation
import TestSupport
import XCTest

/// Locates the reference fixtures written by `Tests/Parity/make_fixtures.py` (torchvision) and
/// `Tests/Parity/make_op_fixtures.py` (torch ops). `Tools/test.sh` generates them before `swift test`;
/// `RCNN_FIXTURES` overrides the folder. A missing fixture is a failure, never a skip.
enum Fixtures {
    static var root: URL {
        if let env = ProcessInfo.processInfo.environment["RCNN_FIXTURES"] { return URL(fileURLWithPath: env) }
        return Repository.url(".cache/fixtures")
    }

    /// The parsed manifest, or an XCTFail naming the command that makes it.
    static func manifest(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Any]? {
        let url = root.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path),
              let data = try? Data(contentsOf: url),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            XCTFail("missing fixtures \(url.path): run `bash Tools/test.sh` (it generates them with torchvision), or set RCNN_FIXTURES", file: file, line: line)
            return nil
        }
        return obj
    }
}

/// Tolerance checks shared by the parity tests.
enum Compare {
    /// Largest absolute difference relative to the reference's largest magnitude.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var m: Float = 0, scale: Float = 0
        for i in a.indices { m = max(m, abs(a[i] - b[i])); scale = max(scale, abs(b[i])) }
        return m / max(scale, 1e-12)
    }
}
