import Foundation
@testable import HTTP
import TestSupport
import XCTest

/// The wire protocol over real loopback sockets.
final class HTTPServerProtocolTests: ServerTestCase {
    /// RFC 9110 §5.6.7 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
    static let imfFixdate: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter
    }()

    private func assertKeepAlive(host: String) throws {
        let server = try startServer(host: host)
        let client = try RawClient(host: host, port: server.boundPort)
        var ids: Set<String> = []
        for index in 1...3 {
            client.send(request("GET", "/r\(index)"))
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.text, "GET /r\(index) body=0")
            XCTAssertNil(response.header("Connection"))
            XCTAssertEqual(response.header("Server"), "rcnn")
            // RFC 9110 §5.6.7 IMF-fixdate, and the time of the answer (within a few seconds).
            let date = try XCTUnwrap(response.header("Date"))
            let parsed = try XCTUnwrap(Self.imfFixdate.date(from: date), "Date '\(date)' is not an IMF-fixdate")
            XCTAssertEqual(Self.imfFixdate.string(from: parsed), date, "Date '\(date)' is not in canonical form")
            XCTAssertEqual(parsed.timeIntervalSinceNow, 0, accuracy: 5, "Date '\(date)'")
            ids.insert(try XCTUnwrap(response.header("X-Request-Id")))
        }
        XCTAssertEqual(ids.count, 3, "each request gets its own id")
        XCTAssertEqual(server.openConnectionCount, 1, "all three on one connection")
    }

    func testKeepAliveThreeSequentialRequestsIPv4() throws {
        try assertKeepAlive(host: "127.0.0.1")
    }

    func testKeepAliveThreeSequentialRequestsIPv6() throws {
        try Self.requireIPv6Loopback()
        try assertKeepAlive(host: "::1")
    }

    func testDualStackListenerAcceptsBothFamilies() throws {
        try Self.requireIPv6Loopback()
        let server = try startServer(host: "::")
        for host in ["127.0.0.1", "::1"] {
            let client = try RawClient(host: host, port: server.boundPort)
            client.send(request("GET", "/dual"))
            XCTAssertEqual(try client.readResponse().status, 200, host)
        }
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let server = try startServer()
        let client = try RawClient(port: server.boundPort)
        client.send(request("GET", "/one") + request("POST", "/echo", body: "two") + request("GET", "/three"))
        XCTAssertEqual(try client.readResponse().text, "GET /one body=0")
        XCTAssertEqual(try client.readResponse().text, "two")
        XCTAssertEqual(try client.readResponse().text, "GET /three body=0")
    }

    func testChunkedUpload() throws {
        let server = try startServer()
        let client = try RawClient(port: server.boundPort)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n")
        client.send("6\r\n world\r\n0\r\nX-Trailer: ignored\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.text, "hello world")
        client.send(request("GET", "/after"))
        XCTAssertEqual(try client.readResponse().text, "GET /after body=0", "the connection stays usable")
    }

    func testExpectContinueFlow() throws {
        let server = try startServer()
        let client = try RawClient(port: server.boundPort)
        client.send("PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 7\r\n\r\n")
        let interim = try client.readResponse()
        XCTAssertEqual(interim.status, 100, "100 Continue before the body is sent")
        client.send("payload")
        let final = try client.readResponse()
        XCTAssertEqual(final.status, 200)
        XCTAssertEqual(final.text, "payload")
    }

    func testExpectContinueTooLargeGets413InsteadAndClose() throws {
        let server = try startServer(configure: { $0.maxBodyBytes = 1000 })
        let client = try RawClient(port: server.boundPort)
        client.send("PUT /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1001\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(client.isClosedByPeer())
    }

    func testHeadHasGetHeadersButNoBody() throws {
        let server = try startServer()
        let client = try RawClient(port: server.boundPort)
        client.send(request("GET", "/resource"))
        let get = try client.readResponse()
        client.send(request("HEAD", "/resource") + request("GET", "/next"))
        let head = try client.readResponse(bodyless: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), String("HEAD /resource body=0".utf8.count))
        XCTAssertEqual(get.header("Content-Type"), head.header("Content-Type"))
        // If the server had sent a body after HEAD, this would read it as a malformed response.
        XCTAssertEqual(try client.readResponse().text, "GET /next body=0")
    }

    func testLargeContentLengthGets413AndClose() throws {
        let server = try startServer(configure: { $0.maxBodyBytes = 1 << 20 })
        let client = try RawClient(port: server.boundPort)
        client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\nsome of the body")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertTrue(response.text.contains("content_too_large"))
        XCTAssertTrue(client.isClosedByPeer())
    }

    func testSmugglingAttemptsAreRefusedAndClosed() throws {
        let server = try startServer()
        let attempts = [
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
        ]
        // HTTPRequestParser's framing rules: both framings, two lengths and whitespace before the
        // colon are 400; a transfer coding other than exactly `chunked` is 501.
        let expected = [400, 400, 501, 400]
        for (index, attempt) in attempts.enumerated() {
            let client = try RawClient(port: server.boundPort)
            client.send(attempt)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, expected[index], "attempt \(index)")
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertEqual(response.header("Content-Type"), "application/json")
            XCTAssertTrue(client.isClosedByPeer(), "attempt \(index): nothing after it may be served")
        }
    }

    func testHeaderFloodGets431() throws {
        let server = try startServer(configure: { $0.maxHeaderBytes = 4096 })
        let client = try RawClient(port: server.boundPort)
        var text = "GET / HTTP/1.1\r\nHost: t\r\n"
        for index in 0..<200 { text += "X-Flood-\(index): \(String(repeating: "f", count: 80))\r\n" }
        client.send(text + "\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 431)
        XCTAssertTrue(client.isClosedByPeer())
    }

    func testLongRequestLineGets414() throws {
        let server = try startServer(configure: { $0.maxRequestLineBytes = 1024 })
        let client = try RawClient(port: server.boundPort)
        client.send("GET /\(String(repeating: "a", count: 2000)) HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 414)
    }

    func testUnknownVersionGets505() throws {
        let server = try startServer()
        let client = try RawClient(port: server.boundPort)
        client.send("GET / HTTP/3.0\r\nHost: t\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 505)
    }

    func testHTTP10ClosesUnlessKeepAliveAsked() throws {
        let server = try startServer()
        let plain = try RawClient(port: server.boundPort)
        plain.send("GET /old HTTP/1.0\r\n\r\n")
        let first = try plain.readResponse()
        XCTAssertEqual(first.header("Connection"), "close")
        XCTAssertTrue(plain.isClosedByPeer())

        let keepAlive = try RawClient(port: server.boundPort)
        keepAlive.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(try keepAlive.readResponse().header("Connection"), "keep-alive")
        keepAlive.send("GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(try keepAlive.readResponse().text, "GET /again body=0")
    }

    func testConnectionCloseHonouredBothWays() throws {
        let server = try startServer(handler: { request in
            var response = HTTPResponse.text("bye")
            if request.path == "/server-closes" { response.headers.add(name: "Connection", value: "close") }
            return response
        })
        let clientCloses = try RawClient(port: server.boundPort)
        clientCloses.send(request("GET", "/", headers: ["Connection: close"]))
        XCTAssertEqual(try clientCloses.readResponse().header("Connection"), "close")
        XCTAssertTrue(clientCloses.isClosedByPeer())

        let serverCloses = try RawClient(port: server.boundPort)
        serverCloses.send(request("GET", "/server-closes"))
        XCTAssertEqual(try serverCloses.readResponse().header("Connection"), "close")
        XCTAssertTrue(serverCloses.isClosedByPeer())
    }

    func testRequestIDIsEchoedAndAccessLogged() throws {
        let entries = Recorder<AccessLogEntry>()
        let server = try startServer(configure: { $0.accessLog = { entries.append($0) } })
        let client = try RawClient(port: server.boundPort)
        let sent = Date()
        client.send(request("POST", "/echo", headers: ["X-Request-Id: trace-42"], body: "12345"))
        let response = try client.readResponse()
        let roundTripMilliseconds = Date().timeIntervalSince(sent) * 1000
        XCTAssertEqual(response.header("X-Request-Id"), "trace-42")
        XCTAssertTrue(waitUntil { !entries.all.isEmpty })
        let entry = try XCTUnwrap(entries.all.first)
        XCTAssertEqual(entry.method, "POST")
        XCTAssertEqual(entry.path, "/echo")
        XCTAssertEqual(entry.status, 200)
        XCTAssertEqual(entry.requestID, "trace-42")
        XCTAssertEqual(entry.bytesIn, request("POST", "/echo", headers: ["X-Request-Id: trace-42"], body: "12345").utf8.count)
        XCTAssertGreaterThan(entry.bytesOut, 5)
        XCTAssertTrue(entry.remoteAddress.hasPrefix("127.0.0.1:"))
        // The server's own duration lies within the client's round trip (and is not zero).
        XCTAssertGreaterThan(entry.durationMilliseconds, 0)
        XCTAssertLessThanOrEqual(entry.durationMilliseconds, roundTripMilliseconds)
    }
}
