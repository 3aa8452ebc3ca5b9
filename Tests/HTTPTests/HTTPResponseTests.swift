@testable import HTTP
import Foundation
import XCTest

/// Headers, responses and their wire form, without sockets.
final class HTTPResponseTests: XCTestCase {
    func testHeadersAreOrderedAndCaseInsensitive() {
        var headers: HTTPHeaders = ["Content-Type": "text/plain", "X-Multi": "a"]
        headers.add(name: "x-multi", value: "b")
        XCTAssertEqual(headers["CONTENT-TYPE"], "text/plain")
        XCTAssertEqual(headers.values(for: "X-MULTI"), ["a", "b"])
        headers.replaceOrAdd(name: "X-Multi", value: "c")
        XCTAssertEqual(headers.values(for: "x-multi"), ["c"])
        XCTAssertEqual(headers.map(\.name), ["Content-Type", "X-Multi"])
        headers.remove(name: "content-type")
        XCTAssertFalse(headers.contains("Content-Type"))
        headers.add(name: "Connection", value: "keep-alive , Upgrade")
        XCTAssertTrue(headers.containsToken("upgrade", in: "connection"))
        XCTAssertEqual(headers.listValues(for: "Connection"), ["keep-alive", "Upgrade"])
    }

    func testIMFFixdate() {
        // RFC 9110 §5.6.7's own example.
        XCTAssertEqual(HTTPDate.format(secondsSince1970: 784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT")
        XCTAssertEqual(HTTPDate.format(secondsSince1970: 0), "Thu, 01 Jan 1970 00:00:00 GMT")
    }

    func testSerializedHeadHasTheMandatoryFields() throws {
        var response = HTTPResponse.text("hi")
        response.headers.add(name: "Content-Length", value: "999")
        response.headers.add(name: "Transfer-Encoding", value: "chunked")
        response.headers.add(name: "X-Split", value: "a\r\nInjected: yes")
        let head = String(decoding: response.serializedHead(requestID: "rid", keepAlive: true, date: "D"), as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        XCTAssertEqual(lines.first, "HTTP/1.1 200 OK")
        XCTAssertTrue(lines.contains("Date: D"))
        XCTAssertTrue(lines.contains("Server: rcnn"))
        XCTAssertTrue(lines.contains("Content-Length: 2"))
        XCTAssertTrue(lines.contains("X-Request-Id: rid"))
        XCTAssertTrue(lines.contains("Content-Type: text/plain; charset=utf-8"))
        XCTAssertFalse(head.contains("999"), "Content-Length always comes from the body")
        XCTAssertFalse(head.lowercased().contains("transfer-encoding"))
        XCTAssertFalse(lines.contains("Injected: yes"), "no response splitting")
        XCTAssertFalse(head.contains("Connection:"), "persistence is the HTTP/1.1 default")
        XCTAssertTrue(head.hasSuffix("\r\n\r\n"))

        let closing = String(decoding: response.serializedHead(requestID: "r", keepAlive: false), as: UTF8.self)
        XCTAssertTrue(closing.contains("\r\nConnection: close\r\n"))
        let old = String(decoding: response.serializedHead(requestID: "r", keepAlive: true, requestVersion: .http1_0), as: UTF8.self)
        XCTAssertTrue(old.contains("\r\nConnection: keep-alive\r\n"))
        let noContent = String(decoding: HTTPResponse(status: 204).serializedHead(requestID: "r", keepAlive: true), as: UTF8.self)
        XCTAssertTrue(noContent.hasPrefix("HTTP/1.1 204 No Content\r\n"))
        XCTAssertFalse(noContent.contains("Content-Length"), "RFC 9110 §8.6: none in 204")
    }

    func testErrorBodyShape() throws {
        let response = HTTPResponse.error(status: 404, code: "not_found", message: "no \"such\" route")
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.reason, "Not Found")
        XCTAssertEqual(response.headers["Content-Type"], "application/json")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let error = try XCTUnwrap(object["error"] as? [String: String])
        XCTAssertEqual(error, ["code": "not_found", "message": "no \"such\" route"])
    }

    func testJSONConveniences() throws {
        struct Payload: Encodable { var name: String; var url: String }
        let response = HTTPResponse.json(Payload(name: "a", url: "/v1/x"), status: 201)
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), #"{"name":"a","url":"/v1/x"}"#)
        let raw = HTTPResponse.json(Data("[1]".utf8))
        XCTAssertEqual(raw.body, Array("[1]".utf8))
        XCTAssertEqual(raw.headers["content-type"], "application/json")
    }

    func testSendsBodyRules() {
        XCTAssertFalse(HTTPResponse.text("x").sendsBody(forMethod: "HEAD"))
        XCTAssertTrue(HTTPResponse.text("x").sendsBody(forMethod: "GET"))
        XCTAssertFalse(HTTPResponse(status: 304).sendsBody(forMethod: "GET"))
    }

    func testRequestInitializerDerivesPathAndQuery() {
        let request = HTTPRequest(method: "POST", target: "/v1/detect?model=faster%2Drcnn&x&y=1&y=2")
        XCTAssertEqual(request.path, "/v1/detect")
        XCTAssertEqual(request.queryValue("model"), "faster-rcnn")
        XCTAssertEqual(request.queryValue("x"), "")
        XCTAssertEqual(request.queryValues("y"), ["1", "2"])
        XCTAssertEqual(HTTPRequest(target: "/bad%zz?q").path, "/bad%zz", "undecodable targets keep the raw path")
        XCTAssertEqual(HTTPRequest(target: "/", requestID: "given").requestID, "given")
    }

    func testRequestIDSanitizing() {
        XCTAssertEqual(RequestID.sanitized("abc"), "abc")
        XCTAssertNil(RequestID.sanitized(""))
        XCTAssertNil(RequestID.sanitized("a b"))
        XCTAssertNil(RequestID.sanitized("é"))
        XCTAssertNil(RequestID.sanitized(String(repeating: "x", count: 129)))
        XCTAssertEqual(RequestID.sanitized(String(repeating: "x", count: 128)), String(repeating: "x", count: 128))
        let generated = RequestID.generate()
        XCTAssertEqual(generated.count, 32)
        XCTAssertNotEqual(generated, RequestID.generate())
    }
}
