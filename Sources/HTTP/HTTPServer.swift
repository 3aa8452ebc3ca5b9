#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An HTTP/1.1 server on POSIX sockets. It knows nothing about what it serves: each complete
/// request goes to `handler`, whose response is written back.
///
/// Threads: one accept thread, and one thread per open connection, at most `maxConnections`.
/// Why not a small fixed pool: handlers are allowed to block (the service layer waits on its
/// bounded inference queue), and a pool of N threads serving M > N keep-alive connections would let
/// N slow handlers or N idle clients starve everybody else. A thread per connection, capped, means
/// one slow client or handler only ever holds its own thread; the cap (answered with 503 past it)
/// bounds memory, and idle, read and write timeouts bound how long any client can hold a thread.
/// Thread stacks are virtual memory, committed only as touched, so 256 of them are cheap.
///
/// Lifecycle: `start()` binds and returns; `stop(gracePeriod:)` stops accepting, closes idle
/// connections, lets in-flight requests finish and their responses be written (with
/// `Connection: close`), then returns; `wait()` blocks until stopped. `runUntilSignal()` wraps
/// this for `main`. All methods are thread-safe.
public final class HTTPServer: @unchecked Sendable {
    /// The request handler: called on a connection thread, once per request, in request order per
    /// connection. May block. A HEAD request arrives with method `HEAD`; answer it as GET and the
    /// server drops the body (keeping its `Content-Length`).
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    private enum State {
        case idle, running, stopping, stopped
    }

    public let configuration: Configuration
    let handler: Handler
    private let condition = NSCondition()
    private var state = State.idle
    private var listener: ListeningSocket?
    private var stopSignal: StopSignal?
    private var connections: [Int: Int32] = [:]
    private var nextConnectionID = 0
    private var acceptThreadRunning = false
    let closer = LingeringCloser()

    /// Creates a server; nothing is bound until `start()`.
    public init(configuration: Configuration, handler: @escaping Handler) {
        self.configuration = configuration
        self.handler = handler
    }

    /// The port the server listens on (the ephemeral one when `port` was 0); 0 before `start()`.
    public var boundPort: Int {
        condition.lock()
        defer { condition.unlock() }
        return listener?.port ?? 0
    }

    /// The address listened on, e.g. `0.0.0.0:8080` or `[::]:8080`; empty before `start()`.
    public var boundAddress: String {
        condition.lock()
        defer { condition.unlock() }
        return listener?.address ?? ""
    }

