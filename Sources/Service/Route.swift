/// One route the service serves: a path template (`/v1/models/{name}/detect`) and its methods.
///
/// The table `Route.all` is the single list the router, the metrics (`route` label), access
/// control and the OpenAPI test read. A `{param}` segment matches any one non-empty path segment.
public struct Route: Sendable, Equatable {
    public let template: String
    /// Methods served; `HEAD` is implied by `GET`, and `OPTIONS` is answered for every route.
    public let methods: [String]
    /// Served without an API key (probes).
    public let isPublic: Bool
    let segments: [String]

    init(_ template: String, _ methods: [String], isPublic: Bool = false) {
        self.template = template
        self.methods = methods
        self.isPublic = isPublic
        segments = template.split(separator: "/").map(String.init)
    }

    public static let all: [Route] = [
        Route("/", ["GET"]),
        Route("/healthz", ["GET"], isPublic: true),
        Route("/readyz", ["GET"], isPublic: true),
        Route("/metrics", ["GET"]),
        Route("/openapi.json", ["GET"]),
        Route("/v1/models", ["GET"]),
        Route("/v1/models/{name}", ["GET"]),
        Route("/v1/detect", ["POST"]),
        Route("/v1/models/{name}/detect", ["POST"]),
        Route("/v2", ["GET"]),
        Route("/v2/health/live", ["GET"], isPublic: true),
        Route("/v2/health/ready", ["GET"], isPublic: true),
        Route("/v2/models/{name}", ["GET"]),
        Route("/v2/models/{name}/ready", ["GET"]),
        Route("/v2/models/{name}/infer", ["POST"]),
        Route("/v2/models/{name}/versions/{version}", ["GET"]),
        Route("/v2/models/{name}/versions/{version}/ready", ["GET"]),
        Route("/v2/models/{name}/versions/{version}/infer", ["POST"]),
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

    /// The `Allow` header value of a 405: the methods plus `HEAD` for `GET`.
    var allowHeader: String {
        (methods + (methods.contains("GET") ? ["HEAD"] : [])).joined(separator: ", ")
    }

    /// True for the open inference protocol's routes, whose errors are `{"error": "message"}`.
    var isOpenInference: Bool { template.hasPrefix("/v2") }
    /// Routes whose POST runs a model (and so goes through admission control).
    var runsInference: Bool { template.hasSuffix("/detect") || template.hasSuffix("/infer") }
}
