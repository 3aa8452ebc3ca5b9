import Foundation
import XCTest

/// Something a test needs from the machine (a program, a Python package, generated fixtures) that
/// is not there, on a run where that must fail the test (CI).
public struct PrerequisiteMissing: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public var errorDescription: String? { description }
}

/// The one place a test may give up because the machine lacks something it needs.
///
/// On CI (the environment variable `CI` is `true`; `.ci/run` installs every prerequisite and runs
/// with it set) a missing prerequisite throws `PrerequisiteMissing`, which fails the test with a
/// message naming what is missing and how `.ci/run` provides it. Only on a developer's machine
/// (`CI` unset or not `true`) does it throw `XCTSkip`. Stateless; callable from any thread.
public enum Prerequisite {
    /// True when the run is CI's: `CI=true` (case-insensitive), as CI services set it.
    public static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"]?.lowercased() == "true"
    }

    /// Returns normally when `available`; otherwise gives up (skip off CI, failure on CI).
    /// - Parameters:
    ///   - what: the missing thing, e.g. "chromium (/usr/bin/chromium)".
    ///   - provides: how the CI run provides it, e.g. ".ci/run installs it with apt-get install chromium".
    public static func require(_ available: @autoclosure () throws -> Bool, _ what: String, provides: String) throws {
        if try !available() { try missing(what, provides: provides) }
    }

    /// Gives up: `XCTSkip` off CI, `PrerequisiteMissing` on CI. Never returns.
    public static func missing(_ what: String, provides: String) throws -> Never {
        let message = "missing prerequisite: \(what); \(provides)"
        if isCI { throw PrerequisiteMissing(description: message + " (CI=true: a missing prerequisite fails)") }
        throw XCTSkip(message + " (skipped because CI is not set; with CI=true this fails)")
    }

    /// The first of `candidates` that is an executable file, or `missing(...)`.
    public static func executable(_ candidates: [String], _ what: String, provides: String) throws -> String {
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            try missing("\(what) (looked for \(candidates.joined(separator: ", ")))", provides: provides)
        }
        return found
    }
}
