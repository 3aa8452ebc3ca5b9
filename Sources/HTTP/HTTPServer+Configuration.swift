extension HTTPServer {
    /// Everything the server needs to know before `start()`. Sizes in bytes, times in seconds.
    public struct Configuration: Sendable {
        /// The address to listen on: `"0.0.0.0"` (all IPv4, the default), `"::"` (dual-stack IPv6
        /// and IPv4), `"localhost"` (bound as `127.0.0.1`), `"127.0.0.1"`, `"::1"`, or a name.
        public var host: String
        /// The TCP port; 0 picks an ephemeral one (read it back from `boundPort`).
        public var port: Int
        /// The largest header section (request line, header fields, final CRLF); larger is 431.
        /// Also bounds the trailer section of chunked bodies.
        public var maxHeaderBytes: Int
        /// The longest request line including CRLF; longer is 414. Capped by `maxHeaderBytes`.
        public var maxRequestLineBytes: Int
        /// The most header field lines in one request; more is 431.
        public var maxHeaderCount: Int
        /// The largest request body after de-chunking; larger is 413, as soon as the declared or
        /// accumulated size exceeds it.
        public var maxBodyBytes: Int
        /// The most connections served at once, each with its own thread. One more is answered
        /// `503` with `Retry-After` and closed at once.
        public var maxConnections: Int
        /// Time allowed to receive a complete request (headers and body), counted from its first
        /// byte. When it runs out with part of a request received: 408, then close. Also the
        /// slowloris guard: a trickling client is cut off after this long whatever it sends.
        public var readTimeout: Double
        /// How long a connection may sit without a request in progress (before the first request,
        /// and between keep-alive requests) before it is closed silently.
        public var idleTimeout: Double
        /// Time allowed to write one complete response (or interim 100 response); on expiry the
        /// connection is closed.
        public var writeTimeout: Double
        /// `Retry-After` in the 503 sent when `maxConnections` are busy.
        public var retryAfterSeconds: Int
        /// The listen backlog.
        public var backlog: Int
        /// Called once per response written, on the connection's thread; must be thread-safe.
        public var accessLog: (@Sendable (AccessLogEntry) -> Void)?
        /// Called on the connection's thread once the head of a request with a body has been
        /// parsed, before the body is read (the request it gets has an empty body). A response it
        /// returns is sent at once, the body is never read, and the connection closes: a refusal
        /// that costs no body transfer. nil lets the request proceed. Must be thread-safe and quick.
        public var headHandler: (@Sendable (HTTPRequest) -> HTTPResponse?)?

        public init(
            host: String = "0.0.0.0",
            port: Int = 8080,
            maxHeaderBytes: Int = 16 * 1024,
            maxRequestLineBytes: Int = 8 * 1024,
            maxHeaderCount: Int = 100,
            maxBodyBytes: Int = 20 * 1024 * 1024,
            maxConnections: Int = 256,
            readTimeout: Double = 30,
            idleTimeout: Double = 15,
            writeTimeout: Double = 30,
            retryAfterSeconds: Int = 1,
            backlog: Int = 128,
            accessLog: (@Sendable (AccessLogEntry) -> Void)? = nil,
            headHandler: (@Sendable (HTTPRequest) -> HTTPResponse?)? = nil
        ) {
            self.host = host
            self.port = port
            self.maxHeaderBytes = maxHeaderBytes
            self.maxRequestLineBytes = maxRequestLineBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
            self.maxConnections = maxConnections
            self.readTimeout = readTimeout
            self.idleTimeout = idleTimeout
            self.writeTimeout = writeTimeout
            self.retryAfterSeconds = retryAfterSeconds
            self.backlog = backlog
            self.accessLog = accessLog
            self.headHandler = headHandler
        }

        /// The parser limits derived from this configuration.
        var parserLimits: HTTPRequestParser.Limits {
            var limits = HTTPRequestParser.Limits()
            limits.maxHeaderBytes = max(maxHeaderBytes, 64)
            limits.maxRequestLineBytes = max(maxRequestLineBytes, 16)
            limits.maxHeaderCount = max(maxHeaderCount, 1)
            limits.maxBodyBytes = max(maxBodyBytes, 0)
            return limits
        }
    }
}
