import HTTP

/// An error that becomes a JSON error response: `{"error": {"code", "message"}}` with `status`.
public struct APIError: Error, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var headers: [(String, String)] = []

    public init(_ status: Int, _ code: String, _ message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status) \(code): \(message)" }

    public var response: HTTPResponse {
        var r = HTTPResponse.error(status: status, code: code, message: message)
        for (k, v) in headers { r.headers.replaceOrAdd(name: k, value: v) }
        return r
    }

    /// The open inference protocol's error shape, `{"error": "message"}`. The protocol reports
    /// failed requests as 400, so 422 (invalid option values) becomes 400; other statuses stay.
    public var openInferenceResponse: HTTPResponse {
        var r = HTTPResponse.json(["error": message], status: status == 422 ? 400 : status)
        for (k, v) in headers { r.headers.replaceOrAdd(name: k, value: v) }
        return r
    }

    static func badRequest(_ message: String, code: String = "bad_request") -> APIError { APIError(400, code, message) }
    static func unprocessable(_ message: String, code: String = "invalid_parameter") -> APIError { APIError(422, code, message) }
    static func notFound(_ message: String) -> APIError { APIError(404, "not_found", message) }
}
