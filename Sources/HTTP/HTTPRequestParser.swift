/// An incremental HTTP/1.1 request parser (RFC 9112), independent of sockets.
///
/// Feed bytes as they arrive with `append(_:)` and call `next()` until it returns `.needMoreData`;
/// bytes may be split anywhere. Requests are returned in order, so pipelined requests in one read
/// come out one per `next()` call. Every limit is enforced while reading: the parser never buffers
/// more than the current line (bounded by the header limits) plus one read, and never accumulates a
/// body larger than `maxBodyBytes`.
///
/// Wire rules, chosen to be strict where leniency enables request smuggling:
/// - Lines end with CRLF; a bare LF is *tolerated* as a line terminator everywhere one is expected
///   (request line, field lines, chunk-size lines, after chunk data, trailers), as RFC 9112 §2.2
///   allows. A bare CR anywhere is a 400.
/// - Up to 16 empty lines before a request line are ignored (§2.2); more is a 400.
/// - Request line: exactly `method SP target SP HTTP/d.d`; single spaces only (§3). Major version
///   other than 1 is a 505; a malformed version a 400.
/// - Field lines: obs-fold (a line starting with SP/HTAB) and whitespace between name and colon are
///   400 (§5.1, §5.2); controls other than HTAB in a value are 400. HTTP/1.1 requires exactly one
///   `Host` (§3.2).
/// - Framing (§6): Content-Length together with Transfer-Encoding is 400; more than one
///   Content-Length field line (even identical) or a list value is 400; a Content-Length that is not
///   1*DIGIT or overflows is 400; a Transfer-Encoding other than exactly `chunked` is 501;
///   Transfer-Encoding in an HTTP/1.0 request is 400; POST/PUT/PATCH with neither is 411.
/// - Sizes: request line > `maxRequestLineBytes` is 414; header section > `maxHeaderBytes` or more
///   than `maxHeaderCount` fields is 431; declared or accumulated body > `maxBodyBytes` is 413.
/// - Chunked bodies: extensions are validated for characters and ignored; trailer fields are parsed
///   like header fields (same rules, same byte limit) and discarded.
///
/// After a thrown error the parser is failed: the connection must answer the error and close.
/// Not thread-safe; one parser per connection.
struct HTTPRequestParser {
    /// Size limits, in bytes unless noted.
    struct Limits: Sendable {
        /// The request line including its CRLF; longer is 414.
        var maxRequestLineBytes = 8 * 1024
        /// The whole header section (request line, field lines, final CRLF); larger is 431.
        var maxHeaderBytes = 16 * 1024
        /// The number of header field lines; more is 431.
        var maxHeaderCount = 100
        /// The decoded body; larger (declared or accumulated) is 413.
        var maxBodyBytes = 20 * 1024 * 1024
        /// One chunk-size line including extensions; longer is 400.
        var maxChunkLineBytes = 4 * 1024
        /// Empty lines ignored before a request line; more is 400.
        var maxLeadingEmptyLines = 16
    }

    /// What `next()` found.
    enum Event {
        /// The buffered bytes do not complete anything; append more.
        case needMoreData
        /// The head of a request whose body is still to be read: the request as far as it is known
        /// (empty body), so the server can refuse it before reading the body. Returned once per such
        /// request, before `sendContinue` and the body.
        case head(HTTPRequest)
        /// The head of a request with `Expect: 100-continue` was parsed, its (non-empty) body is
        /// still to come and none of it had arrived: send `100 Continue` now, then keep feeding.
        case sendContinue
        /// A complete request.
        case request(HTTPRequest)
    }

    enum State: Equatable {
        case requestLine
        case headerFields
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailerFields
        case failed
    }

    enum BodyFraming: Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// The pieces of the request being parsed.
    struct PartialRequest {
        var method = ""
        var target = ""
        var version = HTTPVersion.http1_1
        var headers = HTTPHeaders()
        var parsedTarget = RequestTarget(path: "", query: [])
        var framing = BodyFraming.none
        var body: [UInt8] = []
        var headBytes = 0
        var trailerBytes = 0
        var emptyLinesSkipped = 0
        var consumedBytes = 0
    }

    let limits: Limits
    /// Copied into every request.
    var remoteAddress: String

    var buffer: [UInt8] = []
    /// The first byte not yet consumed.
    var position = 0
    /// Where the search for the next LF resumes, so that a line arriving one byte at a time is
    /// scanned once, not quadratically.
    var scanPosition = 0
    private(set) var state = State.requestLine
    var current = PartialRequest()
    /// Bytes on the wire (head, framing, body) of the request most recently returned.
    private(set) var lastRequestByteCount = 0
    /// Set when a `head` event was returned for a request that also wants `100 Continue`.
    var continuePending = false

