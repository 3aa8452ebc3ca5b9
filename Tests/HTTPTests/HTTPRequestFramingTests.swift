@testable import HTTP
import XCTest

/// Body framing, smuggling defences, chunked bodies and Expect (RFC 9112 §6–7, RFC 9110 §10.1.1),
/// without sockets.
final class HTTPRequestFramingTests: XCTestCase {
    func testContentLengthBody() throws {
        let request = try XCTUnwrap(parseOne("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 011\r\n\r\nhello world"))
        XCTAssertEqual(String(decoding: request.body, as: UTF8.self), "hello world")
        let empty = try XCTUnwrap(parseOne("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
        XCTAssertEqual(empty.body, [])
    }

    func testBodyLessMethodsNeedNoLength() throws {
        let get = try XCTUnwrap(parseOne("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(get.body, [])
        let delete = try XCTUnwrap(parseOne("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n"))
        XCTAssertEqual(delete.method, "DELETE")
    }

    func testPostOrPutWithoutLengthIs411() {
        assertRefused("POST /p HTTP/1.1\r\nHost: x\r\n\r\n", status: 411)
        assertRefused("PUT /p HTTP/1.1\r\nHost: x\r\n\r\n", status: 411)
        assertRefused("PATCH /p HTTP/1.0\r\n\r\n", status: 411)
    }

    func testInvalidContentLengthIs400() {
        for value in ["-1", "+5", "5a", "0x10", "1 2", "1,1", "5, 5", "99999999999999999999999", ""] {
            assertRefused("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: \(value)\r\n\r\n", status: 400)
        }
    }

    func testMultipleContentLengthsAre400() {
        assertRefused("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", status: 400)
        assertRefused("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello", status: 400)
    }

    func testContentLengthWithTransferEncodingIs400() {
        assertRefused(
            "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            status: 400
        )
        assertRefused(
            "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
            status: 400
        )
    }

    func testTransferEncodingOtherThanChunkedIsRefused() {
        for value in ["gzip", "gzip, chunked", "chunked, chunked", "identity", "chunked;q=1", "xchunked"] {
            assertRefused("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \(value)\r\n\r\n0\r\n\r\n", status: 501)
        }
        assertRefused(
            "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
            status: 501
        )
        assertRefused("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", status: 400)
        assertRefused("POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400)
    }

    func testChunkedBodyWithExtensionsAndTrailers() throws {
        let text = "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "4;ext=1;other=\"quoted value\"\r\nWiki\r\n"
            + "5 ; spaced\r\npedia\r\n"
            + "E\r\n in\r\n\r\nchunks.\r\n"
            + "0;last\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n"
        let request = try XCTUnwrap(parseOne(text))
        XCTAssertEqual(String(decoding: request.body, as: UTF8.self), "Wikipedia in\r\n\r\nchunks.")
        XCTAssertNil(request.headers["X-Checksum"], "trailers are dropped, never merged into the headers")
    }

    func testMalformedChunkedBodies() {
        let head = "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        assertRefused(head + "g\r\nabc\r\n0\r\n\r\n", status: 400)
        assertRefused(head + "-1\r\nabc\r\n0\r\n\r\n", status: 400)
        assertRefused(head + "3 \r\nabc\r\n0\r\n\r\n", status: 400, "whitespace without an extension")
        assertRefused(head + "3\r\nabcd\r\n0\r\n\r\n", status: 400, "more data than declared")
        assertRefused(head + "3\r\nabc\rX0\r\n\r\n", status: 400)
        assertRefused(head + "3;a=\u{1}\r\nabc\r\n0\r\n\r\n", status: 400)
        assertRefused(head + "1000000000000000000\r\n", status: 400, "overflowing size")
        assertRefused(head + "3\r\nabc\r\n0\r\n bad-fold\r\n\r\n", status: 400, "obs-fold in trailers")
        assertRefused(head + "3\r\nabc\r\n0\r\nno colon\r\n\r\n", status: 400)
        assertRefused(head + "1;" + String(repeating: "e", count: 5000) + "\r\n", status: 400, "chunk line limit")
    }

    func testChunkedTrailerSectionIsLimited() {
        var limits = HTTPRequestParser.Limits()
        limits.maxHeaderBytes = 200
        let head = "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        let trailer = "X-T: \(String(repeating: "t", count: 250))\r\n"
        assertRefused(head + "0\r\n" + trailer + "\r\n", status: 431, limits: limits)
    }

    func testBodyLimitIs413ForDeclaredAndAccumulatedSizes() {
        var limits = HTTPRequestParser.Limits()
        limits.maxBodyBytes = 10
        XCTAssertEqual(parseOne("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits)?.body,
                       Array("0123456789".utf8), "exactly at the limit is accepted")
        // Refused on the declared length alone, before any body byte arrives.
        assertRefused("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", status: 413, limits: limits)
        let head = "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        XCTAssertEqual(parseOne(head + "6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n", limits: limits)?.body, Array("0123456789".utf8))
        // Refused when the chunk that would cross the limit is declared, before its data.
        assertRefused(head + "6\r\n012345\r\n5\r\n", status: 413, limits: limits)
        assertRefused(head + "b\r\n", status: 413, limits: limits)
    }

    func testExpectContinue() throws {
        let head = "PUT /p HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n"
        let waiting = parse(head)
        XCTAssertEqual(waiting.continues, 1, "the head alone asks for 100 Continue")
        XCTAssertTrue(waiting.requests.isEmpty)
        XCTAssertTrue(waiting.partial)
        let complete = parse(head + "hello", chunkSizes: [head.utf8.count])
        XCTAssertEqual(complete.continues, 1)
        XCTAssertEqual(complete.requests.first?.body, Array("hello".utf8))
        // Body already sent with the head: no 100 needed (RFC 9110 §10.1.1 MAY omit).
        XCTAssertEqual(parse(head + "hello").continues, 0)
        // No body, no 100; HTTP/1.0 ignores Expect.
        XCTAssertEqual(parse("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n").continues, 0)
        XCTAssertEqual(parse("PUT /p HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").continues, 0)
        // Too large: 413 instead of 100.
        var limits = HTTPRequestParser.Limits()
        limits.maxBodyBytes = 4
        let tooLarge = parse(head, limits: limits)
        XCTAssertEqual(tooLarge.error?.status, 413)
        XCTAssertEqual(tooLarge.continues, 0)
        // Unknown expectations.
        assertRefused("PUT /p HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 1\r\n\r\nx", status: 417)
    }

    func testParserStaysFailedAfterAnError() {
        var parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/2.0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        XCTAssertThrowsError(try parser.next())
        XCTAssertThrowsError(try parser.next(), "nothing after an error may be parsed")
    }

    func testLargeBodyInManyChunks() throws {
        var body = [UInt8](repeating: 0, count: 300_000)
        for index in body.indices { body[index] = UInt8(truncatingIfNeeded: index &* 31) }
        let head = Array("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        let outcome = parse(head + body, chunkSizes: Array(repeating: 4093, count: 80))
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.requests.first?.body, body)
    }
}
