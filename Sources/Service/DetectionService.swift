import Detection
import Dispatch
import Foundation
import HTTP
import Imaging

/// The HTTP API: routes requests to handlers. Knows the models, the inference scheduler and the
/// limits; knows nothing about sockets. `handle` is called on connection threads and only blocks
/// them while waiting for the scheduler, which runs the inference.
///
/// Thread-safety: immutable apart from the registry's readiness flag and the scheduler, both
/// thread-safe.
public final class DetectionService: @unchecked Sendable {
    public let registry: ModelRegistry
    public let scheduler: InferenceScheduler
    public let config: ServerConfig

    public init(registry: ModelRegistry, scheduler: InferenceScheduler, config: ServerConfig) {
        self.registry = registry
        self.scheduler = scheduler
        self.config = config
    }

    /// Routes one request. Errors become JSON error responses; nothing throws past here.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        do {
            return try route(request)
        } catch let e as APIError {
            return e.response
        } catch {
            return APIError(500, "internal_error", "internal error").response
        }
    }

    func route(_ r: HTTPRequest) throws -> HTTPResponse {
        let parts = r.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let method = r.method == "HEAD" ? "GET" : r.method
        func allow(_ methods: String...) throws {
            guard methods.contains(method) else {
                let allowed = methods.contains("GET") ? methods + ["HEAD"] : methods
                throw APIError(405, "method_not_allowed", "\(r.method) is not allowed on \(r.path); use \(allowed.joined(separator: ", "))",
                               headers: [("Allow", allowed.joined(separator: ", "))])
            }
        }
        switch parts {
        case ["healthz"]:
            try allow("GET")
            return .json(["status": "ok"])
        case ["readyz"]:
            try allow("GET")
            if registry.ready { return .json(["status": "ready"]) }
            throw APIError(503, "not_ready", "models are loading or warming up", headers: [("Retry-After", "1")])
        case ["v1", "models"]:
            try allow("GET")
            return .json(["models": registry.models.map { ModelInfo($0, ready: registry.ready) }])
        case let p where p.count == 3 && p[0] == "v1" && p[1] == "models":
            try allow("GET")
            return .json(ModelInfo(try model(p[2]), ready: registry.ready))
        case ["v1", "detect"]:
            try allow("POST")
            return try detect(r, model: registry.defaultModel)
        case let p where p.count == 4 && p[0] == "v1" && p[1] == "models" && p[3] == "detect":
            try allow("POST")
            return try detect(r, model: try model(p[2]))
        default:
            throw APIError.notFound("no route for \(r.path)")
        }
    }

    func model(_ name: String) throws -> DetectionModel {
        guard let m = registry.model(named: name) else {
            throw APIError.notFound("no model named '\(name)'; models: \(registry.models.map(\.name).joined(separator: ", "))")
        }
        return m
    }

    func detect(_ r: HTTPRequest, model: DetectionModel) throws -> HTTPResponse {
        var req = try DetectRequest.parse(r)
        let pipeline = req.pipeline ?? model.defaultPipeline
        guard model.pipelines.contains(pipeline) else {
            throw APIError.unprocessable("model '\(model.name)' runs pipelines \(model.pipelines.joined(separator: ", ")), not '\(pipeline)'")
        }
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
        let image: RGBImage
        do {
            image = try timings.measure("decode") { try ImageDecoder.decode(req.image, maxPixels: config.maxImagePixels) }
        } catch let e as ImageDecodingError {
            if case .tooLarge = e { throw APIError(413, e.code, e.description) }
            throw APIError.badRequest(e.description, code: e.code)
        }
        let wantMasks = pipeline == "mask" && (req.masks != .none || req.format != .json)
        let options = DetectionModel.Options(scoreThreshold: req.scoreThreshold, maxDetections: req.maxDetections, masks: wantMasks)
        let deadline = DispatchTime.now() + .milliseconds(config.requestTimeoutMs)
        let result: (detections: Detections, timings: StageTimings)
        do {
            result = try scheduler.run(deadline: deadline) { model.detect(image, options: options) }
        } catch InferenceScheduler.Failure.queueFull {
            throw APIError(503, "overloaded", "the inference queue is full; retry shortly", headers: [("Retry-After", "1")])
        } catch InferenceScheduler.Failure.deadlineExceeded {
            throw APIError(503, "deadline_exceeded", "the request did not finish within \(config.requestTimeoutMs) ms", headers: [("Retry-After", "1")])
        } catch InferenceScheduler.Failure.stopped {
            throw APIError(503, "shutting_down", "the server is shutting down")
        }
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
    }

    enum CodingKeys: String, CodingKey {
        case name, architecture, task, pipelines, classes, weights, ready
        case minSize = "min_size", maxSize = "max_size", weightsSha256 = "weights_sha256"
    }
}
