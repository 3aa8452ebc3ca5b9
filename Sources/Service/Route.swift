/// One route the service serves: a path template (`/v1/models/{name}/detect`) and its methods.
///
/// The table `Route.all` is the single list the router, the metrics (`route` label), access
/// control and the OpenAPI test read. A `{param}` segment matches any one non-empty path segment.
public struct Route: Sendable, Equatable {
    /// What a route does; the router switches over it, so every route has exactly one handler
    /// and a route without one does not compile.
    public enum Endpoint: Sendable, Equatable {
        case webPage, health, readiness, metrics, openAPI
        case listModels, describeModel, detect, detectWithModel
        case v2Server, v2Live, v2Ready, v2Model, v2ModelReady, v2Infer
        case v2RepositoryIndex, v2RepositoryLoad, v2RepositoryUnload
    }

    public let template: String
    /// Methods served; `HEAD` is implied by `GET`, and `OPTIONS` is answered for every route.
    public let methods: [String]
    public let endpoint: Endpoint
    /// Served without an API key (probes).
    public let isPublic: Bool
    let segments: [String]

    init(_ template: String, _ methods: [String], _ endpoint: Endpoint, isPublic: Bool = false) {
        self.template = template
        self.methods = methods
        self.endpoint = endpoint
        self.isPublic = isPublic
        segments = template.split(separator: "/").map(String.init)
    }

    public static let all: [Route] = [
        Route("/", ["GET"], .webPage),
        Route("/healthz", ["GET"], .health, isPublic: true),
        Route("/readyz", ["GET"], .readiness, isPublic: true),
        Route("/metrics", ["GET"], .metrics),
        Route("/openapi.json", ["GET"], .openAPI),
        Route("/v1/models", ["GET"], .listModels),
        Route("/v1/models/{name}", ["GET"], .describeModel),
        Route("/v1/detect", ["POST"], .detect),
        Route("/v1/models/{name}/detect", ["POST"], .detectWithModel),
        Route("/v2", ["GET"], .v2Server),
        Route("/v2/health/live", ["GET"], .v2Live, isPublic: true),
        Route("/v2/health/ready", ["GET"], .v2Ready, isPublic: true),
        Route("/v2/models/{name}", ["GET"], .v2Model),
        Route("/v2/models/{name}/ready", ["GET"], .v2ModelReady),
        Route("/v2/models/{name}/infer", ["POST"], .v2Infer),
        Route("/v2/models/{name}/versions/{version}", ["GET"], .v2Model),
        Route("/v2/models/{name}/versions/{version}/ready", ["GET"], .v2ModelReady),
        Route("/v2/models/{name}/versions/{version}/infer", ["POST"], .v2Infer),
        Route("/v2/repository/index", ["GET", "POST"], .v2RepositoryIndex),
        Route("/v2/repository/models/{name}/load", ["POST"], .v2RepositoryLoad),
        Route("/v2/repository/models/{name}/unload", ["POST"], .v2RepositoryUnload),
    ]

    /// The label used for paths no route matches.
    public static let unmatched = "unmatched"

    /// The route whose template matches `path` (empty segments ignored, so a trailing slash is
    /// allowed), with its parameters.
    public static func match(_ path: String) -> (route: Route, params: [String: String])? {
        guard path.hasPrefix("/") else { return nil }  // "" (unparsed request) or "*"
        let parts = path.split(separator: "/").map(String.init)
        outer: for r in all where r.segments.count == parts.count {
            var params: [String: String] = [:]
            for (s, p) in zip(r.segments, parts) {
                if s.hasPrefix("{") && s.hasSuffix("}") {
                    params[String(s.dropFirst().dropLast())] = p
                } else if s != p {
                    continue outer
                }
            }
            return (r, params)
        }
        return nil
    }

    /// The `Allow` header value of a 405 and of an OPTIONS answer: the methods, `HEAD` for `GET`,
    /// and `OPTIONS`, which every route answers.
    var allowHeader: String {
        (methods + (methods.contains("GET") ? ["HEAD"] : []) + ["OPTIONS"]).joined(separator: ", ")
    }

    /// True for the open inference protocol's routes, whose errors are `{"error": "message"}`.
    var isOpenInference: Bool {
        switch endpoint {
        case .v2Server, .v2Live, .v2Ready, .v2Model, .v2ModelReady, .v2Infer,
             .v2RepositoryIndex, .v2RepositoryLoad, .v2RepositoryUnload: return true
        default: return false
        }
    }
    /// Routes whose POST runs a model (and so goes through admission control).
    var runsInference: Bool { [.detect, .detectWithModel, .v2Infer].contains(endpoint) }
}
