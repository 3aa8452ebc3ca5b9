import Foundation
import HTTP
@testable import Service
import XCTest

/// Client-supplied numbers, shapes, lengths and names that once could trap the process: each is a
/// precise 400/422 naming the field, and the service answers normally afterwards.
final class ClientValueTests: XCTestCase {
    var service: DetectionService!
    let inferPath = "/v2/models/shapes_mask_rcnn/infer"

    override func setUpWithError() throws {
        service = try ServiceFixture.service()
    }

    /// A v2 request whose JSON header is followed by `tail` (the binary tensor data extension).
    func binaryInfer(_ header: [String: Any], tail: [UInt8]) throws -> HTTPResponse {
        let json = [UInt8](try JSONSerialization.data(withJSONObject: header))
        return service.handle(ServiceFixture.request("POST", inferPath, contentType: "application/octet-stream", body: json + tail,
                                                     headers: [("Inference-Header-Content-Length", String(json.count))]))
    }

    func rawInfer(_ json: String, tail: [UInt8] = []) -> HTTPResponse {
        let header = [UInt8](json.utf8)
        return service.handle(ServiceFixture.request("POST", inferPath, contentType: "application/octet-stream", body: header + tail,
                                                     headers: [("Inference-Header-Content-Length", String(header.count))]))
    }

    func message(_ r: HTTPResponse) -> String {
        let json = ServiceFixture.json(r)
        return (json?["error"] as? String) ?? ((json?["error"] as? [String: Any])?["message"] as? String) ?? ""
    }

    /// The two requests that killed the process: `binary_data_size` 1e300 and a shape whose
    /// element count overflows. Both are 400s; a detection still works after them.
    func testTheRequestsThatCrashedTheServerAre400s() throws {
        let huge = rawInfer(#"{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":1e300}}]}"#,
                            tail: [UInt8](repeating: 7, count: 8))
        XCTAssertEqual(huge.status, 400)
        XCTAssertTrue(message(huge).contains("binary_data_size"), message(huge))
        let overflow = rawInfer(#"{"inputs":[{"name":"image","datatype":"BYTES","shape":[4611686018427387904,4],"data":["AAAA"]}]}"#)
        XCTAssertEqual(overflow.status, 400)
        XCTAssertTrue(message(overflow).contains("shape [1]"), message(overflow))
        let ok = service.handle(ServiceFixture.request("POST", "/v1/detect?score_threshold=0.5", contentType: "image/jpeg",
                                                       body: try ServiceFixture.sampleBytes()))
        XCTAssertEqual(ok.status, 200)
    }

    func testBinaryDataSizeAndElementLengthAreChecked() throws {
        let image = try ServiceFixture.sampleBytes()
        let n = UInt32(image.count)
        let element = [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)] + image
        func input(_ size: Any) -> [String: Any] {
            ["inputs": [["name": "image", "datatype": "BYTES", "shape": [1], "parameters": ["binary_data_size": size]]]]
        }
        XCTAssertEqual(try binaryInfer(input(element.count), tail: element).status, 200)
        for bad: Any in [-1, 1e300, -1e300, 9.5, Double(element.count) + 0.5, "12", String(element.count), true, [1], 4611686018427387904, element.count - 1, element.count + 1] {
            let r = try binaryInfer(input(bad), tail: element)
            XCTAssertEqual(r.status, 400, "binary_data_size \(bad)")
            XCTAssertTrue(message(r).contains("binary_data_size"), "\(bad): \(message(r))")
        }
        // The element's own length prefix must match what follows it.
        var lying = element
        lying[0] ^= 1
        XCTAssertEqual(try binaryInfer(input(lying.count), tail: lying).status, 400)
        // Too short for a length prefix; an empty element.
        XCTAssertTrue(message(try binaryInfer(input(3), tail: [1, 2, 3])).contains("too small"))
        let empty = try binaryInfer(input(4), tail: [0, 0, 0, 0])
        XCTAssertEqual(empty.status, 400)
        XCTAssertEqual(message(empty), "the BYTES element is empty: no image")
        // Binary bytes nobody declared.
        XCTAssertTrue(message(try binaryInfer(["inputs": [["name": "image", "datatype": "BYTES", "shape": [1], "data": ["AAAA"]]]], tail: [1, 2])).contains("no binary_data_size"))
    }

    /// Each output may be named once (a list repeating `masks` would re-encode it per mention).
    func testRepeatedOutputsAreRefused() throws {
        let b64 = Data(try ServiceFixture.sampleBytes()).base64EncodedString()
        let doc: [String: Any] = ["inputs": [["name": "image", "datatype": "BYTES", "shape": [1], "data": [b64]]],
                                  "outputs": [["name": "masks"], ["name": "boxes"], ["name": "masks"]]]
        let r = service.handle(ServiceFixture.request("POST", inferPath, contentType: "application/json",
                                                      body: [UInt8](try JSONSerialization.data(withJSONObject: doc))))
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(message(r), "\"outputs\" names an output more than once")
    }

