import Foundation
import HTTP
@testable import Service
import TestSupport
import XCTest

/// One sample of a Prometheus text exposition.
struct PromSample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A strict little parser of the text exposition format 0.0.4: `# HELP`/`# TYPE` lines, then
/// `name{label="value",...} value` samples with `\\`, `\"` and `\n` escapes. Throws on anything else.
enum PromParser {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func parse(_ text: String) throws -> (samples: [PromSample], types: [String: String]) {
        var samples: [PromSample] = []
        var types: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# TYPE ") {
                let p = line.split(separator: " ")
                guard p.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(p[3]) else { throw Failure(description: "bad TYPE: \(line)") }
                guard types[String(p[2])] == nil else { throw Failure(description: "TYPE twice: \(line)") }
                types[String(p[2])] = String(p[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            var chars = Array(line.unicodeScalars)[...]
            var name = ""
            while let c = chars.first, c == "_" || c == ":" || c.properties.isASCIIHexDigit || ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) {
                name.unicodeScalars.append(c); chars = chars.dropFirst()
            }
            guard !name.isEmpty else { throw Failure(description: "no metric name: \(line)") }
            var labels: [String: String] = [:]
            if chars.first == "{" {
                chars = chars.dropFirst()
                while chars.first != "}" {
                    var key = ""
                    while let c = chars.first, c != "=" { key.unicodeScalars.append(c); chars = chars.dropFirst() }
                    guard chars.popFirst() == "=", chars.popFirst() == "\"" else { throw Failure(description: "bad label in \(line)") }
                    var value = ""
                    while let c = chars.popFirst(), c != "\"" {
                        if c == "\\" {
                            switch chars.popFirst() {
                            case "\\": value += "\\"
                            case "\"": value += "\""
                            case "n": value += "\n"
                            default: throw Failure(description: "bad escape in \(line)")
                            }
                        } else { value.unicodeScalars.append(c) }
                    }
                    guard labels[key] == nil else { throw Failure(description: "label twice in \(line)") }
                    labels[key] = value
                    if chars.first == "," { chars = chars.dropFirst() }
                    guard !chars.isEmpty else { throw Failure(description: "unterminated labels: \(line)") }
                }
                chars = chars.dropFirst()
            }
            guard chars.popFirst() == " " else { throw Failure(description: "no space before value: \(line)") }
            let text = String(String.UnicodeScalarView(chars))
            let value: Double? = text == "+Inf" ? .infinity : text == "-Inf" ? -.infinity : Double(text)
            guard let value else { throw Failure(description: "bad value '\(text)' in \(line)") }
            samples.append(PromSample(name: name, labels: labels, value: value))
        }
        return (samples, types)
    }
}

extension Array where Element == PromSample {
    /// The sum of the samples named `name` whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        filter { s in s.name == name && labels.allSatisfy { k, v in s.labels[k] == v } }.reduce(0) { $0 + $1.value }
    }

    func has(_ name: String) -> Bool { contains { $0.name == name } }
}

final class MetricsTests: XCTestCase {
    func testRegistryWritesTheExpositionFormat() throws {
        let r = MetricsRegistry()
        let c = r.counter("t_requests_total", "Requests.\nSecond line \\ backslash.", labels: ["route", "code"])
        c.inc(["/a", "200"])
        c.inc(["/a", "200"], by: 2)
        c.inc(["we\"ird\\la\nbel", "500"])
        let g = r.gauge("t_depth", "Depth.")
        g.set([], 5)
        g.add([], -2)
        let h = r.histogram("t_latency_seconds", "Latency.", labels: ["model"], buckets: [0.1, 1])
        for v in [0.05, 0.1, 0.5, 3] { h.observe(["m"], v) }
        r.gaugeFunction("t_ready", "Ready.", labels: ["model"]) { [(["m"], 1)] }
        let text = r.exposition()
        XCTAssertTrue(text.contains("# HELP t_requests_total Requests.\\nSecond line \\\\ backslash.\n"), text)
        XCTAssertTrue(text.contains("# TYPE t_latency_seconds histogram\n"))
        let (s, types) = try PromParser.parse(text)
        XCTAssertEqual(types, ["t_requests_total": "counter", "t_depth": "gauge", "t_latency_seconds": "histogram", "t_ready": "gauge"])
        XCTAssertEqual(s.value("t_requests_total", ["route": "/a", "code": "200"]), 3)
        XCTAssertEqual(s.value("t_requests_total", ["route": "we\"ird\\la\nbel"]), 1)
        XCTAssertEqual(s.value("t_depth"), 3)
        XCTAssertEqual(s.value("t_ready", ["model": "m"]), 1)
        // Cumulative buckets; `le` 0.1 includes the observation equal to the bound.
        XCTAssertEqual(s.value("t_latency_seconds_bucket", ["le": "0.1"]), 2)
        XCTAssertEqual(s.value("t_latency_seconds_bucket", ["le": "1"]), 3)
        XCTAssertEqual(s.value("t_latency_seconds_bucket", ["le": "+Inf"]), 4)
        XCTAssertEqual(s.value("t_latency_seconds_count", ["model": "m"]), 4)
        XCTAssertEqual(s.value("t_latency_seconds_sum", ["model": "m"]), 3.65, accuracy: 1e-9)
    }

