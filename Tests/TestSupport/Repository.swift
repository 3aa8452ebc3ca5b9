import Foundation

/// The repository checkout the tests run from: the folder holding `Package.swift`, found from this
/// file's real path (a test folder reached through a symlink still finds the repository's Tools,
/// Samples and .venv). The one root finder all test targets share. Immutable; thread-safe.
public enum Repository {
    /// The repository root.
    public static let root: URL = {
        var path = #filePath
        if let resolved = realpath(path, nil) {
            path = String(cString: resolved)
            free(resolved)
        }
        var url = URL(fileURLWithPath: path).deletingLastPathComponent()  // Tests/TestSupport
        // Walk up to the package manifest rather than counting levels, so moving this file
        // cannot silently point every test at the wrong folder.
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url = url.deletingLastPathComponent()
        }
        fatalError("no Package.swift above \(path)")
    }()

    /// `relativePath` under the repository root.
    public static func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// The repository's Python reference environment (`Tools/setup_python.sh` creates it).
    public static var venvPython: String { url(".venv/bin/python").path }
}
