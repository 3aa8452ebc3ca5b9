import Foundation
@testable import HTTP
import TestSupport
import XCTest

/// Starts real servers on loopback ephemeral ports and stops them after each test.
class ServerTestCase: XCTestCase {
    private var servers: [HTTPServer] = []

    override func tearDown() {
        for server in servers { server.stop(gracePeriod: 2) }
        servers = []
        super.tearDown()
    }

    /// A server on `host`, port 0, with `configure` applied; `echoHandler` by default.
    func startServer(
        host: String = "127.0.0.1",
        configure: (inout HTTPServer.Configuration) -> Void = { _ in },
        handler: @escaping HTTPServer.Handler = ServerTestCase.echoHandler
    ) throws -> HTTPServer {
        var configuration = HTTPServer.Configuration(host: host, port: 0)
        configure(&configuration)
        let server = HTTPServer(configuration: configuration, handler: handler)
        try server.start()
        servers.append(server)
        XCTAssertGreaterThan(server.boundPort, 0)
        return server
    }

    /// `/echo` answers with the request body; anything else with a one-line summary:
    /// `METHOD PATH body=N`. `/big` answers 32 MiB.
    static let echoHandler: HTTPServer.Handler = { request in
        switch request.path {
        case "/echo":
            var response = HTTPResponse(status: 200, body: request.body)
            response.headers.add(name: "Content-Type", value: "application/octet-stream")
            return response
        case "/big":
            return HTTPResponse(status: 200, body: [UInt8](repeating: 0x61, count: 32 << 20))
        default:
            return .text("\(request.method) \(request.path) body=\(request.body.count)")
        }
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` passes (a hang guard).
    func waitUntil(timeout: Double = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// True when this machine can use IPv6 loopback.
    static let ipv6LoopbackAvailable: Bool = {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
            }
        }
    }()

    /// Returns when `ipv6LoopbackAvailable`; otherwise a missing prerequisite (`Prerequisite`).
    static func requireIPv6Loopback() throws {
        try Prerequisite.require(ipv6LoopbackAvailable, "an IPv6 loopback address (bind to [::1] failed)",
                                 provides: "the CI machine must have ::1 on lo (.ci/run checks it; in a container, run with IPv6 enabled)")
    }
}

/// A thread-safe list, for collecting what handlers and loggers saw.
final class Recorder<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Element] = []

    func append(_ item: Element) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var all: [Element] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
