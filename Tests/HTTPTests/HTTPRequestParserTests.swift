@testable import HTTP
import XCTest

/// Request line, header fields and size limits (RFC 9112 §2–5), without sockets.
final class HTTPRequestParserTests: XCTestCase {
    func testSimpleGet() throws {
        let request = try XCTUnwrap(parseOne("GET /v1/models?verbose=1&name=a%20b+c HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n"))
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.target, "/v1/models?verbose=1&name=a%20b+c")
        XCTAssertEqual(request.path, "/v1/models")
        XCTAssertEqual(request.queryValue("verbose"), "1")
        XCTAssertEqual(request.queryValue("name"), "a b c")
        XCTAssertNil(request.queryValue("missing"))
        XCTAssertEqual(request.version, .http1_1)
        XCTAssertEqual(request.headers.values(for: "x-A"), ["1", "2"])
        XCTAssertEqual(request.headers["HOST"], "x")
        XCTAssertEqual(request.body, [])
        XCTAssertEqual(request.remoteAddress, "192.0.2.1:1234")
        XCTAssertEqual(request.requestID.count, 32, "a generated id")
    }

    func testPercentDecodedPathAndAbsoluteForm() throws {
        let request = try XCTUnwrap(parseOne("GET /a%2Fb/%C3%A9t%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(request.path, "/a/b/été")
        let absolute = try XCTUnwrap(parseOne("GET http://example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"))
        XCTAssertEqual(absolute.path, "/p/q")
        XCTAssertEqual(absolute.queryValue("x"), "1")
        let options = try XCTUnwrap(parseOne("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(options.path, "*")
        assertRefused("GET * HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET relative/path HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET /bad%2 HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET /bad%zz HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET /nul%00 HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET /notutf8%FF HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
    }

    func testRequestIDFromHeaderWhenSane() throws {
        let given = try XCTUnwrap(parseOne("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\n\r\n"))
        XCTAssertEqual(given.requestID, "abc-123")
        let tooLong = String(repeating: "a", count: 129)
        let long = try XCTUnwrap(parseOne("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: \(tooLong)\r\n\r\n"))
        XCTAssertNotEqual(long.requestID, tooLong)
        let spaced = try XCTUnwrap(parseOne("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: a b\r\n\r\n"))
        XCTAssertNotEqual(spaced.requestID, "a b")
        XCTAssertEqual(spaced.requestID.count, 32)
    }

    func testHTTP10AndVersions() throws {
        let old = try XCTUnwrap(parseOne("GET / HTTP/1.0\r\n\r\n"))
        XCTAssertEqual(old.version, .http1_0, "HTTP/1.0 needs no Host")
        XCTAssertFalse(old.wantsKeepAlive)
        let keepAlive = try XCTUnwrap(parseOne("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"))
        XCTAssertTrue(keepAlive.wantsKeepAlive)
        let newer = try XCTUnwrap(parseOne("GET / HTTP/1.7\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(newer.version, .http1_1, "a higher 1.x minor version is served as 1.1")
        XCTAssertTrue(newer.wantsKeepAlive)
        let closing = try XCTUnwrap(parseOne("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n"))
        XCTAssertFalse(closing.wantsKeepAlive)
        assertRefused("GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505)
        assertRefused("GET / HTTP/0.9\r\n\r\n", status: 505)
        assertRefused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505)
        assertRefused("GET / http/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.10\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1\r\nHost: x\r\n\r\n", status: 400)
    }

    func testMalformedRequestLines() {
        assertRefused("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("G(ET / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET /é HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET /\r\nHost: x\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\rHost: x\r\n\r\n", status: 400, "a bare CR")
    }

    func testLeadingEmptyLinesAreIgnoredUpToALimit() throws {
        let request = try XCTUnwrap(parseOne("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(request.path, "/")
        assertRefused(String(repeating: "\r\n", count: 17) + "GET / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400)
        XCTAssertFalse(parse("\r\n\r\n").partial, "empty lines alone are not a request in progress")
        XCTAssertTrue(parse("G").partial)
    }

    /// Bare LF is tolerated as a line terminator everywhere (RFC 9112 §2.2 MAY), consistently.
    func testBareLineFeedIsTolerated() throws {
        let request = try XCTUnwrap(parseOne("POST /p HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n"))
        XCTAssertEqual(request.body, Array("abc".utf8))
        XCTAssertEqual(request.headers["transfer-encoding"], "chunked")
    }

    func testHostRules() {
        assertRefused("GET / HTTP/1.1\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", status: 400)
    }

    func testFieldLineRules() throws {
        let request = try XCTUnwrap(parseOne("GET / HTTP/1.1\r\nHost: x\r\nX-Spaces: \t padded value \t\r\nX-Empty:\r\nX-Obs: caf\u{E9}\r\n\r\n"))
        XCTAssertEqual(request.headers["x-spaces"], "padded value")
        XCTAssertEqual(request.headers["x-empty"], "")
        XCTAssertEqual(request.headers["x-obs"], "caf\u{E9}", "obs-text (UTF-8 here) is allowed in values")
        // obs-fold
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\r\n\tHost: x\r\n\r\n", status: 400)
        // whitespace before the colon
        assertRefused("GET / HTTP/1.1\r\nHost : x\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\nContent-Length\t: 5\r\n\r\nhello", status: 400)
        // malformed names and values
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX(y): 1\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{7F}b\r\n\r\n", status: 400)
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", status: 400)
    }

    func testRequestLineLimitIs414() {
        var limits = HTTPRequestParser.Limits()
        limits.maxRequestLineBytes = 64
        let longTarget = "/" + String(repeating: "a", count: 100)
        assertRefused("GET \(longTarget) HTTP/1.1\r\nHost: x\r\n\r\n", status: 414, limits: limits)
        // Refused while the line is still arriving, not after buffering it all.
        let outcome = parse("GET \(longTarget)", limits: limits)
        XCTAssertEqual(outcome.error?.status, 414)
        XCTAssertEqual(parseOne("GET /\(String(repeating: "a", count: 40)) HTTP/1.1\r\nHost: x\r\n\r\n", limits: limits)?.path,
                       "/" + String(repeating: "a", count: 40))
    }

    func testHeaderSectionLimitIs431() {
        var limits = HTTPRequestParser.Limits()
        limits.maxHeaderBytes = 256
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 300))\r\n\r\n"
        assertRefused(big, status: 431, limits: limits)
        var many = "GET / HTTP/1.1\r\nHost: x\r\n"
        for index in 0..<30 { many += "X-\(index): value\r\n" }
        assertRefused(many + "\r\n", status: 431, limits: limits)
        // Refused as soon as the limit is passed, even with no line end in sight.
        XCTAssertEqual(parse("GET / HTTP/1.1\r\nX: " + String(repeating: "z", count: 300), limits: limits).error?.status, 431)
        // Exactly at the limit is accepted.
        let prefix = "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: "
        let exact = prefix + String(repeating: "f", count: 256 - prefix.utf8.count - 4) + "\r\n\r\n"
        XCTAssertEqual(exact.utf8.count, 256)
        XCTAssertEqual(parseOne(exact, limits: limits)?.headers["X-Fill"], String(repeating: "f", count: 256 - prefix.utf8.count - 4))
    }

    func testHeaderCountLimitIs431() {
        var limits = HTTPRequestParser.Limits()
        limits.maxHeaderCount = 5
        var text = "GET / HTTP/1.1\r\nHost: x\r\n"
        for index in 0..<5 { text += "X-\(index): v\r\n" }
        assertRefused(text + "\r\n", status: 431, limits: limits)
    }

    func testPipelinedRequestsComeOutInOrder() {
        let text = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            + "GET /3 HTTP/1.1\r\nHost: x\r\n\r\nGET /4 HT"
        let outcome = parse(text)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.requests.map(\.path), ["/1", "/2", "/3"])
        XCTAssertEqual(outcome.requests[1].body, Array("abc".utf8))
        XCTAssertTrue(outcome.partial, "the fourth request is still in progress")
    }

    func testSplitAtEveryByteBoundary() {
        assertSplitInvariant("GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Long: \(String(repeating: "v", count: 40))\r\n\r\n")
        assertSplitInvariant(
            "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"
                + "PUT /next HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
        )
    }
}
