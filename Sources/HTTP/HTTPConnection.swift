/// One client connection, served start to finish on its own thread: read, parse, call the
/// handler, write, repeat while the connection is persistent.
///
/// Timeouts (all monotonic): while no request is in progress the connection may idle for
/// `idleTimeout`, then it is closed silently. From the first byte of a request, the whole request
/// must arrive within `readTimeout`, or the client gets 408 and the connection closes — a client
/// trickling one byte a second is cut off then, however it spreads its bytes. Each response (and
/// each `100 Continue`) must be written within `writeTimeout`.
///
/// Pipelined requests are answered strictly in order because one thread reads, handles and writes
/// them one at a time; bytes already received for the next request wait in the parser.
final class HTTPConnection {
    private let fd: Int32
    private let id: Int
    private let remoteAddress: String
    private let server: HTTPServer
    private var configuration: HTTPServer.Configuration { server.configuration }
    private var parser: HTTPRequestParser
    /// When the first byte of the request in progress arrived (monotonic ns), nil when idle.
    private var requestStarted: UInt64?
    /// When the connection last became idle.
    private var idleSince: UInt64
    /// When the most recent read returned data.
    private var lastRead: UInt64 = 0
    private var stopNoticed = false

    init(fd: Int32, id: Int, remoteAddress: String, server: HTTPServer) {
        self.fd = fd
        self.id = id
        self.remoteAddress = remoteAddress
        self.server = server
        self.parser = HTTPRequestParser(limits: server.configuration.parserLimits, remoteAddress: remoteAddress)
        self.idleSince = SocketIO.now()
    }

    /// Serves the connection until it closes; the descriptor is released on return.
    func run() {
        let lingering = serve()
        server.releaseDescriptor(ofConnection: id) { fd in
            if lingering {
                server.closer.close(fd)
            } else {
                SocketIO.close(fd)
            }
        }
    }

