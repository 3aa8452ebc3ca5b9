/// One parsed HTTP request, with its body read completely.
///
/// Produced by the server's parser (limits already enforced) and handed to the handler; also
/// constructible directly so that handlers can be tested without a socket. A value type;
/// `Sendable`.
public struct HTTPRequest: Sendable {
    /// The method token exactly as received (methods are case-sensitive, RFC 9110 §9.1), e.g. `GET`.
    public var method: String
    /// The request-target exactly as received on the request line, e.g. `/v1/detect?model=a%20b`.
    public var target: String
    /// The percent-decoded path without the query, e.g. `/v1/detect`. For an absolute-form target
    /// (`http://host/p`) this is the path part; for `OPTIONS *` it is `*`.
    public var path: String
    /// The decoded query parameters in order (`+` and `%XX` decoded); a key without `=` has value `""`.
    public var query: [(String, String)]
    /// The protocol version of the request (1.0 or 1.1).
    public var version: HTTPVersion
    /// The header fields in order; trailer fields of a chunked body are not included.
    public var headers: HTTPHeaders
    /// The decoded content (chunked framing removed); empty when the request had none.
    public var body: [UInt8]
    /// The peer address, `127.0.0.1:50312` or `[::1]:50312`; empty when not from a socket.
    public var remoteAddress: String
    /// The request id: the client's `X-Request-Id` when sane (1–128 visible ASCII characters),
    /// otherwise a generated 32-hex-digit id. The server echoes it in the response.
    public var requestID: String

    /// Creates a request, deriving `path` and `query` from `target`.
    ///
    /// A target that cannot be decoded (bad percent escape, invalid UTF-8) keeps its raw path; the
    /// server's parser rejects such targets with 400 before they reach a handler.
    public init(
        method: String = "GET",
        target: String,
        version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = HTTPHeaders(),
        body: [UInt8] = [],
        remoteAddress: String = "",
        requestID: String? = nil
    ) {
        let parts: RequestTarget
        do {
            parts = try RequestTarget(parsing: target, method: method)
        } catch {
            let raw = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            parts = RequestTarget(path: raw.first.map(String.init) ?? target, query: [])
        }
        self.init(
            method: method, target: target, parsedTarget: parts, version: version,
            headers: headers, body: body, remoteAddress: remoteAddress, requestID: requestID
        )
    }

    /// The parser's initializer: the target is already split and decoded.
    init(
        method: String,
        target: String,
        parsedTarget: RequestTarget,
        version: HTTPVersion,
        headers: HTTPHeaders,
        body: [UInt8],
        remoteAddress: String,
        requestID: String?
    ) {
        self.method = method
        self.target = target
        self.path = parsedTarget.path
        self.query = parsedTarget.query
        self.version = version
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.requestID = requestID
            ?? RequestID.sanitized(headers["X-Request-Id"])
            ?? RequestID.generate()
    }

    /// The first value of the query parameter `name` (exact, case-sensitive match), or nil.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.0 == name }?.1
    }

    /// Every value of the query parameter `name`, in order.
    public func queryValues(_ name: String) -> [String] {
        query.compactMap { $0.0 == name ? $0.1 : nil }
    }

    /// True when the connection should stay open after this request's response, judging by the
    /// request alone (RFC 9112 §9.3): HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`.
    public var wantsKeepAlive: Bool {
        if headers.containsToken("close", in: "Connection") { return false }
        if version >= .http1_1 { return true }
        return headers.containsToken("keep-alive", in: "Connection")
    }
}

extension HTTPRequest: CustomStringConvertible {
    public var description: String {
        "\(method) \(target) \(version) (\(body.count) body bytes, id \(requestID))"
    }
}
