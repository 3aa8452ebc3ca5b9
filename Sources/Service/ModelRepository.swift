import Detection
import Foundation

/// The model repository: a directory of model configs (`NAME.json` beside `NAME.safetensors`, as
/// `rcnn import` and the converter write them) that an operator loads into the running server and
/// unloads from it, in the manner of Triton's and KServe's repository extension.
///
/// A model's repository name is its config's file name without `.json`, and must equal the
/// config's `name`. Loading reads and checks the weights (SHA-256), warms the model up, and only
/// then serves it, replacing a served model of the same name; unloading stops new requests at once
/// and returns after the requests already running on the model have finished. One load or unload
/// runs at a time; inference on other models goes on meanwhile.
///
/// Thread-safety: all methods may be called from any thread.
public final class ModelRepository: @unchecked Sendable {
    /// A model's state in the index, with Triton's names.
    public enum State: String, Encodable, Sendable {
        case ready = "READY", unavailable = "UNAVAILABLE", loading = "LOADING", unloading = "UNLOADING"
    }

    public struct Entry: Encodable, Equatable, Sendable {
        public var name: String
        public var version: String
        public var state: State
        public var reason: String
    }

    /// A refused or failed repository operation.
    public enum Failure: Error, Equatable {
        case invalidName(String)
        case notFound(String)
        case conflict(String)
        case invalidModel(String)
    }

    public let directory: URL
    let registry: ModelRegistry
    let warmupRuns: Int
    /// How long an unload waits for the requests in flight on the model.
    let drainTimeout: TimeInterval
    private let operation = NSLock()
    private let stateLock = NSLock()
    private var transient: [String: State] = [:]
    private var failures: [String: String] = [:]

    public init(directory: URL, registry: ModelRegistry, warmupRuns: Int, drainTimeout: TimeInterval) {
        self.directory = directory.standardizedFileURL
        self.registry = registry
        self.warmupRuns = warmupRuns
        self.drainTimeout = drainTimeout
    }

    /// Repository names: letters, digits, `.`, `_` and `-`, not starting with `.`, at most 128
    /// characters, so a name is always one file in the directory and never a path.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...128).contains(bytes.count), bytes[0] != UInt8(ascii: ".") else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }
    }

    func configURL(_ name: String) -> URL { directory.appendingPathComponent("\(name).json") }

    /// The names of the model configs in the directory (files `NAME.json` with a valid name).
    func namesOnDisk() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.filter(Self.isValidName).sorted()
    }

    private func withState<T>(_ body: () -> T) -> T {
        stateLock.lock()
        defer { stateLock.unlock() }
        return body()
    }

    /// Every model in the directory and every model served (served ones first, in serving order).
    /// `readyOnly` keeps the served ones.
    public func index(readyOnly: Bool = false) -> [Entry] {
        let served = registry.models.map(\.name)
        let (transient, failures) = withState { (self.transient, self.failures) }
        var entries: [Entry] = []
        for name in served {
            entries.append(Entry(name: name, version: DetectionService.modelVersion, state: transient[name] ?? .ready, reason: ""))
        }
        guard !readyOnly else { return entries.filter { $0.state == .ready } }
        for name in namesOnDisk() where !served.contains(name) {
            let state = transient[name] ?? .unavailable
            entries.append(Entry(name: name, version: DetectionService.modelVersion, state: state,
                                 reason: state == .unavailable ? failures[name] ?? "unloaded" : ""))
        }
        return entries
    }

    /// Loads `NAME.json` from the directory and serves it (replacing a served model of that name
    /// once the new one is ready). Returns the loaded model.
    @discardableResult
    public func load(_ name: String) throws -> DetectionModel {
        guard Self.isValidName(name) else {
            throw Failure.invalidName("'\(name)' is not a model name (letters, digits, '.', '_', '-'; at most 128)")
        }
        let url = configURL(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Failure.notFound("no model '\(name)' in the repository \(directory.path) (no \(name).json)")
        }
        operation.lock()
        defer { operation.unlock() }
        withState { transient[name] = .loading }
        defer { withState { transient[name] = nil } }
        let model: DetectionModel
        do {
            model = try DetectionModel(configURL: url, verifyChecksum: true)
        } catch {
            let message = "\(error)"
            withState { failures[name] = "load failed: \(message)" }
            throw Failure.invalidModel("model '\(name)' failed to load: \(message)")
        }
        guard model.name == name else {
            let message = "\(name).json names its model '\(model.name)'; a repository model's file must be NAME.json for its name"
            withState { failures[name] = message }
            throw Failure.invalidModel(message)
        }
        ModelRegistry.warmUp(model, runs: warmupRuns)
        registry.add(model)
        withState { failures[name] = nil }
        return model
    }

    /// Stops serving the named model, after the requests in flight on it finish (or the drain
    /// timeout passes; the model is gone for new requests either way). Returns the requests still
    /// running when it returned (0 normally).
    @discardableResult
    public func unload(_ name: String) throws -> Int {
        guard Self.isValidName(name) else {
            throw Failure.invalidName("'\(name)' is not a model name (letters, digits, '.', '_', '-'; at most 128)")
        }
        operation.lock()
        defer { operation.unlock() }
        withState { transient[name] = .unloading }
        defer { withState { transient[name] = nil } }
        do {
            return try registry.remove(name, timeout: drainTimeout)
        } catch ModelRegistry.RemovalError.isDefault {
            throw Failure.conflict("'\(name)' is the default model (it answers /v1/detect); make another model the default to unload it")
        } catch {
            throw Failure.notFound("no model '\(name)' is loaded")
        }
    }
}
