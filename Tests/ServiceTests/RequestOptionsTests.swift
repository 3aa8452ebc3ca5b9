import Detection
import Foundation
import HTTP
import Imaging
@testable import Service
import XCTest

/// The request options beyond the threshold and limit: per-class thresholds, the mask threshold,
/// mask probabilities, box formats and the preprocessing report, each against the engine run
/// directly or against the default answer it must transform.
final class RequestOptionsTests: XCTestCase {
    var service: DetectionService!
    var model: DetectionModel!

    override func setUpWithError() throws {
        service = try ServiceFixture.service()
        service.registry.warmUp(runs: 0)
        model = try XCTUnwrap(service.registry.models.first)
    }

    func detect(_ query: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = service.handle(ServiceFixture.request("POST", "/v1/detect?\(query)", contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self), file: file, line: line)
        return try XCTUnwrap(ServiceFixture.json(r), file: file, line: line)
    }

    func status(_ query: String) throws -> Int {
        service.handle(ServiceFixture.request("POST", "/v1/detect?\(query)", contentType: "image/jpeg", body: try ServiceFixture.sampleBytes())).status
    }

    func items(_ doc: [String: Any]) -> [[String: Any]] { doc["detections"] as? [[String: Any]] ?? [] }
    func key(_ d: [String: Any]) -> String { "\(d["label"] as? String ?? "") \(d["score"] as? Double ?? -1) \(d["box"] as? [Double] ?? [])" }

