import Foundation
import HTTP
@testable import Service
import XCTest

/// Body and option parsing, without sockets or models.
final class DetectRequestTests: XCTestCase {
    func request(_ contentType: String?, _ body: [UInt8], query: [(String, String)] = []) -> HTTPRequest {
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        var target = "/v1/detect"
        if !query.isEmpty {
            target += "?" + query.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)" }.joined(separator: "&")
        }
        return HTTPRequest(method: "POST", target: target, headers: headers, body: body, remoteAddress: "127.0.0.1", requestID: "t")
    }

    let jpegBytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]

    func testRawImageBodyWithQueryOptions() throws {
        let r = try DetectRequest.parse(request("image/jpeg", jpegBytes, query: [("score_threshold", "0.25"), ("max_detections", "7"), ("masks", "polygon"), ("classes", "circle, star")]))
        XCTAssertEqual(r.image, jpegBytes)
        XCTAssertEqual(r.scoreThreshold, 0.25)
        XCTAssertEqual(r.maxDetections, 7)
        XCTAssertEqual(r.masks, .polygon)
        XCTAssertEqual(r.classes, ["circle", "star"])
    }

    func testJSONBodyWithBase64AndOptions() throws {
        let body = try JSONSerialization.data(withJSONObject: ["image": Data(jpegBytes).base64EncodedString(), "score_threshold": 0.5, "classes": ["ring"], "format": "png"])
        let r = try DetectRequest.parse(request("application/json; charset=utf-8", [UInt8](body)))
        XCTAssertEqual(r.image, jpegBytes)
        XCTAssertEqual(r.scoreThreshold, 0.5)
        XCTAssertEqual(r.classes, ["ring"])
        XCTAssertEqual(r.format, .png)
    }

    func testMultipartWithImagePartAndFields() throws {
        let boundary = "XyZ123"
        var body = [UInt8]()
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"score_threshold\"\r\n\r\n0.75\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".utf8)
        body += jpegBytes + [13, 10]   // image bytes may contain CR LF; the part ends only at CRLF--boundary
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        let r = try DetectRequest.parse(request("multipart/form-data; boundary=\"\(boundary)\"", body))
        XCTAssertEqual(r.image, jpegBytes + [13, 10])
        XCTAssertEqual(r.scoreThreshold, 0.75)
    }

    func testErrorsCarryStatusAndCode() {
        func status(_ req: HTTPRequest) -> (Int, String)? {
            do { _ = try DetectRequest.parse(req); return nil } catch let e as APIError { return (e.status, e.code) } catch { return (-1, "\(error)") }
        }
        XCTAssertEqual(status(request(nil, jpegBytes))?.0, 415)
        XCTAssertEqual(status(request("text/plain", jpegBytes))?.0, 415)
        XCTAssertEqual(status(request("image/png", []))?.1, "missing_image")
        XCTAssertEqual(status(request("application/json", Array("{".utf8)))?.1, "invalid_json")
        XCTAssertEqual(status(request("application/json", Array(#"{"image": "!!!"}"#.utf8)))?.1, "invalid_base64")
        XCTAssertEqual(status(request("application/json", Array(#"{"score": 1}"#.utf8)))?.1, "missing_image")
        XCTAssertEqual(status(request("multipart/form-data", jpegBytes))?.1, "invalid_multipart")
        XCTAssertEqual(status(request("multipart/form-data; boundary=b", Array("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1".utf8)))?.1, "invalid_multipart")
        XCTAssertEqual(status(request("image/jpeg", jpegBytes, query: [("score_threshold", "2")]))?.0, 422)
        XCTAssertEqual(status(request("image/jpeg", jpegBytes, query: [("score_threshold", "nan")]))?.0, 422)
        XCTAssertEqual(status(request("image/jpeg", jpegBytes, query: [("max_detections", "0")]))?.0, 422)
        XCTAssertEqual(status(request("image/jpeg", jpegBytes, query: [("max_detections", "2.5")]))?.0, 422)
        XCTAssertEqual(status(request("image/jpeg", jpegBytes, query: [("masks", "bitmap")]))?.0, 422)
        XCTAssertEqual(status(request("image/jpeg", jpegBytes, query: [("colour", "red")]))?.1, "invalid_parameter")
    }
}
