import Foundation
import HTTP
@testable import Service
import TestSupport
import XCTest

/// The open inference protocol v2 routes: through `handle`, and over a socket with Triton's own
/// Python client (`tritonclient.http`). Detection values are never hard-coded: every check compares
/// the v2 answer with the native `/v1` answer for the same image and options.
final class OpenInferenceTests: XCTestCase {
    var service: DetectionService!

    override func setUpWithError() throws {
        service = try ServiceFixture.service()
        service.registry.warmUp(runs: 0)
    }

    func get(_ path: String) -> HTTPResponse { service.handle(ServiceFixture.request("GET", path)) }

    func infer(_ body: [String: Any], path: String = "/v2/models/shapes_mask_rcnn/infer") throws -> HTTPResponse {
        service.handle(ServiceFixture.request("POST", path, contentType: "application/json", body: [UInt8](try JSONSerialization.data(withJSONObject: body))))
    }

    func imageInput() throws -> [String: Any] {
        ["name": "image", "datatype": "BYTES", "shape": [1], "data": [try Data(contentsOf: ServiceFixture.sample).base64EncodedString()]]
    }

    /// The native answer for the sample at `threshold`, `max` detections.
    func native(_ threshold: Double, _ max: Int, pipeline: String = "mask") throws -> [[String: Any]] {
        let r = service.handle(ServiceFixture.request("POST", "/v1/detect?score_threshold=\(threshold)&max_detections=\(max)&pipeline=\(pipeline)",
                                                      contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
        XCTAssertEqual(r.status, 200)
        return try XCTUnwrap(ServiceFixture.json(r)?["detections"] as? [[String: Any]])
    }

    func testHealthAndMetadata() throws {
        let meta = try XCTUnwrap(ServiceFixture.json(get("/v2")))
        XCTAssertEqual(meta["name"] as? String, "rcnn")
        XCTAssertEqual(meta["version"] as? String, "1.0.0")
        XCTAssertEqual(meta["extensions"] as? [String], [], "no protocol extensions are implemented")
        XCTAssertEqual(get("/v2/health/live").status, 200)
        XCTAssertEqual(get("/v2/health/ready").status, 200)
        XCTAssertEqual(get("/v2/models/shapes_mask_rcnn/ready").status, 200)
        XCTAssertEqual(get("/v2/models/shapes_mask_rcnn/versions/1/ready").status, 200)
        let model = try XCTUnwrap(ServiceFixture.json(get("/v2/models/shapes_mask_rcnn")))
        XCTAssertEqual(model["name"] as? String, "shapes_mask_rcnn")
        XCTAssertEqual(model["platform"] as? String, "rcnn_maskrcnn_mobilenet_v3_large_fpn_shapes", "rcnn_ + the config's architecture")
        let inputs = try XCTUnwrap(model["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.count, 1)
        XCTAssertEqual(inputs[0]["name"] as? String, "image")
        XCTAssertEqual(inputs[0]["datatype"] as? String, "BYTES")
        XCTAssertEqual(inputs[0]["shape"] as? [Int], [1])
        let outputs = try XCTUnwrap(model["outputs"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: outputs.map { ($0["name"] as! String, $0) })
        XCTAssertEqual(byName["boxes"]?["datatype"] as? String, "FP32")
        XCTAssertEqual(byName["boxes"]?["shape"] as? [Int], [-1, 4])
        XCTAssertEqual(byName["scores"]?["shape"] as? [Int], [-1])
        XCTAssertEqual(byName["labels"]?["datatype"] as? String, "INT64")
        XCTAssertEqual(byName["masks"]?["datatype"] as? String, "BYTES")
        XCTAssertEqual(ServiceFixture.json(get("/v2/models/shapes_mask_rcnn/versions/1"))?["name"] as? String, "shapes_mask_rcnn")
    }

    func testInferMatchesTheNativeAPI() throws {
        let r = try infer(["id": "req-7", "inputs": [try imageInput()], "parameters": ["score_threshold": 0.0, "max_detections": 12, "binary_data_output": true]])
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let doc = try XCTUnwrap(ServiceFixture.json(r))
        XCTAssertEqual(doc["model_name"] as? String, "shapes_mask_rcnn")
        XCTAssertEqual(doc["id"] as? String, "req-7")
        let outs = Dictionary(uniqueKeysWithValues: try XCTUnwrap(doc["outputs"] as? [[String: Any]]).map { ($0["name"] as! String, $0) })
        let expected = try native(0, 12)
        let n = expected.count
        XCTAssertGreaterThan(n, 0)
        XCTAssertEqual(outs["boxes"]?["shape"] as? [Int], [n, 4])
        XCTAssertEqual(outs["boxes"]?["datatype"] as? String, "FP32")
        XCTAssertEqual(outs["boxes"]?["data"] as? [Double], expected.flatMap { $0["box"] as! [Double] })
        XCTAssertEqual(outs["scores"]?["shape"] as? [Int], [n])
        XCTAssertEqual(outs["scores"]?["data"] as? [Double], expected.map { $0["score"] as! Double })
        XCTAssertEqual(outs["labels"]?["datatype"] as? String, "INT64")
        XCTAssertEqual(outs["labels"]?["data"] as? [Int], expected.map { $0["class_id"] as! Int })
        XCTAssertEqual(outs["class_names"]?["data"] as? [String], expected.map { $0["label"] as! String })
        let masks = try XCTUnwrap(outs["masks"]?["data"] as? [String])
        XCTAssertEqual(masks.count, n)
        for (m, e) in zip(masks, expected) {
            let rle = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(m.utf8)) as? [String: Any])
            let want = e["mask"] as! [String: Any]
            XCTAssertEqual(rle["size"] as? [Int], want["size"] as? [Int])
            XCTAssertEqual(rle["counts"] as? String, want["counts"] as? String)
        }
        // Without an "id", the HTTP request id is echoed; requested outputs narrow the answer;
        // the faster pipeline has no masks.
        let narrowBody = try JSONSerialization.data(withJSONObject: [
            "inputs": [try imageInput()], "outputs": [["name": "scores"]],
            "parameters": ["pipeline": "faster", "score_threshold": 0.0, "max_detections": 5]] as [String: Any])
        let narrow = try XCTUnwrap(ServiceFixture.json(service.handle(ServiceFixture.request(
            "POST", "/v2/models/shapes_mask_rcnn/infer", contentType: "application/json", body: [UInt8](narrowBody),
            headers: [("X-Request-Id", "oi-narrow-7")]))))
        XCTAssertEqual(narrow["id"] as? String, "oi-narrow-7")
        let only = try XCTUnwrap(narrow["outputs"] as? [[String: Any]])
        XCTAssertEqual(only.map { $0["name"] as! String }, ["scores"])
        XCTAssertEqual(only[0]["data"] as? [Double], try native(0, 5, pipeline: "faster").map { $0["score"] as! Double })
    }

    func testBinaryTensorDataInput() throws {
        let image = try ServiceFixture.sampleBytes()
        let header = try JSONSerialization.data(withJSONObject: [
            "inputs": [["name": "image", "datatype": "BYTES", "shape": [1], "parameters": ["binary_data_size": image.count + 4]]],
            "parameters": ["score_threshold": 0.0, "max_detections": 4],
        ])
        let n = UInt32(image.count)
        let body = [UInt8](header) + [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)] + image
        let r = service.handle(ServiceFixture.request("POST", "/v2/models/shapes_mask_rcnn/versions/1/infer", contentType: "application/octet-stream",
                                                      body: body, headers: [("Inference-Header-Content-Length", String(header.count))]))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let outs = try XCTUnwrap(ServiceFixture.json(r)?["outputs"] as? [[String: Any]])
        XCTAssertEqual(outs.first { $0["name"] as? String == "scores" }?["data"] as? [Double], try native(0, 4).map { $0["score"] as! Double })
    }

    func testErrorsUseTheProtocolFormat() throws {
        func check(_ r: HTTPResponse, _ status: Int, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(r.status, status, String(decoding: r.body, as: UTF8.self), file: file, line: line)
            let error = ServiceFixture.json(r)?["error"]
            XCTAssertTrue(error is String, "expected {\"error\": \"message\"}, got \(String(decoding: r.body, as: UTF8.self))", file: file, line: line)
        }
        check(get("/v2/models/nope"), 404)
        check(get("/v2/models/nope/ready"), 404)
        check(get("/v2/models/shapes_mask_rcnn/versions/7"), 404)
        check(get("/v2/models/shapes_mask_rcnn/infer"), 405)
        check(get("/v2/nothing/here"), 404)
        let image = try imageInput()
        check(try infer(["inputs": [image]], path: "/v2/models/nope/infer"), 404)
        check(try infer(["inputs": []]), 400)
        check(try infer(["inputs": [image.merging(["name": "img"]) { $1 }]]), 400)
        check(try infer(["inputs": [image.merging(["datatype": "FP32"]) { $1 }]]), 400)
        check(try infer(["inputs": [image.merging(["shape": [2]]) { $1 }]]), 400)
        check(try infer(["inputs": [image.merging(["data": ["!!!not base64!!!"]]) { $1 }]]), 400)
        check(try infer(["inputs": [image.merging(["data": [Data("not an image".utf8).base64EncodedString()]]) { $1 }]]), 400)
        check(try infer(["inputs": [image], "parameters": ["score_threshold": 3]]), 400)
        check(try infer(["inputs": [image], "parameters": ["pipeline": "yolo"]]), 400)
        check(try infer(["inputs": [image], "outputs": [["name": "logits"]]]), 400)
        check(service.handle(ServiceFixture.request("POST", "/v2/models/shapes_mask_rcnn/infer", contentType: "application/json", body: Array("{".utf8))), 400)
        // The native API keeps its own error shape.
        XCTAssertNotNil(ServiceFixture.json(get("/v1/models/nope"))?["error"] as? [String: Any])
    }

    /// The input edge cases users tripped over: one image is shape [1] exactly ([1, 1] and [] are
    /// refused), URL-safe base64 decodes to the same image as standard base64, and an empty `data`
    /// string or a zero-length binary element is "no image" (400), never a decoding error.
    func testInputShapesBase64AlphabetsAndEmptyImages() throws {
        let image = try imageInput()
        let message = { (r: HTTPResponse) in ServiceFixture.json(r)?["error"] as? String ?? "" }
        for shape in [[1, 1], [] as [Int], [0], [-1]] {
            let r = try infer(["inputs": [image.merging(["shape": shape]) { $1 }]])
            XCTAssertEqual(r.status, 400, "shape \(shape)")
            XCTAssertTrue(message(r).contains("shape [1]"), message(r))
        }
        let standard = try Data(contentsOf: ServiceFixture.sample).base64EncodedString()
        let urlSafe = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .trimmingCharacters(in: CharacterSet(charactersIn: "="))
        XCTAssertNotEqual(urlSafe, standard, "the sample's base64 must use + or / for this test to mean anything")
        let params: [String: Any] = ["score_threshold": 0.3]
        let a = try infer(["inputs": [image.merging(["data": [standard]]) { $1 }], "parameters": params])
        let b = try infer(["inputs": [image.merging(["data": [urlSafe]]) { $1 }], "parameters": params])
        XCTAssertEqual(a.status, 200)
        XCTAssertEqual(b.status, 200, message(b))
        XCTAssertEqual((ServiceFixture.json(a)?["outputs"] as? [[String: Any]])?.count, (ServiceFixture.json(b)?["outputs"] as? [[String: Any]])?.count)
        XCTAssertEqual(String(decoding: a.body, as: UTF8.self).replacingOccurrences(of: #""id":"[^"]*""#, with: "", options: .regularExpression),
                       String(decoding: b.body, as: UTF8.self).replacingOccurrences(of: #""id":"[^"]*""#, with: "", options: .regularExpression))

        let empty = try infer(["inputs": [image.merging(["data": [""]]) { $1 }]])
        XCTAssertEqual(empty.status, 400)
        XCTAssertTrue(message(empty).contains("empty"), message(empty))
        // A zero-length BYTES element in binary tensor data: the 4-byte length prefix says 0.
        let header = try JSONSerialization.data(withJSONObject: ["inputs": [["name": "image", "datatype": "BYTES", "shape": [1],
                                                                              "parameters": ["binary_data_size": 4]]]])
        let zero = service.handle(ServiceFixture.request("POST", "/v2/models/shapes_mask_rcnn/infer", contentType: "application/octet-stream",
                                                         body: [UInt8](header) + [0, 0, 0, 0],
                                                         headers: [("Inference-Header-Content-Length", "\(header.count)")]))
        XCTAssertEqual(zero.status, 400)
        XCTAssertTrue(message(zero).contains("empty: no image"), message(zero))
    }

    /// Triton's Python HTTP client: health, metadata and infer (JSON and binary tensor data).
    func testTritonClient() throws {
        let python = LiveServer.python
        try Prerequisite.require(try TestProcess.run(python, ["-c", "import tritonclient.http, numpy"]).status == 0,
                                 "tritonclient[http] and numpy for \(python)",
                                 provides: ".ci/run runs Tools/setup_python.sh (via Tools/test.sh), which installs them into .venv")
        let live = try LiveServer(try LiveServer.service { _ in })
        defer { live.stop() }
        let script = """
        import base64, json, sys
        import numpy as np
        import tritonclient.http as httpclient
        c = httpclient.InferenceServerClient(url="127.0.0.1:\(live.port)", network_timeout=120.0)
        out = {"live": c.is_server_live(), "ready": c.is_server_ready(), "model_ready": c.is_model_ready("shapes_mask_rcnn"),
               "server": c.get_server_metadata(), "model": c.get_model_metadata("shapes_mask_rcnn")}
        raw = open(sys.argv[1], "rb").read()
        params = {"score_threshold": 0.0, "max_detections": 6}
        for mode in ("json", "binary"):
            inp = httpclient.InferInput("image", [1], "BYTES")
            if mode == "json":
                inp.set_data_from_numpy(np.array([base64.b64encode(raw)], dtype=np.object_), binary_data=False)
            else:
                inp.set_data_from_numpy(np.array([raw], dtype=np.object_), binary_data=True)
            res = c.infer("shapes_mask_rcnn", [inp], request_id="tc-" + mode, parameters=params)
            boxes, scores, labels, masks = (res.as_numpy(n) for n in ("boxes", "scores", "labels", "masks"))
            out[mode] = {"id": res.get_response()["id"], "boxes_shape": list(boxes.shape), "boxes_dtype": str(boxes.dtype),
                         "scores": [float(s) for s in scores], "labels_dtype": str(labels.dtype),
                         "mask0": json.loads(masks[0]) if len(masks) else None}
        try:
            c.get_model_metadata("nope")
            out["missing"] = "no error"
        except Exception as e:
            out["missing"] = str(e)
        print(json.dumps(out))
        """
        let r = try TestProcess.run(python, ["-c", script, ServiceFixture.sample.path])
        XCTAssertEqual(r.status, 0, r.errors)
        let out = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any], r.output + r.errors)
        XCTAssertEqual(out["live"] as? Bool, true)
        XCTAssertEqual(out["ready"] as? Bool, true)
        XCTAssertEqual(out["model_ready"] as? Bool, true)
        XCTAssertEqual((out["server"] as? [String: Any])?["name"] as? String, "rcnn")
        XCTAssertEqual((out["model"] as? [String: Any])?["name"] as? String, "shapes_mask_rcnn")
        let expected = try native(0, 6)
        for mode in ["json", "binary"] {
            let m = try XCTUnwrap(out[mode] as? [String: Any], mode)
            XCTAssertEqual(m["id"] as? String, "tc-\(mode)")
            XCTAssertEqual(m["boxes_shape"] as? [Int], [expected.count, 4])
            XCTAssertEqual(m["boxes_dtype"] as? String, "float32")
            XCTAssertEqual(m["labels_dtype"] as? String, "int64")
            let scores = try XCTUnwrap(m["scores"] as? [Double])
            XCTAssertEqual(scores.count, expected.count)
            for (a, b) in zip(scores, expected.map { $0["score"] as! Double }) { XCTAssertEqual(a, b, accuracy: 1e-6) }
            let mask0 = try XCTUnwrap(m["mask0"] as? [String: Any])
            XCTAssertEqual(mask0["counts"] as? String, (expected[0]["mask"] as? [String: Any])?["counts"] as? String)
        }
        XCTAssertTrue((out["missing"] as? String)?.contains("no model named") == true, "\(out["missing"] ?? "")")
    }
}
