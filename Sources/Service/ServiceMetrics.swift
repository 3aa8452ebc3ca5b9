import Foundation
import HTTP

/// The server's metrics, served at `GET /metrics` (names and labels listed in `Docs/api.md`).
///
/// HTTP metrics come from the server's access-log hook (`observe(_:route:)`), so they count what
/// went over the wire, refused requests included; inference and decode metrics are recorded by the
/// service as it works. Labels are bounded: `route` is a route template (`/v1/models/{name}/detect`)
/// or `unmatched`, `method` one of the standard methods or `other`.
///
/// Thread-safety: all methods may be called from any thread.
public final class ServiceMetrics: @unchecked Sendable {
    public let registry = MetricsRegistry()

    public let httpRequests: Counter
    public let httpDuration: Histogram
    public let httpRequestBytes: Counter
    public let httpResponseBytes: Counter
    public let inferenceDuration: Histogram
    public let stageDuration: Histogram
    public let inferenceRejected: Counter
    public let imagesDecoded: Counter
    public let imageDecodeFailures: Counter
    public let repositoryOperations: Counter
    public let sliceTiles: Counter

    private let lock = NSLock()
    private var connectionsOpen: (@Sendable () -> Int)?

    /// Methods reported by name; anything else is `other` (the method token is client-chosen).
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]

    public init(scheduler: InferenceScheduler, models: ModelRegistry) {
        let r = registry
        httpRequests = r.counter("rcnn_http_requests_total", "HTTP requests answered, by route template, method and status.", labels: ["route", "method", "status"])
        httpDuration = r.histogram("rcnn_http_request_duration_seconds", "From the first request byte to the last response byte, by route template.", labels: ["route"])
        httpRequestBytes = r.counter("rcnn_http_request_bytes_total", "Request bytes read from the wire (head and body), by route template.", labels: ["route"])
        httpResponseBytes = r.counter("rcnn_http_response_bytes_total", "Response bytes written to the wire (head and body), by route template.", labels: ["route"])
        inferenceDuration = r.histogram("rcnn_inference_duration_seconds", "Time in the detection pipeline per image (all stages after decode), by model and pipeline.", labels: ["model", "pipeline"])
        stageDuration = r.histogram("rcnn_stage_duration_seconds", "Time per pipeline stage, by model, pipeline and stage.", labels: ["model", "pipeline", "stage"])
        inferenceRejected = r.counter("rcnn_inference_rejected_total", "Inference requests refused with 503, by reason (queue_full, deadline_exceeded, shutting_down).", labels: ["reason"])
        r.gaugeFunction("rcnn_inference_queue_depth", "Inference jobs waiting for a worker.") { [weak scheduler] in
            [([], Double(scheduler?.waiting ?? 0))]
        }
        r.gaugeFunction("rcnn_inference_in_flight", "Inference jobs running on a worker now.") { [weak scheduler] in
            [([], Double(scheduler?.inFlight ?? 0))]
        }
        imagesDecoded = r.counter("rcnn_images_decoded_total", "Images decoded, by format (jpeg, png).", labels: ["format"])
        repositoryOperations = r.counter("rcnn_model_repository_operations_total", "Model repository loads and unloads, by action (load, unload) and result (ok, error).", labels: ["action", "result"])
        sliceTiles = r.counter("rcnn_slice_tiles_total", "Tiles run by sliced inference, by model.", labels: ["model"])
        imageDecodeFailures = r.counter("rcnn_image_decode_failures_total", "Request bodies that were not a decodable image, by error code.", labels: ["code"])
        r.gaugeFunction("rcnn_model_ready", "1 when the model is loaded and warmed up, else 0.", labels: ["model"]) { [weak models] in
            guard let models else { return [] }
            let ready = models.ready ? 1.0 : 0.0
            return models.models.map { ([$0.name], ready) }
        }
        r.gaugeFunction("process_resident_memory_bytes", "Resident set size in bytes (from /proc/self/statm).") {
            ProcessStats.residentBytes().map { [([], Double($0))] } ?? []
        }
        r.gaugeFunction("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", type: "counter") {
            ProcessStats.cpuSeconds().map { [([], $0)] } ?? []
        }
        r.gaugeFunction("process_open_fds", "Open file descriptors.") {
            ProcessStats.openFileDescriptors().map { [([], Double($0))] } ?? []
        }
        r.gaugeFunction("rcnn_http_connections_open", "Client connections open now.") { [weak self] in
            guard let self else { return [] }
            self.lock.lock(); let f = self.connectionsOpen; self.lock.unlock()
            return f.map { [([], Double($0()))] } ?? []
        }
        let start = ProcessStats.startTime() ?? Date().timeIntervalSince1970
        r.gaugeFunction("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.") { [([], start)] }
    }

    /// Reports `rcnn_http_connections_open` from `count` (the server's `openConnectionCount`).
    public func setConnectionsOpen(_ count: @escaping @Sendable () -> Int) {
        lock.lock(); connectionsOpen = count; lock.unlock()
    }

    /// Records one access-log entry under its route template.
    public func observe(_ entry: AccessLogEntry, route: String) {
        let method = Self.knownMethods.contains(entry.method) ? entry.method : "other"
        httpRequests.inc([route, method, String(entry.status)])
        httpDuration.observe([route], entry.durationMilliseconds / 1000)
        httpRequestBytes.inc([route], by: Double(max(0, entry.bytesIn)))
        httpResponseBytes.inc([route], by: Double(max(0, entry.bytesOut)))
    }

    /// Records one inference's stage timings (milliseconds) as seconds.
    func observeInference(model: String, pipeline: String, stages: [(name: String, ms: Double)]) {
        inferenceDuration.observe([model, pipeline], stages.reduce(0) { $0 + $1.ms } / 1000)
        for s in stages { stageDuration.observe([model, pipeline, s.name], s.ms / 1000) }
    }
}

/// Linux process statistics from `/proc`; nil where unavailable.
enum ProcessStats {
    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }
    static var ticksPerSecond: Double { Double(sysconf(Int32(_SC_CLK_TCK))) }

    /// The second field of `/proc/self/statm` (resident pages) times the page size.
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return pages * pageSize
    }

    /// Fields of `/proc/self/stat` after the command name (which may contain spaces), so that
    /// index 0 is field 3 (`state`).
    static func statFields() -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// utime + stime (fields 14 and 15), in seconds.
    static func cpuSeconds() -> Double? {
        guard let f = statFields(), f.count > 12, let u = Double(f[11]), let s = Double(f[12]) else { return nil }
        return (u + s) / ticksPerSecond
    }

    /// Boot time (`btime` in /proc/stat) plus the process's start (field 22, ticks after boot).
    static func startTime() -> Double? {
        guard let f = statFields(), f.count > 19, let ticks = Double(f[19]),
              let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        return boot + ticks / ticksPerSecond
    }

    static func openFileDescriptors() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map { $0.count }
    }
}
