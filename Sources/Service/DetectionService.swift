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
    let accessControl: AccessControl

    public init(registry: ModelRegistry, scheduler: InferenceScheduler, config: ServerConfig) {
        self.registry = registry
        self.scheduler = scheduler
        self.config = config
        metrics = ServiceMetrics(scheduler: scheduler, models: registry)
        accessControl = AccessControl(apiKey: config.apiKey, allowedOrigins: config.corsAllowedOrigins)
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
        switch route.template {
        case "/":
            return WebPage.response
        case "/healthz":
            return .json(["status": "ok"])
        case "/readyz":
            if registry.ready { return .json(["status": "ready"]) }
            throw APIError(503, "not_ready", "models are loading or warming up", headers: [("Retry-After", "1")])
        case "/metrics":
            var resp = HTTPResponse(status: 200, body: Array(metrics.registry.exposition().utf8))
            resp.headers.replaceOrAdd(name: "Content-Type", value: MetricsRegistry.contentType)
            return resp
        case "/openapi.json":
            return .json(Data(OpenAPIDocument.json.utf8))
        case "/v1/models":
            return .json(["models": registry.models.map { ModelInfo($0, ready: registry.ready) }])
        case "/v1/models/{name}":
            return .json(ModelInfo(try model(params["name"]!), ready: registry.ready))
        case "/v1/detect":
            return try detect(r, model: registry.defaultModel)
        case "/v1/models/{name}/detect":
            return try detect(r, model: try model(params["name"]!))
        default:
            return try openInference(r, route, params)
        }
    }

    func model(_ name: String) throws -> DetectionModel {
        guard let m = registry.model(named: name) else {
            throw APIError.notFound("no model named '\(name)'; models: \(registry.models.map(\.name).joined(separator: ", "))")
        }
        return m
    }

    /// Decodes `bytes` (counting it in the metrics) into `timings` under `decode`.
    func decodeImage(_ bytes: [UInt8], timings: inout StageTimings) throws -> RGBImage {
        do {
            let image = try timings.measure("decode") { try ImageDecoder.decode(bytes, maxPixels: config.maxImagePixels) }
            metrics.imagesDecoded.inc([ImageFormat.sniff(bytes)?.rawValue ?? "unknown"])
            return image
        } catch let e as ImageDecodingError {
            metrics.imageDecodeFailures.inc([e.code])
            if case .tooLarge = e { throw APIError(413, e.code, e.description) }
            throw APIError.badRequest(e.description, code: e.code)
        }
    }

    /// Runs `model` on `image` through the scheduler, recording inference metrics; scheduler
    /// failures become 503s.
    func infer(_ model: DetectionModel, pipeline: String, image: RGBImage, options: DetectionModel.Options) throws -> (detections: Detections, timings: StageTimings) {
        let deadline = DispatchTime.now() + .milliseconds(config.requestTimeoutMs)
        var options = options
        options.pipeline = DetectionModel.Pipeline(rawValue: pipeline) ?? .default
        do {
            let result = try scheduler.run(deadline: deadline) { [options] in model.detect(image, options: options) }
            metrics.observeInference(model: model.name, pipeline: pipeline, stages: result.timings.stages)
            return result
        } catch InferenceScheduler.Failure.queueFull {
            metrics.inferenceRejected.inc(["queue_full"])
            throw APIError(503, "overloaded", "the inference queue is full; retry shortly", headers: [("Retry-After", "1")])
        } catch InferenceScheduler.Failure.deadlineExceeded {
            metrics.inferenceRejected.inc(["deadline_exceeded"])
            throw APIError(503, "deadline_exceeded", "the request did not finish within \(config.requestTimeoutMs) ms", headers: [("Retry-After", "1")])
        } catch InferenceScheduler.Failure.stopped {
            metrics.inferenceRejected.inc(["shutting_down"])
            throw APIError(503, "shutting_down", "the server is shutting down")
        }
    }

    /// Checks that `model` runs `pipeline` (nil: its default) and returns the pipeline's name.
    func pipeline(_ requested: String?, of model: DetectionModel) throws -> String {
        let pipeline = requested ?? model.defaultPipeline
        guard model.pipelines.contains(pipeline) else {
            throw APIError.unprocessable("model '\(model.name)' runs pipelines \(model.pipelines.joined(separator: ", ")), not '\(pipeline)'")
        }
        return pipeline
    }

    func detect(_ r: HTTPRequest, model: DetectionModel) throws -> HTTPResponse {
        var req = try DetectRequest.parse(r)
        if req.proposals != nil {
            guard req.pipeline == nil || req.pipeline == "fast" || req.pipeline == "rcnn" else {
                throw APIError.unprocessable("proposals are used by the fast and rcnn pipelines, not '\(req.pipeline!)'")
            }
            if req.pipeline == nil { req.pipeline = "fast" }
        }
        let pipeline = try pipeline(req.pipeline, of: model)
        var keep: Set<Int>?
        if let names = req.classes {
            var ids = Set<Int>()
            for n in names {
                guard let i = model.classes.firstIndex(of: n), i > 0 else {
                    throw APIError.unprocessable("unknown class '\(n)' for model '\(model.name)'")
                }
                ids.insert(i)
            }
            keep = ids
        }
        if req.format == .json, let accept = r.headers["Accept"]?.lowercased() {
            if accept.contains("image/png") { req.format = .png } else if accept.contains("image/jpeg") { req.format = .jpeg }
        }

        var timings = StageTimings()
        let image = try decodeImage(req.image, timings: &timings)
        let wantMasks = pipeline == "mask" && (req.masks != .none || req.format != .json)
        var proposals: [Box]?
        if let given = req.proposals {
            // Clipped to the image; a box left empty by clipping is an error, not silently dropped.
            proposals = try given.enumerated().map { i, b in
                let c = Box(b[0], b[1], b[2], b[3]).clipped(width: Float(image.width), height: Float(image.height))
                guard c.width > 0, c.height > 0 else {
                    throw APIError.unprocessable("proposals[\(i)] \(b) lies outside the \(image.width)x\(image.height) image")
                }
                return c
            }
        }
        let options = DetectionModel.Options(scoreThreshold: req.scoreThreshold, maxDetections: req.maxDetections, masks: wantMasks,
                                             proposals: proposals)
        let result = try infer(model, pipeline: pipeline, image: image, options: options)
        var det = result.detections
        timings.append(result.timings)
        if let keep { det = det.select(det.labels.indices.filter { keep.contains(det.labels[$0]) }) }

        switch req.format {
        case .png, .jpeg:
            let drawn = Annotator.draw(image, det, classes: model.classes)
            let bytes = req.format == .png ? try ImageEncoder.png(drawn) : try ImageEncoder.jpeg(drawn, quality: 90)
            var resp = HTTPResponse(status: 200, body: bytes)
            resp.headers.replaceOrAdd(name: "Content-Type", value: req.format == .png ? "image/png" : "image/jpeg")
            return resp
        case .json:
            let doc = DetectionDocument(model: model.name, pipeline: pipeline, imageWidth: image.width, imageHeight: image.height,
                                        detections: det, classes: model.classes, timings: timings,
                                        masks: DetectionDocument.MaskEncoding(rawValue: req.masks.rawValue) ?? .rle)
            return .json(try doc.jsonData())
        }
    }
}

