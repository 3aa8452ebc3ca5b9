import Foundation

/// A response produced by a handler: status, reason phrase, header fields and the whole body.
///
/// The server adds the framing and bookkeeping fields when it writes the response, so handlers
/// should not set them: `Content-Length` (always recomputed from `body`; omitted for 1xx and 204),
/// `Date`, `Server: rcnn` (unless the handler set `Server`), `X-Request-Id` (the request's id) and
/// `Connection`. Any `Transfer-Encoding` a handler sets is removed: bodies are always sent with a
/// `Content-Length`. A handler may set `Connection: close` to close the connection after this
/// response. A value type; `Sendable`.
public struct HTTPResponse: Sendable {
    /// The status code, 100–999.
    public var status: Int
    /// The reason phrase; defaults to the standard one for `status`.
    public var reason: String
    /// Header fields, in order.
    public var headers: HTTPHeaders
    /// The content bytes. For a HEAD request the server sends only the header section, with the
    /// `Content-Length` the body would have had.
    public var body: [UInt8]

    public init(status: Int = 200, reason: String? = nil, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.reason = reason ?? HTTPResponse.standardReason(for: status)
        self.headers = headers
        self.body = body
    }

    /// A JSON response from raw JSON bytes, with `Content-Type: application/json`.
    public static func json(_ data: Data, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: [UInt8](data))
    }

    /// A JSON response encoding `value` with `encoder` (default: sorted keys, `/` unescaped). If
    /// encoding fails, a 500 error response describing the failure instead.
    public static func json<T: Encodable>(_ value: T, status: Int = 200, encoder: JSONEncoder? = nil) -> HTTPResponse {
        do {
            return json(try (encoder ?? defaultEncoder()).encode(value), status: status)
        } catch {
            return .error(status: 500, code: "internal_error", message: "could not encode the response: \(error)")
        }
    }

    /// A plain-text response, `Content-Type: text/plain; charset=utf-8`.
    public static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    /// The project's error shape, `{"error": {"code": "...", "message": "..."}}`, with
    /// `Content-Type: application/json`.
    public static func error(status: Int, code: String, message: String) -> HTTPResponse {
        let payload = ErrorPayload(error: .init(code: code, message: message))
        // Encoding two strings cannot fail; fall back to a fixed body rather than trap.
        let data = (try? defaultEncoder().encode(payload))
            ?? Data(#"{"error":{"code":"internal_error","message":"error encoding failed"}}"#.utf8)
        return json(data, status: status)
    }

    /// The error response for a request the parser refused.
    public static func error(_ parseError: HTTPParseError) -> HTTPResponse {
        error(status: parseError.status, code: parseError.code, message: parseError.message)
    }

    private struct ErrorPayload: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    private static func defaultEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The RFC 9110 §15 reason phrase for `status`, or `""` for an unregistered code.
    public static func standardReason(for status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 206: return "Partial Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 406: return "Not Acceptable"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return ""
        }
    }
}
