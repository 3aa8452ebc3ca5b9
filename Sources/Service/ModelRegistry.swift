import Detection
import Foundation
import Imaging

/// The models a server serves, loaded once at start-up and immutable afterwards (weights are shared
/// by every request). Readiness flips to true after every model has run its warm-up inferences.
///
/// Thread-safety: `models` is immutable; `ready` is guarded by a lock.
public final class ModelRegistry: @unchecked Sendable {
    public let models: [DetectionModel]
    public let defaultModel: DetectionModel
    private let lock = NSLock()
    private var warmedUp = false

    public convenience init(configs: [URL], defaultName: String?) throws {
        try self.init(entries: configs.map { ServerConfig.ModelEntry(config: $0.path) }, defaultName: defaultName)
    }

    /// Loads each entry's model (checking its weights' SHA-256), with the entry's box-head SVD.
    public init(entries: [ServerConfig.ModelEntry], defaultName: String?) throws {
        guard !entries.isEmpty else { throw ServiceError.config("no models configured") }
        var models: [DetectionModel] = []
        for entry in entries {
            do {
                models.append(try DetectionModel(configURL: URL(fileURLWithPath: entry.config), verifyChecksum: true,
                                                 boxHeadSVD: try entry.svdSettings()))
            } catch {
                throw ServiceError.model("\(error)")
            }
        }
        let names = models.map(\.name)
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw ServiceError.config("two models are named '\(dup)'")
        }
        self.models = models
        if let defaultName {
            guard let m = models.first(where: { $0.name == defaultName }) else {
                throw ServiceError.config("default_model '\(defaultName)' is not one of \(names.joined(separator: ", "))")
            }
            defaultModel = m
        } else {
            defaultModel = models[0]
        }
    }

    public func model(named name: String) -> DetectionModel? { models.first { $0.name == name } }

    public var ready: Bool { lock.lock(); defer { lock.unlock() }; return warmedUp }

    /// Runs `runs` inferences per model on a synthetic image (so the first client does not pay for
    /// page faults and allocator growth), then marks the registry ready.
    public func warmUp(runs: Int) {
        for model in models {
            let side = model.config.transform.minSize
            var image = RGBImage(width: side, height: side, fill: RGBColor(red: 120, green: 130, blue: 140))
            image.fillRectangle(x0: side / 4, y0: side / 4, x1: side * 3 / 4, y1: side * 3 / 4, color: RGBColor(red: 200, green: 40, blue: 40))
            for _ in 0..<runs { _ = model.detect(image) }
        }
        lock.lock(); warmedUp = true; lock.unlock()
    }
}

extension DetectionModel {
    public var defaultPipeline: String { pipelines[0] }
}