    func testClassThresholdsRaiseOneClassAndKeepTheRest() throws {
        let base = items(try detect("score_threshold=0.05&max_detections=1000&masks=none"))
        let labels = Set(base.compactMap { $0["label"] as? String })
        XCTAssertGreaterThanOrEqual(labels.count, 2, "the sample needs two classes")
        let raised = try XCTUnwrap(labels.sorted().first)
        let scores = base.filter { $0["label"] as? String == raised }.compactMap { $0["score"] as? Double }.sorted()
        let cut = scores[scores.count / 2]   // drops some of the class, keeps others
        let json = "{\"\(raised)\":\(cut)}".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let got = items(try detect("score_threshold=0.05&max_detections=1000&masks=none&class_thresholds=\(json)"))
        let expected = base.filter { $0["label"] as? String != raised || Float($0["score"] as? Double ?? 0) > Float(cut) }
        XCTAssertEqual(got.map(key), expected.map(key), "\(raised) above \(cut)")
        XCTAssertLessThan(got.count, base.count, "the threshold removed nothing")
        XCTAssertTrue(got.contains { $0["label"] as? String == raised }, "the threshold removed the whole class")

        let unknown = "{\"unicorn\":0.5}".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        XCTAssertEqual(try status("class_thresholds=\(unknown)"), 422)
        XCTAssertEqual(try status("class_thresholds=\("{\"\(raised)\":2}".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"), 422)
        XCTAssertEqual(try status("class_thresholds=0.5"), 422)
    }

    func testMaskThresholdReachesThePaste() throws {
        let image = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        var options = DetectionModel.Options(scoreThreshold: 0.3)
        options.maskThreshold = 0.8
        let engine = model.detect(image, options: options).detections
        let served = items(try detect("score_threshold=0.3&mask_threshold=0.8"))
        let defaults = items(try detect("score_threshold=0.3"))
        XCTAssertEqual(served.count, engine.count)
        XCTAssertGreaterThan(served.count, 0)
        let counts = { (d: [[String: Any]]) in d.map { ($0["mask"] as? [String: Any])?["counts"] as? String ?? "" } }
        XCTAssertEqual(counts(served), engine.masks?.map { $0.rle().compressedCounts })
        XCTAssertNotEqual(counts(served), counts(defaults), "0.8 gave the same masks as 0.5")
        for bad in ["0", "1", "1.5", "-0.1", "x"] { XCTAssertEqual(try status("mask_threshold=\(bad)"), 422, bad) }
    }

    func testMaskProbabilitiesPasteToTheRLEMasks() throws {
        let rle = items(try detect("score_threshold=0.3"))
        let probs = items(try detect("score_threshold=0.3&masks=probabilities"))
        XCTAssertEqual(probs.count, rle.count)
        XCTAssertGreaterThan(probs.count, 0)
        let image = try XCTUnwrap(try detect("score_threshold=0.3")["image"] as? [String: Any])
        let (w, h) = (try XCTUnwrap(image["width"] as? Int), try XCTUnwrap(image["height"] as? Int))
        for (p, r) in zip(probs, rle) {
            let mask = try XCTUnwrap(p["mask"] as? [String: Any])
            XCTAssertEqual(mask["resolution"] as? [Int], [28, 28])
            XCTAssertNil(mask["counts"])
            let box = try XCTUnwrap(mask["box"] as? [Double])
            XCTAssertEqual(box, p["box"] as? [Double], "the grid covers the detection's box")
            let values = try XCTUnwrap(mask["probabilities"] as? [Double]).map { Float($0) }
            XCTAssertEqual(values.count, 784)
            XCTAssertTrue(values.allSatisfy { (0...1).contains($0) })
            // Pasted as the server pastes them, they give the RLE mask the default answer has.
            let b = Box(Float(box[0]), Float(box[1]), Float(box[2]), Float(box[3]))
            let pasted = values.withUnsafeBufferPointer { MaskPaster.paste($0.baseAddress!, size: 28, box: b, imageH: h, imageW: w) }
            XCTAssertEqual(pasted.rle().compressedCounts, (r["mask"] as? [String: Any])?["counts"] as? String)
        }
    }

    func testBoxFormats() throws {
        let doc = try detect("score_threshold=0.3&masks=none")
        let image = try XCTUnwrap(doc["image"] as? [String: Any])
        let (w, h) = (Float(try XCTUnwrap(image["width"] as? Int)), Float(try XCTUnwrap(image["height"] as? Int)))
        let xyxy = items(doc).compactMap { ($0["box"] as? [Double])?.map { Float($0) } }
        XCTAssertGreaterThan(xyxy.count, 0)
        XCTAssertNil(doc["box_format"])
        let xywhDoc = try detect("score_threshold=0.3&masks=none&box_format=xywh")
        XCTAssertEqual(xywhDoc["box_format"] as? String, "xywh")
        let xywh = items(xywhDoc).compactMap { ($0["box"] as? [Double])?.map { Float($0) } }
        XCTAssertEqual(xywh, xyxy.map { [$0[0], $0[1], $0[2] - $0[0], $0[3] - $0[1]] })
        let normalized = items(try detect("score_threshold=0.3&masks=none&box_format=normalized")).compactMap { ($0["box"] as? [Double])?.map { Float($0) } }
        XCTAssertEqual(normalized, xyxy.map { [$0[0] / w, $0[1] / h, $0[2] / w, $0[3] / h] })
        XCTAssertTrue(normalized.allSatisfy { $0.allSatisfy { (0...1).contains($0) } })
        XCTAssertEqual(try status("box_format=cxcywh"), 422)

        // The v2 protocol takes it as a parameter, for its boxes output.
        let input: [String: Any] = ["name": "image", "datatype": "BYTES", "shape": [1], "data": [Data(try ServiceFixture.sampleBytes()).base64EncodedString()]]
        let body = try JSONSerialization.data(withJSONObject: ["inputs": [input], "parameters": ["score_threshold": 0.3, "box_format": "xywh"]] as [String: Any])
        let r = service.handle(ServiceFixture.request("POST", "/v2/models/shapes_mask_rcnn/infer", contentType: "application/json", body: [UInt8](body)))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        let outputs = try XCTUnwrap(ServiceFixture.json(r)?["outputs"] as? [[String: Any]])
        let boxes = try XCTUnwrap(outputs.first { $0["name"] as? String == "boxes" }?["data"] as? [Double]).map { Float($0) }
        XCTAssertEqual(boxes, xywh.flatMap { $0 })
    }

    func testPreprocessingIsReported() throws {
        let doc = try detect("score_threshold=0.3&masks=none")
        let image = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        let p = try XCTUnwrap(doc["preprocessing"] as? [String: Any])
        let size = model.preprocessor.resizedSize(h: image.height, w: image.width)
        XCTAssertEqual(p["resized"] as? [Int], [size.h, size.w])
        XCTAssertEqual((p["scale"] as? Double).map { Float($0) }, model.preprocessor.scale(h: image.height, w: image.width))
    }
}
