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

    @Option(name: .customLong("svd-rank"), parsing: .unconditional,
            help: "Truncated SVD of the box head's fully connected layers (Fast R-CNN 3.1): ranks per layer, e.g. 1024,256 (the last repeats).")
    var svdRank: String?

    @Option(name: .customLong("svd-energy"),
            help: "Truncated SVD keeping, per box-head fully connected layer, the fewest singular values with this fraction (0-1] of the squared norm.")
    var svdEnergy: Double?

    /// The box head's truncated-SVD settings from --svd-rank / --svd-energy (empty: full weights).
    func svdSettings() throws -> [TruncatedSVD.Setting] {
        let ranks = try svdRank.map { list in
            try list.split(separator: ",").map { part in
                guard let r = Int(part.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--svd-rank takes positive integers separated by commas, got '\(list)'")
                }
                return r
            }
        }
        do { return try TruncatedSVD.settings(ranks: ranks, energy: svdEnergy) } catch {
            throw ValidationError("--svd-rank / --svd-energy: \(error)")
        }
    }

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
        let svd = try svdSettings()
        let model: DetectionModel
        do { model = try DetectionModel(configURL: url, boxHeadSVD: svd) } catch { throw ValidationError("\(error)") }
        for (i, r) in model.roiHeads.boxHeadSVD.enumerated() {
            let line = String(format: "box head fc %d: %d x %d -> rank %d (%.1f%% of the squared norm, %.2fx the multiply-adds)\n",
                              i + 1, r.outFeatures, r.inFeatures, r.rank, 100 * r.energy, r.costRatio)
            FileHandle.standardError.write(Data(line.utf8))
        }
        return model
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