    func testRegistryIsThreadSafe() {
        let r = MetricsRegistry()
        let c = r.counter("t_total", "T.", labels: ["k"])
        let h = r.histogram("t_seconds", "T.")
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for j in 0..<1000 {
                c.inc([String(j % 3)])
                h.observe([], Double(i))
                if j % 100 == 0 { _ = r.exposition() }
            }
        }
        XCTAssertEqual((0..<3).map { c.value([String($0)]) }.reduce(0, +), 8000)
        XCTAssertEqual(h.count(), 8000)
    }

    func testRouteLabelsAreTemplates() {
        XCTAssertEqual(DetectionService.routeLabel("/v1/models/shapes_mask_rcnn/detect"), "/v1/models/{name}/detect")
        XCTAssertEqual(DetectionService.routeLabel("/v2/models/x/versions/1/infer"), "/v2/models/{name}/versions/{version}/infer")
        XCTAssertEqual(DetectionService.routeLabel("/healthz/"), "/healthz")
        XCTAssertEqual(DetectionService.routeLabel("/"), "/")
        XCTAssertEqual(DetectionService.routeLabel("/wp-admin/../etc/passwd"), "unmatched")
        XCTAssertEqual(DetectionService.routeLabel(""), "unmatched")
    }

    /// The live server: scrape, make requests, scrape again, and check that the counters moved.
    func testMetricsEndpointCountsRequestsInferenceAndProcess() throws {
        let service = try LiveServer.service { _ in }
        service.registry.warmUp(runs: 0)
        let live = try LiveServer(service)
        defer { live.stop() }
        func scrape() throws -> [PromSample] {
            let r = try live.get("/metrics")
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
            return try PromParser.parse(String(decoding: r.body, as: UTF8.self)).samples
        }
        let before = try scrape()
        XCTAssertEqual(try live.get("/healthz").status, 200)
        XCTAssertEqual(try live.get("/nope/\(UUID().uuidString)").status, 404)
        let det = try live.curl(["-H", "Content-Type: image/jpeg", "--data-binary", "@\(ServiceFixture.sample.path)",
                                 live.base + "/v1/models/shapes_mask_rcnn/detect?score_threshold=0.0&max_detections=5"])
        XCTAssertEqual(det.status, 200, String(decoding: det.body, as: UTF8.self))
        XCTAssertEqual(try live.curl(["-H", "Content-Type: image/jpeg", "--data-binary", "not an image", live.base + "/v1/detect"]).status, 400)
        let after = try scrape()

        func delta(_ name: String, _ labels: [String: String] = [:]) -> Double { after.value(name, labels) - before.value(name, labels) }
        XCTAssertEqual(delta("rcnn_http_requests_total", ["route": "/healthz", "method": "GET", "status": "200"]), 1)
        XCTAssertEqual(delta("rcnn_http_requests_total", ["route": "unmatched", "status": "404"]), 1)
        XCTAssertEqual(delta("rcnn_http_requests_total", ["route": "/v1/models/{name}/detect", "method": "POST", "status": "200"]), 1)
        XCTAssertEqual(delta("rcnn_http_requests_total", ["route": "/v1/detect", "status": "400"]), 1)
        // The first scrape is counted once it was written, so the second sees it.
        XCTAssertEqual(delta("rcnn_http_requests_total", ["route": "/metrics"]), 1)
        XCTAssertFalse(after.contains { $0.labels["route"]?.contains("shapes_mask_rcnn") == true }, "raw paths must not become labels")
        XCTAssertEqual(delta("rcnn_http_request_duration_seconds_count", ["route": "/v1/models/{name}/detect"]), 1)
        XCTAssertGreaterThan(delta("rcnn_http_request_bytes_total", ["route": "/v1/models/{name}/detect"]), 1000)
        XCTAssertGreaterThan(delta("rcnn_http_response_bytes_total", ["route": "/v1/models/{name}/detect"]), Double(det.body.count))
        XCTAssertEqual(delta("rcnn_inference_duration_seconds_count", ["model": "shapes_mask_rcnn", "pipeline": "mask"]), 1)
        XCTAssertGreaterThan(delta("rcnn_inference_duration_seconds_sum", ["model": "shapes_mask_rcnn", "pipeline": "mask"]), 0)
        XCTAssertEqual(delta("rcnn_stage_duration_seconds_count", ["model": "shapes_mask_rcnn", "pipeline": "mask", "stage": "backbone"]), 1)
        XCTAssertEqual(delta("rcnn_images_decoded_total", ["format": "jpeg"]), 1)
        XCTAssertEqual(delta("rcnn_image_decode_failures_total"), 1)
        XCTAssertEqual(after.value("rcnn_inference_queue_depth"), 0)
        XCTAssertEqual(after.value("rcnn_inference_in_flight"), 0)
        XCTAssertGreaterThanOrEqual(after.value("rcnn_http_connections_open"), 1)  // the scrape's own
        XCTAssertEqual(after.value("rcnn_model_ready", ["model": "shapes_mask_rcnn"]), 1)
        XCTAssertGreaterThan(after.value("process_resident_memory_bytes"), 10_000_000)
        let start = after.value("process_start_time_seconds")
        XCTAssertLessThanOrEqual(start, Date().timeIntervalSince1970)
        XCTAssertGreaterThan(start, Date().timeIntervalSince1970 - 86_400)
        // Histogram buckets are cumulative and end with +Inf == _count.
        let buckets = after.filter { $0.name == "rcnn_http_request_duration_seconds_bucket" && $0.labels["route"] == "/healthz" }
        XCTAssertEqual(buckets.map(\.value), buckets.map(\.value).sorted())
        XCTAssertEqual(buckets.last?.labels["le"], "+Inf")
        XCTAssertEqual(buckets.last?.value, after.value("rcnn_http_request_duration_seconds_count", ["route": "/healthz"]))
    }

    /// The official Python client's parser (prometheus_client, what exporters and tests in the
    /// Prometheus ecosystem use) reads the served exposition with every family, type, label and
    /// histogram series our own parser reads, after real traffic.
    func testPrometheusClientParsesTheExposition() throws {
        let python = LiveServer.python
        try Prerequisite.require(try TestProcess.run(python, ["-c", "import prometheus_client.parser"]).status == 0,
                                 "prometheus_client for \(python)", provides: "Tools/setup_python.sh installs it into .venv")
        let service = try LiveServer.service { _ in }
        service.registry.warmUp(runs: 0)
        let live = try LiveServer(service)
        defer { live.stop() }
        XCTAssertEqual(try live.curl(["-H", "Content-Type: image/jpeg", "--data-binary", "@\(ServiceFixture.sample.path)",
                                      live.base + "/v1/detect?score_threshold=0.3"]).status, 200)
        XCTAssertEqual(try live.get("/nope").status, 404)
        let text = String(decoding: try live.get("/metrics").body, as: UTF8.self)
        let ours = try PromParser.parse(text)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-metrics-\(getpid()).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(text.utf8).write(to: file)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            families = list(text_string_to_metric_families(open(sys.argv[1]).read()))
            out = {"types": {}, "samples": []}
            for f in families:
                out["types"][f.name] = f.type
                for s in f.samples:
                    out["samples"].append([s.name, s.labels, repr(float(s.value))])
            print(json.dumps(out))
            """
        let r = try TestProcess.run(python, ["-c", script, file.path])
        XCTAssertEqual(r.status, 0, r.errors)
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let samples = try XCTUnwrap(parsed["samples"] as? [[Any]])
        XCTAssertEqual(samples.count, ours.samples.count, "prometheus_client read a different number of samples")
        // prometheus_client rewrites a histogram's `le` as a float ("1" -> "1.0"); compare it as a number.
        func key(_ name: Any, _ labels: [String: String], _ value: Double) -> String {
            let l = labels.map { k, v in k == "le" ? "le=\(Double(v).map { "\($0)" } ?? v)" : "\(k)=\(v)" }.sorted()
            return "\(name) \(l) \(value)"
        }
        // Values travel as Python's repr text (Foundation's JSON number parsing is not correctly rounded).
        let theirs = Set(samples.map { key($0[0], $0[1] as? [String: String] ?? [:], Double($0[2] as? String ?? "") ?? .nan) })
        let mine = Set(ours.samples.map { key($0.name, $0.labels, $0.value) })
        XCTAssertEqual(theirs.subtracting(mine).sorted().prefix(5), [], "read by prometheus_client only")
        XCTAssertEqual(mine.subtracting(theirs).sorted().prefix(5), [], "read by our parser only")
        XCTAssertGreaterThan(mine.count, 100)
        // prometheus_client names a counter family without its _total suffix.
        let types = try XCTUnwrap(parsed["types"] as? [String: String])
        for (name, type) in ours.types {
            let family = type == "counter" && name.hasSuffix("_total") ? String(name.dropLast(6)) : name
            XCTAssertEqual(types[family], type, name)
        }
        XCTAssertEqual(types["rcnn_inference_duration_seconds"], "histogram")
    }
}