    /// The request loop. Returns true when the server ends the connection after writing a response
    /// (the socket should linger so that response is not lost to a reset), false when the client
    /// went away or the connection idled out.
    private func serve() -> Bool {
        var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let event: HTTPRequestParser.Event
            do {
                event = try parser.next()
            } catch {
                respond(to: error)
                return true
            }
            switch event {
            case let .head(head):
                // The server may refuse from the head alone (an overloaded service), before reading
                // a body it would only throw away; the unread body means the connection must close.
                if let refusal = configuration.headHandler?(head) {
                    respond(early: refusal, to: head)
                    return true
                }
            case .sendContinue:
                let deadline = SocketIO.now() + SocketIO.nanoseconds(configuration.writeTimeout)
                let continueHead = HTTPResponse.continueHead
                guard SocketIO.sendAll(fd, continueHead, deadline: deadline) == continueHead.count else { return false }
            case let .request(request):
                guard handle(request) else { return true }
                idleSince = SocketIO.now()
                requestStarted = nil
            case .needMoreData:
                if !parser.hasPartialRequest {
                    requestStarted = nil
                    if stopNoticed || server.isStopping { return false }
                } else if requestStarted == nil {
                    requestStarted = currentRequestStart
                }
                switch waitAndRead(into: &readBuffer) {
                case .data, .stop:
                    continue
                case .closed:
                    // A client that vanished mid-request (a declared body never sent, say) still
                    // leaves an access-log line, so aborted uploads are counted.
                    if parser.hasPartialRequest { logAborted() }
                    return false
                case .timedOut:
                    guard parser.hasPartialRequest else { return false }
                    respond(to: .requestTimeout)
                    return true
                }
            }
        }
    }

    private enum ReadOutcome {
        case data, stop, closed, timedOut
    }

    /// Waits for bytes under the deadline that applies now and feeds them to the parser.
    private func waitAndRead(into readBuffer: inout [UInt8]) -> ReadOutcome {
        let deadline: UInt64
        if let requestStarted {
            deadline = requestStarted + SocketIO.nanoseconds(configuration.readTimeout)
        } else {
            deadline = idleSince + SocketIO.nanoseconds(configuration.idleTimeout)
        }
        // Once stop has been seen, stop polling the (permanently readable) stop pipe.
        let stopFD = stopNoticed ? nil : server.stopDescriptor
        switch SocketIO.wait(fd, stopFD: stopFD, deadline: deadline) {
        case .timedOut:
            return .timedOut
        case .stopRequested:
            stopNoticed = true
            return .stop
        case .failed:
            return .closed
        case .ready:
            let received = readBuffer.withUnsafeMutableBytes { SocketIO.receive(fd, into: $0) }
            guard let count = received else { return .data }
            guard count > 0 else { return .closed }
            lastRead = SocketIO.now()
            parser.append(readBuffer[0..<count])
            return .data
        }
    }

    /// When the request in progress started, for its read timeout and its logged duration: its
    /// first bytes' arrival, or, for a pipelined request whose bytes arrived while the previous one
    /// was being handled, the moment the connection was free to read it (its clock does not run
    /// while the server works on the request before it).
    private var currentRequestStart: UInt64 { max(lastRead, idleSince) }

    /// Calls the handler and writes its response. Returns whether the connection stays open.
    private func handle(_ request: HTTPRequest) -> Bool {
        let started = requestStarted ?? currentRequestStart
        let bytesIn = parser.lastRequestByteCount
        let response = server.handler(request)
        let keepAlive = request.wantsKeepAlive
            && !response.headers.containsToken("close", in: "Connection")
            && !server.isStopping
        let head = response.serializedHead(
            requestID: request.requestID, keepAlive: keepAlive, requestVersion: request.version
        )
        let body = response.sendsBody(forMethod: request.method) ? response.body : []
        let written = write(head, body)
        log(method: request.method, path: request.path, status: response.status, bytesIn: bytesIn,
            bytesOut: written, started: started, requestID: request.requestID)
        return keepAlive && written == head.count + body.count
    }

    /// Answers a request refused from its head (the body is not read; the connection is closed
    /// afterwards).
    private func respond(early response: HTTPResponse, to head: HTTPRequest) {
        let started = requestStarted ?? currentRequestStart
        let serialized = response.serializedHead(requestID: head.requestID, keepAlive: false, requestVersion: head.version)
        let body = response.sendsBody(forMethod: head.method) ? response.body : []
        let written = write(serialized, body)
        log(method: head.method, path: head.path, status: response.status, bytesIn: parser.bytesOfCurrentRequest,
            bytesOut: written, started: started, requestID: head.requestID)
    }

    /// Logs a request the client abandoned before it was complete, with status 499 (as nginx
    /// logs a client that closed the connection) and no response bytes.
    private func logAborted() {
        let started = requestStarted ?? currentRequestStart
        let target = parser.currentTarget
        let path = target.isEmpty ? "" : ((try? RequestTarget(parsing: target, method: parser.currentMethod))?.path ?? target)
        log(method: parser.currentMethod, path: path, status: AccessLogEntry.clientClosedRequest,
            bytesIn: parser.bytesOfCurrentRequest, bytesOut: 0, started: started, requestID: RequestID.generate())
    }

    /// Answers a refused request (the connection is closed afterwards).
    private func respond(to error: HTTPParseError) {
        let started = requestStarted ?? currentRequestStart
        let requestID = RequestID.generate()
        let response = HTTPResponse.error(error)
        let head = response.serializedHead(requestID: requestID, keepAlive: false)
        let body = parser.currentMethod == "HEAD" ? [] : response.body
        let written = write(head, body)
        let bytesIn = parser.bytesOfCurrentRequest
        log(method: parser.currentMethod, path: parser.currentTarget, status: error.status,
            bytesIn: bytesIn, bytesOut: written, started: started, requestID: requestID)
    }

    /// Writes a head and body within the write timeout; returns the bytes written.
    private func write(_ head: [UInt8], _ body: [UInt8]) -> Int {
        let deadline = SocketIO.now() + SocketIO.nanoseconds(configuration.writeTimeout)
        // Small responses go out in one send (one segment); large bodies are not copied.
        if body.count <= 64 * 1024 {
            return SocketIO.sendAll(fd, head + body, deadline: deadline)
        }
        let headWritten = SocketIO.sendAll(fd, head, deadline: deadline)
        guard headWritten == head.count else { return headWritten }
        return headWritten + SocketIO.sendAll(fd, body, deadline: deadline)
    }

    private func log(
        method: String, path: String, status: Int, bytesIn: Int, bytesOut: Int, started: UInt64, requestID: String
    ) {
        guard let accessLog = configuration.accessLog else { return }
        let now = SocketIO.now()
        let duration = started > 0 && now > started ? Double(now - started) / 1e6 : 0
        accessLog(AccessLogEntry(
            method: method, path: path, status: status, bytesIn: bytesIn, bytesOut: bytesOut,
            durationMilliseconds: duration, requestID: requestID, remoteAddress: remoteAddress
        ))
    }
}