    func testInferenceHeaderLengthIsChecked() {
        for bad in ["-1", "1e3", "99999999999999999999999", "12abc", "", " ", "100000"] {
            let body = [UInt8](#"{"inputs":[]}"#.utf8)
            let r = service.handle(ServiceFixture.request("POST", inferPath, contentType: "application/octet-stream", body: body,
                                                          headers: [("Inference-Header-Content-Length", bad)]))
            XCTAssertEqual(r.status, 400, "Inference-Header-Content-Length '\(bad)'")
            XCTAssertTrue(message(r).contains("Inference-Header-Content-Length"), message(r))
        }
    }

    /// One image per request means shape exactly [1]; no shape is multiplied out.
    func testShapesOtherThanOneAreRefused() throws {
        let b64 = Data(try ServiceFixture.sampleBytes()).base64EncodedString()
        for shape: Any in [[], [1, 1], [2], [0], [-1], [Int.max, 2], [1.5], ["1"], [true], "1", 1, NSNull()] {
            let doc: [String: Any] = ["inputs": [["name": "image", "datatype": "BYTES", "shape": shape, "data": [b64]]]]
            let r = service.handle(ServiceFixture.request("POST", inferPath, contentType: "application/json",
                                                          body: [UInt8](try JSONSerialization.data(withJSONObject: doc))))
            XCTAssertEqual(r.status, 400, "shape \(shape)")
            XCTAssertEqual(message(r), "input 'image' must have shape [1] (one image per request)")
        }
    }

    /// v1 options with values that would trap an unchecked conversion: 422 naming the option.
    func testV1NumbersAreRangeCheckedBeforeConversion() throws {
        let image = Data(try ServiceFixture.sampleBytes()).base64EncodedString()
        let cases: [(String, Any)] = [
            ("max_detections", 1e300), ("max_detections", -1e300), ("max_detections", 9223372036854775807),
            ("max_detections", 0), ("max_detections", 2.5), ("max_detections", true), ("max_detections", "1e309"),
            ("score_threshold", 1e300), ("score_threshold", -0.5), ("score_threshold", false), ("score_threshold", "nan"),
            ("proposals", [[0, 0, 1e300, 10]]), ("proposals", [[0, 0, 10, 10], [0, 0, "x", 10]]), ("proposals", [[5, 5, 1, 1]]),
            ("proposals", [[0, 0, 10]]), ("proposals", "[[0,0,1e999,1]]"),
            ("pipeline", "yolo"), ("pipeline", "default"), ("pipeline", 3),
            ("classes", [1, 2]), ("masks", "bitmap"), ("format", "gif"),
        ]
        for (field, value) in cases {
            let doc: [String: Any] = ["image": image, field: value]
            let r = service.handle(ServiceFixture.request("POST", "/v1/detect", contentType: "application/json",
                                                          body: [UInt8](try JSONSerialization.data(withJSONObject: doc))))
            XCTAssertEqual(r.status, 422, "\(field)=\(value)")
            XCTAssertTrue(message(r).hasPrefix(field.components(separatedBy: "[")[0]), "\(field)=\(value): \(message(r))")
        }
        // The same through the query string and multipart fields.
        for q in ["max_detections=1e300", "max_detections=-9223372036854775809", "score_threshold=inf", "proposals=%5B%5B0,0,1e39,1%5D%5D"] {
            let r = service.handle(ServiceFixture.request("POST", "/v1/detect?\(q)", contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
            XCTAssertEqual(r.status, 422, q)
        }
    }

    /// An unknown pipeline is an error everywhere, never a silent fallback to the default.
    func testUnknownPipelineIsAnError() throws {
        let r = service.handle(ServiceFixture.request("POST", "/v1/detect?pipeline=Mask", contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
        XCTAssertEqual(r.status, 422)
        XCTAssertEqual(message(r), "pipeline must be one of fast, faster, mask, rcnn")
    }

    /// A class filter applies before `max_detections`: asking for one detection of a class gets
    /// the best detection of that class, even when other classes score higher.
    func testClassFilterAppliesBeforeTheDetectionLimit() throws {
        func detections(_ query: String) throws -> [[String: Any]] {
            let r = service.handle(ServiceFixture.request("POST", "/v1/detect?masks=none&\(query)", contentType: "image/jpeg",
                                                          body: try ServiceFixture.sampleBytes()))
            XCTAssertEqual(r.status, 200)
            return try XCTUnwrap(ServiceFixture.json(r)?["detections"] as? [[String: Any]])
        }
        let all = try detections("score_threshold=0.05&max_detections=100")
        let labels = all.compactMap { $0["label"] as? String }
        // A class other than the top detection's: a limit of 1 without the filter would cut it.
        let other = try XCTUnwrap(labels.first { $0 != labels.first }, "the sample needs detections of two classes")
        let best = try XCTUnwrap(all.first { $0["label"] as? String == other })
        let last = other
        let filtered = try detections("score_threshold=0.05&max_detections=1&classes=\(last)")
        XCTAssertEqual(filtered.count, 1)
        XCTAssertEqual(filtered.first?["label"] as? String, last)
        XCTAssertEqual(filtered.first?["score"] as? Double, best["score"] as? Double)
        XCTAssertEqual(filtered.first?["box"] as? [Double], best["box"] as? [Double])
    }

    func testBase64IsStrictButAcceptsTheURLSafeAlphabet() throws {
        let bytes = try ServiceFixture.sampleBytes()
        let standard = Data(bytes).base64EncodedString()
        let urlSafe = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        XCTAssertNotEqual(standard, urlSafe, "the sample's base64 uses + or /")
        var wrapped = ""
        for (i, c) in standard.enumerated() { if i > 0 && i % 76 == 0 { wrapped += "\r\n" }; wrapped.append(c) }
        for (encoded, status) in [(standard, 200), (urlSafe, 200), ("data:image/jpeg;base64," + standard, 200), (wrapped, 200),
                                  (String(standard.dropLast(1)) + "*", 400), ("data:image/jpeg;base64", 400)] {
            let doc: [String: Any] = ["image": encoded, "score_threshold": 0.9, "masks": "none"]
            let r = service.handle(ServiceFixture.request("POST", "/v1/detect", contentType: "application/json",
                                                          body: [UInt8](try JSONSerialization.data(withJSONObject: doc))))
            XCTAssertEqual(r.status, status, String(encoded.prefix(30)))
        }
    }
}
