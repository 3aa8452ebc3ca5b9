import ArgumentParser
import Detection
import Foundation
import HTTP
import Service
import Tensor

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the models of a server config over HTTP until SIGTERM/SIGINT.",
        discussion: "Settings come from --config (default Config/server.json when present, else the embedded default model), then RCNN_* environment variables, then these flags.")

    @Option(name: .long, help: "Address to listen on (0.0.0.0, ::, 127.0.0.1, ...).")
    var host: String?

    @Option(name: .long, help: "TCP port (0 picks a free one and prints it).")
    var port: Int?

    @Option(name: .long, help: "Server config (JSON).")
    var config: String?

    @Option(name: .long, help: "Serve this model config instead of the server config's list (repeatable).")
    var model: [String] = []

    @Option(name: .long, help: "Directory of model configs (NAME.json + NAME.safetensors, as rcnn import writes them) that POST /v2/repository/models/NAME/load serves without a restart.")
    var modelRepository: String?

    @Option(name: .long, help: "Inference workers.")
    var workers: Int?

    @Option(name: .long, help: "Requests allowed to wait for a worker before 503.")
    var queueDepth: Int?

    func run() throws {
        var settings = try loadSettings()
        try settings.applyEnvironment()
        if let host { settings.host = host }
        if let port { settings.port = port }
        if let workers { settings.workers = workers }
        if let queueDepth { settings.queueDepth = queueDepth }
        if let modelRepository { settings.modelRepository = URL(fileURLWithPath: modelRepository).standardizedFileURL.path }
        if !model.isEmpty {
            // The named models replace the config's list, and with it the config file's default: the
            // first of them serves requests that name no model (RCNN_DEFAULT_MODEL still chooses).
            settings.models = model.map { .init(config: URL(fileURLWithPath: $0).standardizedFileURL.path) }
            if ProcessInfo.processInfo.environment["RCNN_DEFAULT_MODEL"] == nil { settings.defaultModel = nil }
        }
        if settings.models.isEmpty { settings.models = [.init(config: try DefaultModel.configURL().path)] }
        do {
            try settings.resolveAPIKey()
            try settings.validate()
        } catch { throw ValidationError("\(error)") }

        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = settings.threadsPerWorker ?? max(1, cores / settings.workers)
        BLAS.threads = threads
        Parallelism.workers = threads

        log("loading \(settings.models.count) model(s)")
        let registry: ModelRegistry
        do {
            registry = try ModelRegistry(entries: settings.models, defaultName: settings.defaultModel)
        } catch { throw ValidationError("\(error)") }
        let scheduler = InferenceScheduler(workers: settings.workers, queueDepth: settings.queueDepth,
                                           idleRelease: .trimMemory(after: settings.memoryReleaseAfterS))
        let service = DetectionService(registry: registry, scheduler: scheduler, config: settings)

        var httpConfig = HTTPServer.Configuration()
        httpConfig.host = settings.host
        httpConfig.port = settings.port
        httpConfig.maxBodyBytes = settings.maxBodyBytes
        httpConfig.maxConnections = settings.maxConnections
        httpConfig.readTimeout = settings.readTimeoutS
        // Every response feeds the HTTP metrics; the log line is optional.
        let logLines = settings.accessLog
        httpConfig.accessLog = { entry in
            service.observe(entry)
            if logLines { log(entry.description) }
        }
        // An overloaded service refuses inference requests from their headers, unread.
        httpConfig.headHandler = { service.admit(head: $0) }
        let server = HTTPServer(configuration: httpConfig, handler: { service.handle($0) })
        service.metrics.setConnectionsOpen { [weak server] in server?.openConnectionCount ?? 0 }
        do { try server.start() } catch { throw ValidationError("\(error)") }
        log("listening on \(settings.host):\(server.boundPort) (models: \(registry.models.map(\.name).joined(separator: ", ")); default \(registry.defaultModel.name); \(settings.workers) worker(s) x \(threads) thread(s), BLAS core \(BLAS.coreName)\(BLASKernelSelection.note.map { " (\($0))" } ?? "")\(settings.apiKey == nil ? "" : "; API key required")\(settings.modelRepository.map { "; model repository \($0)" } ?? "")\(settings.corsAllowedOrigins.isEmpty ? "" : "; CORS for \(settings.corsAllowedOrigins.joined(separator: ", "))"))")

        // Warm up off the main thread; /readyz answers 503 until this finishes.
        let warmup = settings.warmupRuns
        Thread.detachNewThread {
            registry.warmUp(runs: warmup)
            log("ready")
        }
        let signal = server.runUntilSignal(gracePeriod: 30)
        log("stopped accepting (signal \(signal.map(String.init) ?? "none")); requests in flight finished")
        scheduler.shutdown()
        log("stopped")
    }

    func loadSettings() throws -> ServerConfig {
        if let config {
            do { return try ServerConfig.load(URL(fileURLWithPath: config)) } catch { throw ValidationError("\(error)") }
        }
        let standard = URL(fileURLWithPath: "Config/server.json")
        if FileManager.default.fileExists(atPath: standard.path) {
            do { return try ServerConfig.load(standard) } catch { throw ValidationError("\(error)") }
        }
        return ServerConfig()
    }
}

/// One line on standard error with a UTC timestamp.
func log(_ message: String) {
    let f = ISO8601DateFormatter()
    FileHandle.standardError.write("\(f.string(from: Date())) \(message)\n".data(using: .utf8)!)
}