/// What `GET /v1/models/{name}` reports.
struct ModelInfo: Encodable {
    var name: String
    var architecture: String
    var task: String
    var pipelines: [String]
    var classes: [String]
    var minSize: Int
    var maxSize: Int
    var weights: String
    var weightsSha256: String?
    var ready: Bool
    /// The box head's truncated SVD, one entry per fully connected layer (absent: full weights).
    var boxHeadSVD: [SVDLayer]?

    struct SVDLayer: Encodable {
        var outFeatures: Int, inFeatures: Int, rank: Int, energy: Double
        enum CodingKeys: String, CodingKey { case rank, energy, outFeatures = "out_features", inFeatures = "in_features" }
    }

    init(_ m: DetectionModel, ready: Bool) {
        name = m.name
        architecture = m.config.architecture
        task = m.config.task
        pipelines = m.pipelines
        classes = m.classes
        minSize = m.config.transform.minSize
        maxSize = m.config.transform.maxSize
        weights = m.weightsURL.lastPathComponent
        weightsSha256 = m.config.weightsSha256
        self.ready = ready
        let svd = m.roiHeads.boxHeadSVD
        boxHeadSVD = svd.isEmpty ? nil : svd.map { SVDLayer(outFeatures: $0.outFeatures, inFeatures: $0.inFeatures, rank: $0.rank, energy: $0.energy) }
    }

    enum CodingKeys: String, CodingKey {
        case name, architecture, task, pipelines, classes, weights, ready
        case minSize = "min_size", maxSize = "max_size", weightsSha256 = "weights_sha256", boxHeadSVD = "box_head_svd"
    }
}
