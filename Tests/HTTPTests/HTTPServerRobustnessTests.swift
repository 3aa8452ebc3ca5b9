import Foundation
@testable import HTTP
import XCTest

/// Slow, broken and too many clients; lifecycle. Timeouts here are hang guards: every assertion
/// holds however fast or slow the machine is.
final class HTTPServerRobustnessTests: ServerTestCase {
    /// A stopped server, its threads and its lingering closer are all released (no reference cycle
    /// through the accept or connection threads' closures).
    func testStoppedServerIsReleased() throws {
        weak var released: HTTPServer?
        weak var closer: LingeringCloser?
        try {
            let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0)) { _ in .text("ok") }
            try server.start()
            let client = try RawClient(port: server.boundPort)
            XCTAssertTrue(client.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
            XCTAssertEqual(try client.readResponse().status, 200)
            server.stop(gracePeriod: 2)
            released = server
            closer = server.closer
        }()
        for _ in 0..<200 where released != nil || closer != nil { usleep(10_000) }
        XCTAssertNil(released, "the server outlived stop()")
        XCTAssertNil(closer, "the lingering closer outlived its server")
    }

    func testSlowlorisIsCutAtReadTimeout() throws {
        let server = try startServer(configure: { $0.readTimeout = 1 })
        let client = try RawClient(port: server.boundPort)
        let started = Date()
        let text = Array("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: \(String(repeating: "s", count: 200))".utf8)
        var sent = 0
        // Trickle a byte every 50 ms until the server gives up (or the hang guard trips).
        while sent < text.count && Date().timeIntervalSince(started) < 15 {
            guard client.send([text[sent]]) else { break }
            sent += 1
            usleep(50_000)
            if server.openConnectionCount == 0 { break }
        }
        XCTAssertLessThan(sent, text.count, "the server must not wait for the whole trickle")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.9, "not before the read timeout")
        XCTAssertTrue(client.isClosedByPeer(), "the connection must be closed after the 408")
    }

    func testStalledBodyGets408() throws {
        let server = try startServer(configure: { $0.readTimeout = 0.5 })
        let client = try RawClient(port: server.boundPort)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nonly5")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertTrue(client.isClosedByPeer())
    }

    func testIdleConnectionIsClosedSilently() throws {
        let server = try startServer(configure: { $0.idleTimeout = 0.3 })
        let client = try RawClient(port: server.boundPort)
        client.send(request("GET", "/"))
        XCTAssertEqual(try client.readResponse().status, 200)
        XCTAssertTrue(client.isClosedByPeer(), "closed without another response after the idle timeout")
    }

    func testClientDisconnectingMidBodyDoesNotHurtTheServer() throws {
        let server = try startServer()
        do {
            let client = try RawClient(port: server.boundPort)
            client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 1000))
        }
        XCTAssertTrue(waitUntil { server.openConnectionCount == 0 })
        let next = try RawClient(port: server.boundPort)
        next.send(request("GET", "/still-alive"))
        XCTAssertEqual(try next.readResponse().text, "GET /still-alive body=0")
    }

    func testClientDisconnectingMidResponseDoesNotHurtTheServer() throws {
        let entries = Recorder<AccessLogEntry>()
        let server = try startServer(configure: { $0.accessLog = { entries.append($0) } })
        do {
            let client = try RawClient(port: server.boundPort)
            client.send(request("GET", "/big"))
            // Read a little of the 32 MiB (more than loopback socket buffers hold), then vanish (the server gets EPIPE/ECONNRESET, not SIGPIPE).
            _ = try client.readResponse(bodyless: true)
        }
        XCTAssertTrue(waitUntil { server.openConnectionCount == 0 })
        XCTAssertTrue(waitUntil { !entries.all.isEmpty })
        XCTAssertLessThan(entries.all[0].bytesOut, 32 << 20, "the log shows the short write")
        let next = try RawClient(port: server.boundPort)
        next.send(request("GET", "/still-alive"))
        XCTAssertEqual(try next.readResponse().text, "GET /still-alive body=0")
    }

    func testConnectionLimitAnswers503() throws {
        let server = try startServer(configure: { $0.maxConnections = 2; $0.retryAfterSeconds = 3 })
        let first = try RawClient(port: server.boundPort)
        let second = try RawClient(port: server.boundPort)
        for client in [first, second] {
            client.send(request("GET", "/held"))
            XCTAssertEqual(try client.readResponse().status, 200)
        }
        let third = try RawClient(port: server.boundPort)
        third.send(request("GET", "/rejected"))
        let rejected = try third.readResponse()
        XCTAssertEqual(rejected.status, 503)
        XCTAssertEqual(rejected.header("Retry-After"), "3")
        XCTAssertEqual(rejected.header("Connection"), "close")
        XCTAssertTrue(rejected.text.contains("too_many_connections"))
        XCTAssertTrue(third.isClosedByPeer())
        // A slot frees up when a client leaves.
        first.shutdownWrite()
        XCTAssertTrue(first.isClosedByPeer())
        XCTAssertTrue(waitUntil { server.openConnectionCount == 1 })
        let fourth = try RawClient(port: server.boundPort)
        fourth.send(request("GET", "/admitted"))
        XCTAssertEqual(try fourth.readResponse().status, 200)
    }

    func testGracefulStopFinishesTheRequestInFlight() throws {
        let entered = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        let server = try startServer(handler: { request in
            if request.path == "/slow" {
                entered.signal()
                _ = gate.wait(timeout: .now() + 10)  // hang guard only
                usleep(300_000)
            }
            return .text("done \(request.path)")
        })
        let port = server.boundPort
        let idle = try RawClient(port: port)
        idle.send(request("GET", "/warm"))
        XCTAssertEqual(try idle.readResponse().status, 200)

        let busy = try RawClient(port: port)
        busy.send(request("GET", "/slow"))
        XCTAssertEqual(entered.wait(timeout: .now() + 10), .success)

        let stopped = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            server.stop(gracePeriod: 10)
            stopped.signal()
        }
        XCTAssertTrue(waitUntil { RawClient.isRefused(port: port) }, "no new connections once stopping")
        XCTAssertTrue(idle.isClosedByPeer(), "idle keep-alive connections are closed")
        XCTAssertEqual(stopped.wait(timeout: .now() + 0.05), .timedOut, "stop waits for the request in flight")
        gate.signal()
        let response = try busy.readResponse()
        XCTAssertEqual(response.text, "done /slow")
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(busy.isClosedByPeer())
        XCTAssertEqual(stopped.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(server.openConnectionCount, 0)
        server.wait()
    }

    func testStopAfterGracePeriodShutsDownStuckConnections() throws {
        let gate = DispatchSemaphore(value: 0)
        let server = try startServer(handler: { _ in
            _ = gate.wait(timeout: .now() + 10)
            return .text("late")
        })
        let client = try RawClient(port: server.boundPort)
        client.send(request("GET", "/stuck"))
        XCTAssertTrue(waitUntil { server.openConnectionCount == 1 })
        server.stop(gracePeriod: 0.2)
        XCTAssertTrue(client.isClosedByPeer(), "shut down after the grace period")
        gate.signal()
    }

    func testAddressInUseIsAClearError() throws {
        let server = try startServer()
        let second = HTTPServer(configuration: .init(host: "127.0.0.1", port: server.boundPort)) { _ in .text("") }
        XCTAssertThrowsError(try second.start()) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("address already in use"), text)
            XCTAssertTrue(text.contains("127.0.0.1:\(server.boundPort)"), text)
        }
        XCTAssertThrowsError(try HTTPServer(configuration: .init(host: "127.0.0.1", port: 70000)) { _ in .text("") }.start()) { error in
            XCTAssertTrue(String(describing: error).contains("out of range"))
        }
    }

    func testLocalhostBindsLoopback() throws {
        let server = try startServer(host: "localhost")
        XCTAssertEqual(server.boundAddress, "localhost:\(server.boundPort)")
        let client = try RawClient(host: "127.0.0.1", port: server.boundPort)
        client.send(request("GET", "/"))
        XCTAssertEqual(try client.readResponse().status, 200)
    }

    func testSignalWaiterAndRunUntilSignal() throws {
        let waiter = SignalWaiter(signals: [SIGUSR2])
        raise(SIGUSR2)
        XCTAssertEqual(waiter.wait(timeoutSeconds: 10), SIGUSR2)
        waiter.restoreDefaultActions()

        // runUntilSignal also returns when the server is stopped by other means.
        let server = try startServer()
        let returned = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            XCTAssertNil(server.runUntilSignal(signals: [SIGUSR1], gracePeriod: 1))
            returned.signal()
        }
        server.stop(gracePeriod: 1)
        XCTAssertEqual(returned.wait(timeout: .now() + 10), .success)

        // With the waiter created first, a signal during start-up is kept, not lost or fatal.
        let early = SignalWaiter(signals: [SIGUSR1])
        let second = try startServer()
        raise(SIGUSR1)
        XCTAssertEqual(second.runUntilSignal(early, gracePeriod: 1), SIGUSR1)
        XCTAssertTrue(RawClient.isRefused(port: second.boundPort), "stopped")
    }
}