    init(limits: Limits = Limits(), remoteAddress: String = "") {
        self.limits = limits
        self.remoteAddress = remoteAddress
    }

    /// True when some bytes of a not yet complete request have been received (they count against
    /// the read timeout; an idle keep-alive connection has none).
    var hasPartialRequest: Bool {
        state != .requestLine || position < buffer.count || current.consumedBytes > 0
    }

    /// The bytes received but not yet consumed.
    var bufferedByteCount: Int { buffer.count - position }

    /// The bytes received so far for the request in progress (for logging a refused request).
    var bytesOfCurrentRequest: Int { current.consumedBytes + bufferedByteCount }

    /// The method and raw target of the request being parsed, once its request line is complete
    /// (for logging a refused request).
    var currentMethod: String { current.method }
    var currentTarget: String { current.target }

    /// Adds received bytes.
    mutating func append<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
            scanPosition = 0
        } else if position >= 64 * 1024 && position * 2 >= buffer.count {
            buffer.removeSubrange(0..<position)
            scanPosition -= position
            position = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Parses as far as the buffered bytes allow. Throws the error to answer; the parser is then
    /// failed and every later call throws too.
    mutating func next() throws(HTTPParseError) -> Event {
        do {
            return try step()
        } catch {
            state = .failed
            throw error
        }
    }

    private mutating func step() throws(HTTPParseError) -> Event {
        if continuePending {
            continuePending = false
            return .sendContinue
        }
        while true {
            switch state {
            case .failed:
                throw .badRequest("the connection is unusable after an earlier error")
            case .requestLine:
                let limit = min(limits.maxRequestLineBytes, limits.maxHeaderBytes)
                guard let line = try nextLine(limit: limit, overflow: .uriTooLong(limit: limit)) else {
                    return .needMoreData
                }
                if line.isEmpty {
                    current.emptyLinesSkipped += 1
                    current.consumedBytes = 0
                    if current.emptyLinesSkipped > limits.maxLeadingEmptyLines {
                        throw .badRequest("too many empty lines before the request line")
                    }
                    continue
                }
                current.headBytes = current.consumedBytes
                try parseRequestLine(line)
                state = .headerFields
            case .headerFields:
                let overflow = HTTPParseError.headerFieldsTooLarge(limit: limits.maxHeaderBytes)
                let before = current.consumedBytes
                guard let line = try nextLine(limit: limits.maxHeaderBytes - current.headBytes, overflow: overflow) else {
                    return .needMoreData
                }
                current.headBytes += current.consumedBytes - before
                if line.isEmpty {
                    if let event = try finishHead() { return event }
                    continue
                }
                let field = try parseFieldLine(line)
                if current.headers.count >= limits.maxHeaderCount {
                    throw .tooManyHeaderFields(limit: limits.maxHeaderCount)
                }
                current.headers.add(name: field.name, value: field.value)
            case .fixedBody, .chunkSize, .chunkData, .chunkDataEnd, .trailerFields:
                guard let event = try stepBody() else { continue }
                return event
            }
        }
    }

    /// Consumes `count` buffered bytes.
    mutating func consume(_ count: Int) {
        position += count
        current.consumedBytes += count
        if scanPosition < position { scanPosition = position }
    }

    /// The next complete line without its terminator (CRLF or bare LF), consuming it; nil when no
    /// line terminator is buffered yet. A line (terminator included) longer than `limit` throws
    /// `overflow` as soon as that many bytes are buffered; a CR not followed by LF throws 400.
    mutating func nextLine(limit: Int, overflow: HTTPParseError) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        guard let lineFeed = buffer[scanPosition...].firstIndex(of: 0x0A) else {
            scanPosition = buffer.count
            if buffer.count - position >= limit { throw overflow }
            return nil
        }
        let length = lineFeed - position + 1
        if length > limit { throw overflow }
        var end = lineFeed
        if end > position && buffer[end - 1] == 0x0D { end -= 1 }
        let line = buffer[position..<end]
        if line.contains(0x0D) { throw .badRequest("bare CR in the request") }
        consume(length)
        return line
    }

    /// Completes the current request and resets for the next one.
    mutating func finishRequest() -> HTTPRequest {
        let request = HTTPRequest(
            method: current.method, target: current.target, parsedTarget: current.parsedTarget,
            version: current.version, headers: current.headers, body: current.body,
            remoteAddress: remoteAddress, requestID: nil
        )
        lastRequestByteCount = current.consumedBytes
        current = PartialRequest()
        state = .requestLine
        return request
    }

    /// Moves to `state` (used by the body extension).
    mutating func transition(to newState: State) {
        state = newState
    }
}
