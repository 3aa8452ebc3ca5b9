import Detection
import Foundation
import Imaging

/// The models a server serves. The start-up models are loaded once; the model repository API
/// (`ModelRepository`) adds, replaces and removes models while the server runs. Weights are shared by
/// every request. Readiness flips to true after every start-up model has run its warm-up inferences;
/// a model added later is warmed up before it is added, so it is ready when it appears.
///
/// Requests take a `Lease` on the model they run: a removed model disappears from lookups at once,
/// and `remove` waits until the leases taken before it are returned, so requests in flight on it
/// finish first.
///
/// Thread-safety: every method may be called from any thread (one condition lock guards the table).
public final class ModelRegistry: @unchecked Sendable {
    /// One served model and the requests running on it.
    final class Slot {
        let model: DetectionModel
        var inFlight = 0
        init(_ model: DetectionModel) { self.model = model }
    }

    /// A model held by a request; `release()` (or the lease's end) returns it.
    public final class Lease: @unchecked Sendable {
        public let model: DetectionModel
        private weak var registry: ModelRegistry?
        private let slot: Slot
        private var released = false

        init(_ slot: Slot, _ registry: ModelRegistry) {
            self.slot = slot
            self.registry = registry
            model = slot.model
        }

        public func release() {
            guard !released else { return }
            released = true
            registry?.returnLease(slot)
        }

        deinit { release() }
    }

    private let condition = NSCondition()
    private var slots: [Slot]
    private var defaultName: String
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
        if let defaultName, !names.contains(defaultName) {
            throw ServiceError.config("default_model '\(defaultName)' is not one of \(names.joined(separator: ", "))")
        }
        slots = models.map(Slot.init)
        self.defaultName = defaultName ?? names[0]
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// The models served now, in the order they were added.
    public var models: [DetectionModel] { locked { slots.map(\.model) } }

    /// The model `/v1/detect` runs. It cannot be removed, so it is always there.
    public var defaultModel: DetectionModel {
        locked { slots.first { $0.model.name == defaultName }!.model }
    }

    public var defaultModelName: String { locked { defaultName } }

    public func model(named name: String) -> DetectionModel? { locked { slots.first { $0.model.name == name }?.model } }

    /// Takes a lease on the named model (the default model for nil); nil when no such model is served.
    public func lease(_ name: String?) -> Lease? {
        locked {
            let wanted = name ?? defaultName
            guard let slot = slots.first(where: { $0.model.name == wanted }) else { return nil }
            slot.inFlight += 1
            return Lease(slot, self)
        }
    }

    fileprivate func returnLease(_ slot: Slot) {
        locked {
            slot.inFlight -= 1
            if slot.inFlight == 0 { condition.broadcast() }
        }
    }

    /// Requests running on the named model now (0 for a model not served).
    public func inFlight(_ name: String) -> Int { locked { slots.first { $0.model.name == name }?.inFlight ?? 0 } }

    /// Serves `model`, replacing a served model of the same name (whose requests in flight finish on
    /// it); returns the number of requests that were running on the replaced model.
    @discardableResult
    public func add(_ model: DetectionModel) -> Int {
        locked {
            let slot = Slot(model)
            if let i = slots.firstIndex(where: { $0.model.name == model.name }) {
                let old = slots[i]
                slots[i] = slot
                return old.inFlight
            }
            slots.append(slot)
            return 0
        }
    }

    /// Why a model cannot be removed.
    public enum RemovalError: Error, Equatable {
        case notServed, isDefault
    }

    /// Stops serving the named model: new requests no longer find it at once; then waits up to
    /// `timeout` seconds for the requests already running on it. Returns the number still running
    /// when the wait ended (0 once drained). The default model cannot be removed.
    public func remove(_ name: String, timeout: TimeInterval) throws -> Int {
        condition.lock()
        defer { condition.unlock() }
        guard let i = slots.firstIndex(where: { $0.model.name == name }) else { throw RemovalError.notServed }
        guard name != defaultName else { throw RemovalError.isDefault }
        let slot = slots.remove(at: i)
        let deadline = Date(timeIntervalSinceNow: timeout)
        while slot.inFlight > 0, condition.wait(until: deadline) {}
        return slot.inFlight
    }

    public var ready: Bool { locked { warmedUp } }

    /// Runs `runs` inferences per model on a synthetic image (so the first client does not pay for
    /// page faults and allocator growth), then marks the registry ready.
    public func warmUp(runs: Int) {
        for model in models { Self.warmUp(model, runs: runs) }
        locked { warmedUp = true }
    }

    /// `runs` inferences of one model on a synthetic image.
    public static func warmUp(_ model: DetectionModel, runs: Int) {
        let side = model.config.transform.minSize
        var image = RGBImage(width: side, height: side, fill: RGBColor(red: 120, green: 130, blue: 140))
        image.fillRectangle(x0: side / 4, y0: side / 4, x1: side * 3 / 4, y1: side * 3 / 4, color: RGBColor(red: 200, green: 40, blue: 40))
        for _ in 0..<runs { _ = model.detect(image) }
    }
}

extension DetectionModel {
    public var defaultPipeline: String { pipelines[0] }
}
