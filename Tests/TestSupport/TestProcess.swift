import Foundation

/// What a finished child process left: its exit status and everything it wrote.
public struct ProcessResult {
    public var status: Int32
    public var stdout: Data
    public var stderr: Data

    /// Standard output as UTF-8 text.
    public var output: String { String(decoding: stdout, as: UTF8.self) }
    /// Standard error as UTF-8 text.
    public var errors: String { String(decoding: stderr, as: UTF8.self) }
}

/// A command that exited with a non-zero status (from `TestProcess.check`).
public struct ProcessFailure: Error, CustomStringConvertible {
    public let command: String
    public let result: ProcessResult
    public var description: String {
        "\(command) exited \(result.status): \(result.errors)"
    }
}

/// Runs programs to completion for tests: the one process runner all test targets share.
///
/// Output goes to temporary files rather than pipes, so a chatty child can never block on a full
/// pipe, and a grandchild that inherits the descriptors (a browser a script started) cannot keep
/// the read open after the child itself has exited. Stateless; callable from any thread.
public enum TestProcess {
    /// Runs `executable` with `arguments` and waits for it.
    /// - Parameters:
    ///   - environment: variables added to (and overriding) this process's environment.
    ///   - directory: the working directory; this process's when nil.
    ///   - stdin: bytes written to the child's standard input, which is then closed; none when nil.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: URL? = nil, stdin: Data? = nil) throws -> ProcessResult {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("rcnn-test-process-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(stdin)
            try input.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: try Data(contentsOf: outURL),
                             stderr: try Data(contentsOf: errURL))
    }

    /// `run`, throwing `ProcessFailure` (with the child's standard error) unless it exited 0;
    /// returns its standard output as text.
    @discardableResult
    public static func check(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                             directory: URL? = nil, stdin: Data? = nil) throws -> String {
        let result = try run(executable, arguments, environment: environment, directory: directory, stdin: stdin)
        guard result.status == 0 else {
            throw ProcessFailure(command: ([executable] + arguments).joined(separator: " "), result: result)
        }
        return result.output
    }
}
