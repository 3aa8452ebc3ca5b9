import Foundation
import Tensor

/// The server's settings: `Config/server.json`, overridden by environment variables, overridden by
/// command-line flags. Every key, its variable and its default:
///
/// | key | environment | default |
/// | --- | --- | --- |
/// | `host` | `RCNN_HOST` | `0.0.0.0` |
/// | `port` | `RCNN_PORT` | `8080` |
/// | `models` | — | the embedded default model |
/// | `default_model` | `RCNN_DEFAULT_MODEL` | the first model |
/// | `workers` | `RCNN_WORKERS` | 2 |
/// | `threads_per_worker` | `RCNN_THREADS` | cores / workers |
/// | `queue_depth` | `RCNN_QUEUE_DEPTH` | 8 |
/// | `request_timeout_ms` | `RCNN_REQUEST_TIMEOUT_MS` | 60000 |
/// | `max_body_bytes` | `RCNN_MAX_BODY_BYTES` | 20 MiB |
/// | `max_image_pixels` | `RCNN_MAX_IMAGE_PIXELS` | 40,000,000 |
/// | `max_connections` | `RCNN_MAX_CONNECTIONS` | 256 |
/// | `read_timeout_s` | `RCNN_READ_TIMEOUT_S` | 30 |
/// | `warmup_runs` | `RCNN_WARMUP_RUNS` | 1 |
/// | `memory_release_after_s` | `RCNN_MEMORY_RELEASE_AFTER_S` | 1 |
/// | `access_log` | `RCNN_ACCESS_LOG` | true |
/// | `api_key_file` | `RCNN_API_KEY_FILE`, or the key itself in `RCNN_API_KEY` | none: no authentication |
/// | `cors_allowed_origins` | `RCNN_CORS_ALLOWED_ORIGINS` (comma-separated) | none: CORS off |
/// | `model_repository` | `RCNN_MODEL_REPOSITORY` | none: the repository API is off |
///
/// `api_key_file` holds the key on its first line (surrounding whitespace ignored); with a key set,
/// every route except `/healthz`, `/readyz` and `/v2/health/*` needs `Authorization: Bearer <key>`.
/// `RCNN_API_KEY` wins over any file. `cors_allowed_origins` lists origins
/// (`https://app.example.com`) or `*` for any.
public struct ServerConfig: Codable, Sendable {
    public struct ModelEntry: Codable, Sendable {
        /// Path of the model's JSON config, relative to the server config's folder.
        public var config: String
        /// Truncated SVD of the box head's fully connected layers (Fast R-CNN 3.1): ranks per layer
        /// (the last repeats), or an energy fraction per layer; at most one of the two.
        public var svdRank: [Int]?
        public var svdEnergy: Double?

        enum CodingKeys: String, CodingKey {
            case config, svdRank = "svd_rank", svdEnergy = "svd_energy"
        }

        public init(config: String, svdRank: [Int]? = nil, svdEnergy: Double? = nil) {
            self.config = config
            self.svdRank = svdRank
            self.svdEnergy = svdEnergy
        }

        /// The box head's truncated-SVD settings (empty: full weights); throws for invalid values.
        public func svdSettings() throws -> [TruncatedSVD.Setting] {
            try TruncatedSVD.settings(ranks: svdRank, energy: svdEnergy)
        }
    }

