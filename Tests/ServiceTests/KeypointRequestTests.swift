import Detection
import Foundation
import HTTP
import Imaging
@testable import Service
import XCTest

/// Keypoints through the API on the embedded default model (which has a keypoint head): the
/// answer's keypoints are the engine's, `/v1/models` names them, v2 returns them as a tensor, the
/// annotated image is the Annotator's drawing with the request's threshold, and a bad threshold is
/// refused.
final class KeypointRequestTests: XCTestCase {
    var service: DetectionService!
    var model: DetectionModel!

    override func setUpWithError() throws {
        service = try ServiceFixture.service()
        service.registry.warmUp(runs: 0)
        model = try XCTUnwrap(service.registry.models.first)
        XCTAssertTrue(model.hasKeypoints, "the default model has a keypoint head")
    }

    func post(_ query: String) throws -> HTTPResponse {
        service.handle(ServiceFixture.request("POST", "/v1/detect?\(query)", contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
    }

    func engine(threshold: Float) throws -> Detections {
        let image = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        return model.detect(image, options: .init(scoreThreshold: threshold, maxDetections: 100)).detections
    }

    func testAnswerCarriesTheEnginesKeypoints() throws {
        let r = try post("score_threshold=0.3&max_detections=100&masks=none")
        XCTAssertEqual(r.status, 200)
        let items = try XCTUnwrap(ServiceFixture.json(r)?["detections"] as? [[String: Any]])
        let det = try engine(threshold: 0.3)
        XCTAssertGreaterThan(det.count, 2)
        XCTAssertEqual(items.count, det.count)
        let k = try XCTUnwrap(model.config.keypointPredictor?.numKeypoints)
        for (item, points) in zip(items, try XCTUnwrap(det.keypoints)) {
            let served = try XCTUnwrap(item["keypoints"] as? [[Double]])
            XCTAssertEqual(served.count, k)
            XCTAssertEqual(served.map { $0.map { Float($0) } }, points.map { [$0.x, $0.y, $0.score] })
        }
    }

    func testModelsListKeypointNamesAndSkeleton() throws {
        let r = service.handle(ServiceFixture.request("GET", "/v1/models/\(model.name)"))
        XCTAssertEqual(r.status, 200)
        let doc = try XCTUnwrap(ServiceFixture.json(r))
        XCTAssertEqual(doc["keypoints"] as? [String], model.config.keypointNames)
        XCTAssertEqual(doc["skeleton"] as? [[Int]], model.config.keypointSkeleton)
        XCTAssertFalse((doc["skeleton"] as? [[Int]] ?? []).isEmpty)
    }

    func testV2ReturnsAKeypointTensor() throws {
        let body: [String: Any] = [
            "inputs": [["name": "image", "datatype": "BYTES", "shape": [1], "data": [try Data(contentsOf: ServiceFixture.sample).base64EncodedString()]]],
            "outputs": [["name": "keypoints"], ["name": "scores"]],
            "parameters": ["score_threshold": 0.3, "max_detections": 100],
        ]
        let r = service.handle(ServiceFixture.request("POST", "/v2/models/\(model.name)/infer", contentType: "application/json",
                                                      body: [UInt8](try JSONSerialization.data(withJSONObject: body))))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let outputs = try XCTUnwrap(ServiceFixture.json(r)?["outputs"] as? [[String: Any]])
        let kp = try XCTUnwrap(outputs.first { $0["name"] as? String == "keypoints" })
        let det = try engine(threshold: 0.3)
        XCTAssertEqual(kp["shape"] as? [Int], [det.count, model.config.keypointPredictor!.numKeypoints, 3])
        XCTAssertEqual((kp["data"] as? [Double])?.map { Float($0) }, det.keypoints?.flatMap { $0.flatMap { [$0.x, $0.y, $0.score] } })
        let meta = try XCTUnwrap(ServiceFixture.json(service.handle(ServiceFixture.request("GET", "/v2/models/\(model.name)"))))
        XCTAssertTrue((meta["outputs"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == "keypoints" })
    }

    func testAnnotatedImageDrawsPosesAboveTheThreshold() throws {
        let image = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        let det = try engine(threshold: 0.3)
        for threshold: Float in [0, 3] {
            let r = try post("score_threshold=0.3&max_detections=100&format=png&keypoint_threshold=\(threshold)")
            XCTAssertEqual(r.status, 200)
            let served = try ImageDecoder.decode(r.body)
            let expected = Annotator.draw(image, det, classes: model.classes, skeleton: model.config.keypointSkeleton ?? [],
                                          keypointThreshold: threshold)
            XCTAssertEqual(served.pixels, expected.pixels, "keypoint_threshold \(threshold)")
        }
        let low = try ImageDecoder.decode(try post("score_threshold=0.3&max_detections=100&format=png&keypoint_threshold=-1000").body)
        let high = try ImageDecoder.decode(try post("score_threshold=0.3&max_detections=100&format=png&keypoint_threshold=1000").body)
        XCTAssertNotEqual(low.pixels, high.pixels, "the threshold changes what is drawn")
    }

    func testKeypointsFalseLeavesThemOutAndSkipsTheHead() throws {
        let with = try post("score_threshold=0.3&max_detections=100&masks=none")
        let without = try post("score_threshold=0.3&max_detections=100&masks=none&keypoints=false")
        XCTAssertEqual(without.status, 200)
        let a = try XCTUnwrap(ServiceFixture.json(with)), b = try XCTUnwrap(ServiceFixture.json(without))
        let itemsA = try XCTUnwrap(a["detections"] as? [[String: Any]]), itemsB = try XCTUnwrap(b["detections"] as? [[String: Any]])
        XCTAssertGreaterThan(itemsA.count, 2)
        XCTAssertEqual(itemsB.count, itemsA.count)
        XCTAssertTrue(itemsA.allSatisfy { $0["keypoints"] != nil })
        XCTAssertTrue(itemsB.allSatisfy { $0["keypoints"] == nil }, "keypoints=false: no keypoints in the answer")
        XCTAssertEqual(itemsB.map { $0["box"] as? [Double] }, itemsA.map { $0["box"] as? [Double] })
        XCTAssertEqual(itemsB.map { $0["score"] as? Double }, itemsA.map { $0["score"] as? Double })
        XCTAssertNotNil((a["timings_ms"] as? [String: Any])?["keypoint_head"])
        XCTAssertNil((b["timings_ms"] as? [String: Any])?["keypoint_head"], "keypoints=false: the head did not run")
        XCTAssertEqual(try post("keypoints=true").status, 200)
        for bad in ["1", "0", "yes", "TRUE", ""] {
            XCTAssertEqual(try post("keypoints=\(bad)").status, 422, "keypoints=\(bad)")
        }
    }

    func testV2RunsTheHeadOnlyForAKeypointsOutput() throws {
        func infer(outputs: [String], parameters: [String: Any] = [:]) throws -> HTTPResponse {
            var body: [String: Any] = [
                "inputs": [["name": "image", "datatype": "BYTES", "shape": [1], "data": [try Data(contentsOf: ServiceFixture.sample).base64EncodedString()]]],
                "parameters": parameters.merging(["score_threshold": 0.3]) { a, _ in a },
            ]
            if !outputs.isEmpty { body["outputs"] = outputs.map { ["name": $0] } }
            return service.handle(ServiceFixture.request("POST", "/v2/models/\(model.name)/infer", contentType: "application/json",
                                                         body: [UInt8](try JSONSerialization.data(withJSONObject: body))))
        }
        // v2 answers carry no timings: the stage histogram counts the keypoint head's runs.
        func headRuns() -> UInt64 { service.metrics.stageDuration.count([model.name, "mask", "keypoint_head"]) }
        var runs = headRuns()
        let all = try infer(outputs: [])
        XCTAssertEqual(all.status, 200)
        let names = (ServiceFixture.json(all)?["outputs"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        XCTAssertEqual(names?.contains("keypoints"), true, "outputs left out: every output, keypoints included")
        XCTAssertEqual(headRuns(), runs + 1, "outputs left out: the keypoint head ran")
        runs = headRuns()
        XCTAssertEqual(try infer(outputs: ["boxes", "scores"]).status, 200)
        XCTAssertEqual(headRuns(), runs, "no keypoints output: the keypoint head did not run")
        XCTAssertEqual(try infer(outputs: ["boxes", "keypoints"]).status, 200)
        XCTAssertEqual(headRuns(), runs + 1, "a keypoints output: the keypoint head ran")
        // keypoints=false takes the output away: asking for it too is an error, not an empty tensor.
        let refused = try infer(outputs: ["keypoints"], parameters: ["keypoints": false])
        XCTAssertEqual(refused.status, 400, String(decoding: refused.body, as: UTF8.self))
        // v2 answers every bad request 400 (with the same message as /v1's 422).
        let number = try infer(outputs: ["boxes"], parameters: ["keypoints": 1])
        XCTAssertEqual(number.status, 400, "a number is not a boolean")
        XCTAssertTrue(String(decoding: number.body, as: UTF8.self).contains("keypoints must be true or false"))
        let noKeypoints = try infer(outputs: [], parameters: ["keypoints": false])
        XCTAssertEqual((ServiceFixture.json(noKeypoints)?["outputs"] as? [[String: Any]])?.contains { $0["name"] as? String == "keypoints" }, false)
    }

    func testBadKeypointThresholdIsRefused() throws {
        for bad in ["abc", "nan", "1e400", "-2e6"] {
            let status = try post("keypoint_threshold=\(bad)").status
            XCTAssertTrue(status == 400 || status == 422, "keypoint_threshold=\(bad): \(status)")
        }
    }
}
