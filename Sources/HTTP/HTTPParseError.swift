/// A request the server refuses while reading it, with the status it answers.
///
/// After any of these the server sends the error response (JSON, see `HTTPResponse.error`) with
/// `Connection: close` and closes the connection: once framing is in doubt, nothing after it on
/// the connection can be trusted (RFC 9112 §11.2, request smuggling).
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The response status: 400, 408, 411, 413, 414, 417, 431, 501 or 505.
    public var status: Int
    /// A stable machine-readable code for the JSON error body, e.g. `header_fields_too_large`.
    public var code: String
    /// A human-readable explanation.
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status) \(code): \(message)" }

    /// 400: the request violates the message syntax or framing rules.
    static func badRequest(_ message: String) -> HTTPParseError {
        HTTPParseError(status: 400, code: "bad_request", message: message)
    }

    /// 408: the request did not arrive completely within the read timeout.
    static let requestTimeout = HTTPParseError(
        status: 408, code: "request_timeout",
        message: "the request was not received completely within the read timeout"
    )

    /// 411: a POST, PUT or PATCH without Content-Length or chunked Transfer-Encoding.
    static let lengthRequired = HTTPParseError(
        status: 411, code: "length_required",
        message: "a request body needs Content-Length or Transfer-Encoding: chunked"
    )

    /// 413: the declared or accumulated body size exceeds the configured maximum.
    static func contentTooLarge(limit: Int) -> HTTPParseError {
        HTTPParseError(
            status: 413, code: "content_too_large",
            message: "the request body exceeds the limit of \(limit) bytes"
        )
    }

    /// 414: the request line is longer than the configured maximum.
    static func uriTooLong(limit: Int) -> HTTPParseError {
        HTTPParseError(
            status: 414, code: "uri_too_long",
            message: "the request line exceeds the limit of \(limit) bytes"
        )
    }

    /// 417: an `Expect` value other than `100-continue`.
    static let expectationFailed = HTTPParseError(
        status: 417, code: "expectation_failed",
        message: "only the expectation 100-continue is supported"
    )

    /// 431: the header section (or a trailer section) is larger than the configured maximum.
    static func headerFieldsTooLarge(limit: Int) -> HTTPParseError {
        HTTPParseError(
            status: 431, code: "header_fields_too_large",
            message: "the header section exceeds the limit of \(limit) bytes"
        )
    }

    /// 431: more header field lines than the configured maximum.
    static func tooManyHeaderFields(limit: Int) -> HTTPParseError {
        HTTPParseError(
            status: 431, code: "header_fields_too_large",
            message: "the request has more than \(limit) header field lines"
        )
    }

    /// 501: a transfer coding other than exactly `chunked`.
    static func notImplemented(_ message: String) -> HTTPParseError {
        HTTPParseError(status: 501, code: "not_implemented", message: message)
    }

    /// 505: a major protocol version other than 1.
    static func versionNotSupported(_ version: String) -> HTTPParseError {
        HTTPParseError(
            status: 505, code: "http_version_not_supported",
            message: "\(version) is not supported; use HTTP/1.1"
        )
    }
}
