import Detection
import Dispatch
import Foundation
import HTTP
import Imaging

/// The HTTP API: routes requests to handlers. Knows the models, the inference scheduler, the
/// limits and the metrics; knows nothing about sockets. `handle` is called on connection threads and
/// only blocks them while waiting for the scheduler, which runs the inference.
///
/// Routes are listed in `Route.all`. Native errors are `{"error": {"code", "message"}}`; the open
/// inference protocol's routes (`/v2...`) answer errors as `{"error": "message"}`.
///
/// Thread-safety: immutable apart from the registry's readiness flag, the scheduler and the
/// metrics, all thread-safe.
public final class DetectionService: @unchecked Sendable {
    public let registry: ModelRegistry
    public let scheduler: InferenceScheduler
    public let config: ServerConfig
    public let metrics: ServiceMetrics
    /// The model repository API's directory (`model_repository`); nil: the API answers 404.
    public let repository: ModelRepository?
    let accessControl: AccessControl

    public init(registry: ModelRegistry, scheduler: InferenceScheduler, config: ServerConfig) {
        self.registry = registry
        self.scheduler = scheduler
        self.config = config
        metrics = ServiceMetrics(scheduler: scheduler, models: registry)
        accessControl = AccessControl(apiKey: config.apiKey, allowedOrigins: config.corsAllowedOrigins)
        repository = config.modelRepository.map {
            // An unload waits for the requests on the model, which end by their deadline at the latest.
            ModelRepository(directory: URL(fileURLWithPath: $0), registry: registry, warmupRuns: config.warmupRuns,
                            drainTimeout: Double(config.requestTimeoutMs) / 1000 + 5)
        }
    }

    /// Routes one request. Errors become JSON error responses; nothing throws past here.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let matched = Route.match(request.path)
        var response: HTTPResponse
        if request.method == "OPTIONS", let route = matched?.route {
            response = accessControl.preflight(request, route: route)
        } else if let denied = accessControl.deny(request, route: matched?.route) {
            response = denied
        } else {
            do {
                guard let matched else { throw APIError.notFound("no route for \(request.path)") }
                response = try route(request, matched.route, matched.params)
            } catch let e as APIError {
                response = matched?.route.isOpenInference == true || request.path.hasPrefix("/v2/") ? e.openInferenceResponse : e.response
            } catch {
                response = APIError(500, "internal_error", "internal error").response
            }
        }
        accessControl.addCORSHeaders(request, to: &response)
        // A request body (an upload, whatever became of it) is memory to give back once idle.
        if !request.body.isEmpty { scheduler.noteActivity() }
        return response
    }

    /// Refuses an inference request from its head, before its body is read, when the scheduler
    /// could not admit it anyway (every worker busy and the queue full): the 503 then costs neither
    /// the upload nor a decode. Install it as the HTTP server's `headHandler`. Advisory: a request
    /// let through here is checked again when its job is submitted.
    public func admit(head: HTTPRequest) -> HTTPResponse? {
        guard head.method == "POST", let matched = Route.match(head.path), matched.route.runsInference,
              accessControl.deny(head, route: matched.route) == nil, scheduler.isFull else { return nil }
        metrics.inferenceRejected.inc(["queue_full"])
        let error = Self.overloaded
        var response = matched.route.isOpenInference ? error.openInferenceResponse : error.response
        accessControl.addCORSHeaders(head, to: &response)
        return response
    }

    /// The 503 for a full inference queue.
    static let overloaded = APIError(503, "overloaded", "the inference queue is full; retry shortly", headers: [("Retry-After", "1")])

    /// The metrics label for a request path: its route template, or `unmatched`.
    public static func routeLabel(_ path: String) -> String { Route.match(path)?.route.template ?? Route.unmatched }

    /// Records one access-log entry in the HTTP metrics; call it from `HTTPServer`'s access log hook.
    public func observe(_ entry: AccessLogEntry) {
        metrics.observe(entry, route: Self.routeLabel(entry.path))
    }

    func route(_ r: HTTPRequest, _ route: Route, _ params: [String: String]) throws -> HTTPResponse {
        let method = r.method == "HEAD" ? "GET" : r.method
        guard route.methods.contains(method) else {
            let allowed = route.allowHeader
            throw APIError(405, "method_not_allowed", "\(r.method) is not allowed on \(r.path); use \(allowed)",
                           headers: [("Allow", allowed)])
        }
        switch route.endpoint {
        case .webPage:
            return WebPage.response
        case .health:
            return .json(["status": "ok"])
        case .readiness:
            if registry.ready { return .json(["status": "ready"]) }
            throw APIError(503, "not_ready", "models are loading or warming up", headers: [("Retry-After", "1")])
        case .metrics:
            var resp = HTTPResponse(status: 200, body: Array(metrics.registry.exposition().utf8))
            resp.headers.replaceOrAdd(name: "Content-Type", value: MetricsRegistry.contentType)
            return resp
        case .openAPI:
            return .json(Data(OpenAPIDocument.json.utf8))
        case .listModels:
            return .json(["models": registry.models.map { ModelInfo($0, ready: registry.ready) }])
        case .describeModel:
            return .json(ModelInfo(try model(params["name"]!), ready: registry.ready))
        case .detect:
            let lease = try self.lease(nil)
            defer { lease.release() }
            return try detect(r, model: lease.model)
        case .detectWithModel:
            let lease = try self.lease(params["name"]!)
            defer { lease.release() }
            return try detect(r, model: lease.model)
        case .v2Server, .v2Live, .v2Ready, .v2Model, .v2ModelReady, .v2Infer:
            return try openInference(r, route, params)
        case .v2RepositoryIndex, .v2RepositoryLoad, .v2RepositoryUnload:
            return try repositoryRequest(r, route, params)
        }
    }

    func model(_ name: String) throws -> DetectionModel {
        guard let m = registry.model(named: name) else { throw noModel(name) }
        return m
    }

    /// The named model (the default for nil), held until the lease is released: a repository unload
    /// waits for it.
    func lease(_ name: String?) throws -> ModelRegistry.Lease {
        guard let lease = registry.lease(name) else { throw noModel(name ?? registry.defaultModelName) }
        return lease
    }

    private func noModel(_ name: String) -> APIError {
        APIError.notFound("no model named '\(name)'; models: \(registry.models.map(\.name).joined(separator: ", "))")
    }
}
