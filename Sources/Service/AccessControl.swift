import Foundation
import HTTP

/// API-key authentication and CORS, both off unless configured (`api_key_file` / `RCNN_API_KEY`,
/// `cors_allowed_origins` / `RCNN_CORS_ALLOWED_ORIGINS`).
///
/// With a key, every route except the probes (`/healthz`, `/readyz`, `/v2/health/*`) and CORS
/// preflights needs `Authorization: Bearer <key>`; the comparison takes the same time wherever the
/// first differing byte is. Without it: 401 with `WWW-Authenticate: Bearer realm="rcnn"`.
/// CORS: a request whose `Origin` is listed (or any origin with `*`) gets
/// `Access-Control-Allow-Origin` echoing it; `OPTIONS` on any route answers 204 with `Allow`, plus
/// the preflight headers for allowed origins.
///
/// Thread-safety: immutable.
struct AccessControl: Sendable {
    let apiKey: [UInt8]?
    let allowedOrigins: [String]

    init(apiKey: String?, allowedOrigins: [String]) {
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.allowedOrigins = allowedOrigins
    }

    /// Request headers a browser may send cross-origin.
    static let allowedRequestHeaders = "Authorization, Content-Type, Accept, X-Request-Id, Inference-Header-Content-Length"
    /// Response headers a cross-origin script may read.
    static let exposedHeaders = "X-Request-Id, Retry-After, Inference-Header-Content-Length"

    /// The 401 response when the request lacks the key, else nil.
    func deny(_ request: HTTPRequest, route: Route?) -> HTTPResponse? {
        guard let key = apiKey, route?.isPublic != true else { return nil }
        let header = request.headers["Authorization"] ?? ""
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        let presented: [UInt8]? = parts.count == 2 && parts[0].lowercased() == "bearer"
            ? Array(parts[1].trimmingCharacters(in: .whitespaces).utf8) : nil
        if let presented, Self.constantTimeEqual(presented, key) { return nil }
        let message = presented == nil ? "this server needs an API key: send Authorization: Bearer <key>" : "the API key is not valid"
        let challenge = presented == nil ? "Bearer realm=\"rcnn\"" : "Bearer realm=\"rcnn\", error=\"invalid_token\""
        let error = APIError(401, "unauthorized", message, headers: [("WWW-Authenticate", challenge)])
        return route?.isOpenInference == true ? error.openInferenceResponse : error.response
    }

    /// Equal bytes, in time that depends only on `expected.count`.
    static func constantTimeEqual(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var diff: UInt8 = presented.count == expected.count ? 0 : 1
        for i in 0..<expected.count {
            diff |= expected[i] ^ (i < presented.count ? presented[i] : 0)
        }
        return diff == 0
    }

    func originAllowed(_ origin: String) -> Bool {
        allowedOrigins.contains("*") || allowedOrigins.contains(origin)
    }

    /// The answer to `OPTIONS` on a known route: 204 with `Allow`, and the CORS preflight headers
    /// when the `Origin` is allowed (the CORS origin header itself is added by `addCORSHeaders`).
    func preflight(_ request: HTTPRequest, route: Route) -> HTTPResponse {
        var r = HTTPResponse(status: 204)
        r.headers.replaceOrAdd(name: "Allow", value: route.allowHeader)
        if let origin = request.headers["Origin"], originAllowed(origin), request.headers["Access-Control-Request-Method"] != nil {
            r.headers.replaceOrAdd(name: "Access-Control-Allow-Methods", value: route.allowHeader)
            r.headers.replaceOrAdd(name: "Access-Control-Allow-Headers", value: Self.allowedRequestHeaders)
            r.headers.replaceOrAdd(name: "Access-Control-Max-Age", value: "600")
        }
        return r
    }

    /// Adds `Access-Control-Allow-Origin` (and `Vary: Origin`) for an allowed `Origin`.
    func addCORSHeaders(_ request: HTTPRequest, to response: inout HTTPResponse) {
        guard !allowedOrigins.isEmpty else { return }
        response.headers.replaceOrAdd(name: "Vary", value: "Origin")
        guard let origin = request.headers["Origin"], originAllowed(origin) else { return }
        response.headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: origin)
        response.headers.replaceOrAdd(name: "Access-Control-Expose-Headers", value: Self.exposedHeaders)
    }
}
