import ArgumentParser
import Detection
import Tensor
import Foundation

/// Options shared by every subcommand that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model config (Config/models/NAME.json). Default: the embedded default model.")
    var config: String?

    @Option(name: .long, help: "BLAS threads for the convolutions (default: all cores).")
    var threads: Int?

    /// The config to load: `--config`, else the embedded default model found next to the working
    /// directory, the executable, or `$RCNN_HOME`.
    func configURL() throws -> URL {
        if let config { return URL(fileURLWithPath: config) }
        return try DefaultModel.configURL()
    }

    /// Applies `--threads`, then loads the model; load errors (naming the file and tensor) become
    /// the command's error message.
    func loadModel() throws -> DetectionModel {
        if let threads { BLAS.threads = threads; Parallelism.workers = threads }
        let url = try configURL()
        do { return try DetectionModel(configURL: url) } catch { throw ValidationError("\(error)") }
    }
}

enum DefaultModel {
    static let name = "shapes_mask_rcnn"

    static func configURL() throws -> URL {
        var roots: [URL] = []
        if let home = ProcessInfo.processInfo.environment["RCNN_HOME"] { roots.append(URL(fileURLWithPath: home)) }
        roots.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        var exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 { roots.append(exe); exe = exe.deletingLastPathComponent() }
        for root in roots {
            let candidate = root.appendingPathComponent("Config/models/\(name).json")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        throw ValidationError("no --config given and the default model Config/models/\(name).json was not found (run from the repository root or set RCNN_HOME)")
    }
}