    /// The number of connections currently open (each on its own thread).
    public var openConnectionCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return connections.count
    }

    /// Binds, listens and starts accepting; returns once the socket is listening. Throws
    /// `HTTPServerError` (e.g. `cannot listen on 0.0.0.0:8080: address already in use`). A server
    /// starts at most once.
    public func start() throws {
        condition.lock()
        defer { condition.unlock() }
        guard state == .idle else {
            throw HTTPServerError(address: listener?.address ?? configuration.host, reason: "the server was already started")
        }
        // A peer that vanishes must cost an EPIPE, never the process (sends also use MSG_NOSIGNAL).
        signal(SIGPIPE, SIG_IGN)
        let socket = try ListeningSocket.bind(
            host: configuration.host, port: configuration.port, backlog: Int32(clamping: configuration.backlog)
        )
        let signal = StopSignal()
        listener = socket
        stopSignal = signal
        state = .running
        acceptThreadRunning = true
        let thread = Thread { [self] in acceptLoop(socket, stop: signal) }
        thread.name = "http-accept"
        thread.start()
    }

    /// Stops the server: no new connections (the listening socket is closed at once, so new
    /// connects are refused), idle keep-alive connections are closed, requests already being read
    /// or handled finish and their responses are written with `Connection: close`. Returns when all
    /// connections are done, or after `gracePeriod` seconds, when the remaining connections are
    /// shut down (a handler still running then finishes on its own, but its response is lost).
    /// Calling it again, or before `start()`, just waits for the first stop to complete.
    ///
    /// Do not call it from a handler (it would wait for that handler's own request for the whole
    /// grace period); hand it to another thread instead.
    public func stop(gracePeriod: Double = 10) {
        let deadline = SocketIO.now() + SocketIO.nanoseconds(gracePeriod)
        condition.lock()
        switch state {
        case .idle:
            state = .stopped
            condition.broadcast()
            condition.unlock()
            return
        case .stopping, .stopped:
            while state != .stopped { condition.wait() }
            condition.unlock()
            return
        case .running:
            state = .stopping
        }
        stopSignal?.fire()
        while acceptThreadRunning { condition.wait() }
        while !connections.isEmpty && SocketIO.now() < deadline {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.02))
        }
        // Past the grace period: wake every remaining connection thread (their reads and writes
        // fail at once) and give them a moment to unregister.
        for fd in connections.values where fd >= 0 { SocketIO.shutdownBoth(fd) }
        let forcedDeadline = SocketIO.now() + SocketIO.nanoseconds(0.5)
        while !connections.isEmpty && SocketIO.now() < forcedDeadline {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.02))
        }
        condition.unlock()
        // Let clients read the final responses before the last sockets close.
        closer.finish(deadline: min(deadline, SocketIO.now() + SocketIO.nanoseconds(0.5)))
        condition.lock()
        state = .stopped
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until the server has stopped (`stop` returned on some thread).
    public func wait() {
        condition.lock()
        while state != .stopped { condition.wait() }
        condition.unlock()
    }

    /// True once `stop` has begun; connections then finish their current request and close.
    var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return state != .running
    }

    /// The descriptor that becomes readable when stop begins (never closed while threads use it).
    var stopDescriptor: Int32 {
        condition.lock()
        defer { condition.unlock() }
        return stopSignal?.readFD ?? -1
    }

    private func acceptLoop(_ socket: ListeningSocket, stop: StopSignal) {
        while true {
            let result = SocketIO.wait(socket.fd, stopFD: stop.readFD, deadline: UInt64.max)
            if result == .stopRequested || result == .failed { break }
            while let (fd, remote) = socket.accept() {
                admit(fd, remote: remote)
            }
            // Out of descriptors: the listening socket stays readable; back off instead of spinning.
            if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                usleep(10_000)
            }
        }
        condition.lock()
        SocketIO.close(socket.fd)
        acceptThreadRunning = false
        condition.broadcast()
        condition.unlock()
    }

    /// Starts a connection thread for `fd`, or answers 503 when `maxConnections` are open.
    private func admit(_ fd: Int32, remote: String) {
        condition.lock()
        guard state == .running else {
            condition.unlock()
            SocketIO.close(fd)
            return
        }
        guard connections.count < max(configuration.maxConnections, 1) else {
            condition.unlock()
            rejectOverCapacity(fd, remote: remote)
            return
        }
        let id = nextConnectionID
        nextConnectionID += 1
        connections[id] = fd
        condition.unlock()
        let connection = HTTPConnection(fd: fd, id: id, remoteAddress: remote, server: self)
        let thread = Thread { [self] in
            connection.run()
            connectionFinished(id)
        }
        thread.name = "http-connection"
        thread.start()
    }

    /// The 503 for one connection too many: written without waiting (it fits any socket buffer),
    /// then the socket is half-closed and handed to the lingering closer, so the accept thread
    /// never blocks on the client.
    private func rejectOverCapacity(_ fd: Int32, remote: String) {
        let started = SocketIO.now()
        var response = HTTPResponse.error(
            status: 503, code: "too_many_connections",
            message: "the server is at its limit of \(configuration.maxConnections) connections; retry later"
        )
        response.headers.add(name: "Retry-After", value: String(configuration.retryAfterSeconds))
        let requestID = RequestID.generate()
        let bytes = response.serializedHead(requestID: requestID, keepAlive: false) + response.body
        let written = SocketIO.sendAll(fd, bytes, deadline: started + SocketIO.nanoseconds(0.05))
        closer.close(fd)
        configuration.accessLog?(AccessLogEntry(
            method: "", path: "", status: 503, bytesIn: 0, bytesOut: written,
            durationMilliseconds: Double(SocketIO.now() - started) / 1e6, requestID: requestID, remoteAddress: remote
        ))
    }

    /// Called by a connection thread after it has given up its descriptor.
    private func connectionFinished(_ id: Int) {
        condition.lock()
        connections[id] = nil
        condition.broadcast()
        condition.unlock()
    }

    /// Gives up connection `id`'s descriptor through `release` (close or linger) with the server
    /// lock held and the registry entry cleared first, so a forced shutdown in `stop` can never
    /// touch a descriptor number that has been reused.
    func releaseDescriptor(ofConnection id: Int, _ release: (Int32) -> Void) {
        condition.lock()
        defer { condition.unlock() }
        guard let fd = connections[id], fd >= 0 else { return }
        connections[id] = -1
        release(fd)
    }
}