    public var host: String = "0.0.0.0"
    public var port: Int = 8080
    public var models: [ModelEntry] = []
    public var defaultModel: String?
    /// Two workers of half the cores each: on two cores, 2 x 1 thread served the default model at
    /// 12.0 images/s (p99 0.79 s) against 7.6 (p99 1.53 s) for 1 x 2, and
    /// fasterrcnn_mobilenet_v3_large_fpn at 2.30 against 1.82 images/s (Benchmarks/load_check.sh,
    /// 8 connections, 40 s), because one image cannot keep two threads busy through its serial parts.
    public var workers: Int = 2
    public var threadsPerWorker: Int?
    public var queueDepth: Int = 8
    public var requestTimeoutMs: Int = 60_000
    public var maxBodyBytes: Int = 20 << 20
    public var maxImagePixels: Int = 40_000_000
    public var maxConnections: Int = 256
    public var readTimeoutS: Double = 30
    public var warmupRuns: Int = 1
    /// Seconds without inference or uploads after which the heap's free memory goes back to the
    /// system (`MemoryPolicy`); requests closer together reuse it without faulting pages in.
    public var memoryReleaseAfterS: Double = 1
    public var accessLog: Bool = true
    /// File holding the API key (relative paths resolved against the server config's folder).
    public var apiKeyFile: String?
    /// Origins allowed to call the API from a browser; empty: CORS off.
    public var corsAllowedOrigins: [String] = []
    /// Directory of model configs that `/v2/repository/...` loads from (relative paths resolved
    /// against the server config's folder); nil: the repository API answers 404.
    public var modelRepository: String?
    /// The API key in effect: `RCNN_API_KEY`, or what `resolveAPIKey()` read from `api_key_file`.
    /// Never read from the config file itself.
    public var apiKey: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case host, port, models, workers, accessLog = "access_log"
        case defaultModel = "default_model", threadsPerWorker = "threads_per_worker", queueDepth = "queue_depth"
        case requestTimeoutMs = "request_timeout_ms", maxBodyBytes = "max_body_bytes", maxImagePixels = "max_image_pixels"
        case maxConnections = "max_connections", readTimeoutS = "read_timeout_s", warmupRuns = "warmup_runs"
        case apiKeyFile = "api_key_file", corsAllowedOrigins = "cors_allowed_origins"
        case memoryReleaseAfterS = "memory_release_after_s", modelRepository = "model_repository"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ServerConfig()
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? d.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? d.port
        models = try c.decodeIfPresent([ModelEntry].self, forKey: .models) ?? d.models
        defaultModel = try c.decodeIfPresent(String.self, forKey: .defaultModel)
        workers = try c.decodeIfPresent(Int.self, forKey: .workers) ?? d.workers
        threadsPerWorker = try c.decodeIfPresent(Int.self, forKey: .threadsPerWorker)
        queueDepth = try c.decodeIfPresent(Int.self, forKey: .queueDepth) ?? d.queueDepth
        requestTimeoutMs = try c.decodeIfPresent(Int.self, forKey: .requestTimeoutMs) ?? d.requestTimeoutMs
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? d.maxBodyBytes
        maxImagePixels = try c.decodeIfPresent(Int.self, forKey: .maxImagePixels) ?? d.maxImagePixels
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections
        readTimeoutS = try c.decodeIfPresent(Double.self, forKey: .readTimeoutS) ?? d.readTimeoutS
        warmupRuns = try c.decodeIfPresent(Int.self, forKey: .warmupRuns) ?? d.warmupRuns
        memoryReleaseAfterS = try c.decodeIfPresent(Double.self, forKey: .memoryReleaseAfterS) ?? d.memoryReleaseAfterS
        accessLog = try c.decodeIfPresent(Bool.self, forKey: .accessLog) ?? d.accessLog
        apiKeyFile = try c.decodeIfPresent(String.self, forKey: .apiKeyFile)
        corsAllowedOrigins = try c.decodeIfPresent([String].self, forKey: .corsAllowedOrigins) ?? d.corsAllowedOrigins
        modelRepository = try c.decodeIfPresent(String.self, forKey: .modelRepository)
    }

    /// Reads a config file; model paths become absolute (relative to the file's folder).
    public static func load(_ url: URL) throws -> ServerConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ServiceError.config("\(url.path): cannot read: \(error.localizedDescription)")
        }
        var config: ServerConfig
        do { config = try JSONDecoder().decode(ServerConfig.self, from: data) } catch {
            throw ServiceError.config("\(url.path): invalid server config: \(error)")
        }
        let base = url.deletingLastPathComponent()
        config.models = config.models.map {
            var entry = $0
            entry.config = URL(fileURLWithPath: $0.config, relativeTo: base).standardizedFileURL.path
            return entry
        }
        config.apiKeyFile = config.apiKeyFile.map { URL(fileURLWithPath: $0, relativeTo: base).standardizedFileURL.path }
        config.modelRepository = config.modelRepository.map { URL(fileURLWithPath: $0, relativeTo: base).standardizedFileURL.path }
        return config
    }

    /// Applies `RCNN_*` environment variables (see the table above).
    public mutating func applyEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws {
        func int(_ key: String) throws -> Int? {
            guard let v = env[key] else { return nil }
            guard let i = Int(v) else { throw ServiceError.config("\(key)=\(v) is not an integer") }
            return i
        }
        func number(_ key: String) throws -> Double? {
            guard let v = env[key] else { return nil }
            guard let d = Double(v) else { throw ServiceError.config("\(key)=\(v) is not a number") }
            return d
        }
        if let v = env["RCNN_HOST"] { host = v }
        if let v = try int("RCNN_PORT") { port = v }
        if let v = env["RCNN_DEFAULT_MODEL"] { defaultModel = v }
        if let v = try int("RCNN_WORKERS") { workers = v }
        if let v = try int("RCNN_THREADS") { threadsPerWorker = v }
        if let v = try int("RCNN_QUEUE_DEPTH") { queueDepth = v }
        if let v = try int("RCNN_REQUEST_TIMEOUT_MS") { requestTimeoutMs = v }
        if let v = try int("RCNN_MAX_BODY_BYTES") { maxBodyBytes = v }
        if let v = try int("RCNN_MAX_IMAGE_PIXELS") { maxImagePixels = v }
        if let v = try int("RCNN_MAX_CONNECTIONS") { maxConnections = v }
        if let v = try number("RCNN_READ_TIMEOUT_S") { readTimeoutS = v }
        if let v = try int("RCNN_WARMUP_RUNS") { warmupRuns = v }
        if let v = try number("RCNN_MEMORY_RELEASE_AFTER_S") { memoryReleaseAfterS = v }
        if let v = env["RCNN_ACCESS_LOG"] { accessLog = !["0", "false", "no", "off"].contains(v.lowercased()) }
        if let v = env["RCNN_API_KEY_FILE"] { apiKeyFile = v }
        if let v = env["RCNN_API_KEY"] { apiKey = v.trimmingCharacters(in: .whitespacesAndNewlines) }
        if let v = env["RCNN_MODEL_REPOSITORY"] { modelRepository = v.isEmpty ? nil : v }
        if let v = env["RCNN_CORS_ALLOWED_ORIGINS"] {
            corsAllowedOrigins = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    /// Reads the key from `api_key_file` unless `RCNN_API_KEY` already set one. An unreadable or
    /// empty file is an error (a server meant to be protected must not start open).
    public mutating func resolveAPIKey() throws {
        guard apiKey == nil, let path = apiKeyFile else { return }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ServiceError.config("api_key_file \(path): cannot read: \(error.localizedDescription)")
        }
        let key = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !key.isEmpty else { throw ServiceError.config("api_key_file \(path) is empty") }
        apiKey = key
    }

    /// Rejects settings that cannot work, with the key's name.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ServiceError.config(message) } }
        try check((0...65535).contains(port), "port \(port) is not in 0...65535")
        try check(workers >= 1, "workers must be at least 1")
        try check(queueDepth >= 0, "queue_depth must not be negative")
        try check(requestTimeoutMs > 0, "request_timeout_ms must be positive")
        try check(maxBodyBytes > 0, "max_body_bytes must be positive")
        try check(maxImagePixels > 0, "max_image_pixels must be positive")
        try check(maxConnections >= 1, "max_connections must be at least 1")
        try check(readTimeoutS > 0, "read_timeout_s must be positive")
        try check(warmupRuns >= 0, "warmup_runs must not be negative")
        try check((0...InferenceScheduler.IdleRelease.longest).contains(memoryReleaseAfterS),
                  "memory_release_after_s must be between 0 and \(Int(InferenceScheduler.IdleRelease.longest))")
        try check(!models.isEmpty, "no models configured")
        for m in models {
            do { _ = try m.svdSettings() } catch {
                throw ServiceError.config("\(m.config): svd_rank / svd_energy: \(error)")
            }
        }
        try check(apiKey.map { !$0.isEmpty } ?? true, "RCNN_API_KEY is empty")
        if let dir = modelRepository {
            var isDirectory: ObjCBool = false
            try check(FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) && isDirectory.boolValue,
                      "model_repository \(dir) is not a directory")
        }
    }
}

/// Errors of the service layer that are not HTTP responses.
public enum ServiceError: Error, CustomStringConvertible {
    case config(String)
    case model(String)

    public var description: String {
        switch self {
        case .config(let m): return "configuration error: \(m)"
        case .model(let m): return "model error: \(m)"
        }
    }
}
