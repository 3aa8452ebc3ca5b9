import Foundation
@testable import HTTP
import XCTest

/// What the connection does around the handler: refusing from the head before a body is read,
/// keeping a pipelined request's clock stopped while the one before it is handled, and logging
/// requests their clients abandoned.
final class HTTPAdmissionTests: ServerTestCase {
    /// Thread-safe list of access-log entries.
    final class LogRecorder: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [AccessLogEntry] = []
        func append(_ e: AccessLogEntry) { lock.lock(); stored.append(e); lock.unlock() }
        var entries: [AccessLogEntry] { lock.lock(); defer { lock.unlock() }; return stored }
    }

    /// The head handler sees the head (headers, no body) before any body byte is read; its refusal
    /// is sent at once, with `Connection: close`, though the declared body never arrives.
    func testHeadHandlerRefusesBeforeTheBodyArrives() throws {
        let log = LogRecorder()
        let server = try startServer(configure: {
            $0.accessLog = { log.append($0) }
            $0.headHandler = { head in
                guard head.path == "/refuse" else { return nil }
                XCTAssertTrue(head.body.isEmpty)
                var r = HTTPResponse.text("refused \(head.headers["X-Token"] ?? "")", status: 503)
                r.headers.add(name: "Retry-After", value: "1")
                return r
            }
        })
        let client = try RawClient(port: server.boundPort)
        // 10 MB declared, none sent: the answer cannot wait for the body.
        XCTAssertTrue(client.send("POST /refuse HTTP/1.1\r\nHost: t\r\nX-Token: abc\r\nContent-Length: 10000000\r\n\r\n"))
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.text, "refused abc")
        XCTAssertEqual(r.header("Retry-After"), "1")
        XCTAssertEqual(r.header("Connection"), "close")
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertTrue(waitUntil { log.entries.contains { $0.path == "/refuse" } })
        XCTAssertEqual(log.entries.first { $0.path == "/refuse" }?.status, 503)

        // A head the handler lets through proceeds as usual, 100-continue included.
        let other = try RawClient(port: server.boundPort)
        XCTAssertTrue(other.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"))
        XCTAssertEqual(try other.readResponse(bodyless: true).status, 100)
        XCTAssertTrue(other.send("hello"))
        let echoed = try other.readResponse()
        XCTAssertEqual(echoed.status, 200)
        XCTAssertEqual(echoed.text, "hello")
    }

    /// A refusal replaces `100 Continue`: the client that waits for it gets the final answer.
    func testRefusalInsteadOfContinue() throws {
        let server = try startServer(configure: { $0.headHandler = { _ in .text("no", status: 503) } })
        let client = try RawClient(port: server.boundPort)
        XCTAssertTrue(client.send("POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"))
        let r = try client.readResponse()
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.text, "no")
        XCTAssertTrue(client.isClosedByPeer())
    }

    /// Two pipelined requests, the first handled for longer than the read timeout: the second,
    /// whose bytes arrived long ago, is answered, not timed out (its clock starts when the
    /// connection is free to read it).
    func testPipelinedRequestAfterASlowOneIsNotTimedOut() throws {
        let server = try startServer(configure: { $0.readTimeout = 0.4 }) { request in
            if request.path == "/slow" { usleep(1_200_000) }
            return .text("\(request.path) body=\(request.body.count)")
        }
        let client = try RawClient(port: server.boundPort)
        // The second request's head arrives with the first; its body only after the slow answer.
        XCTAssertTrue(client.send(request("GET", "/slow") + "POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n"))
        let first = try client.readResponse()
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.text, "/slow body=0")
        XCTAssertTrue(client.send("abcd"))
        let second = try client.readResponse()
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(second.text, "/second body=4")
    }

    /// A client that declares a body and vanishes leaves an access-log line with status 499.
    func testAbortedRequestIsLogged() throws {
        let log = LogRecorder()
        let server = try startServer(configure: { $0.accessLog = { log.append($0) } })
        let client = try RawClient(port: server.boundPort)
        XCTAssertTrue(client.send("POST /upload%20here?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789"))
        XCTAssertTrue(waitUntil { server.openConnectionCount == 1 })
        client.shutdownWrite()
        XCTAssertTrue(waitUntil { !log.entries.isEmpty })
        let entry = try XCTUnwrap(log.entries.first)
        XCTAssertEqual(entry.status, 499)
        XCTAssertEqual(entry.method, "POST")
        XCTAssertEqual(entry.path, "/upload here")
        XCTAssertEqual(entry.bytesOut, 0)
        XCTAssertEqual(entry.bytesIn, 77)
        XCTAssertEqual(log.entries.count, 1)
        // An idle keep-alive connection that closes is not an aborted request.
        let idle = try RawClient(port: server.boundPort)
        XCTAssertTrue(idle.send(request("GET", "/a")))
        XCTAssertEqual(try idle.readResponse().status, 200)
        idle.shutdownWrite()
        XCTAssertTrue(waitUntil { server.openConnectionCount == 0 })
        XCTAssertEqual(log.entries.map(\.status), [499, 200])
    }
}
