import Foundation
import HTTP
@testable import Service
import TestSupport
import XCTest

/// The real server on an ephemeral loopback port, driven by real clients: curl and Python's
/// standard library. Timeouts are hang guards only.
final class ServerIntegrationTests: XCTestCase {
    var server: HTTPServer!
    var port = 0

    override func setUpWithError() throws {
        let service = try ServiceFixture.service()
        service.registry.warmUp(runs: 0)
        var config = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
        config.maxBodyBytes = 4 << 20
        server = HTTPServer(configuration: config, handler: { service.handle($0) })
        try server.start()
        port = server.boundPort
    }

    override func tearDown() { server.stop(gracePeriod: 5) }

    func curl(_ args: [String]) throws -> (status: Int, body: Data) {
        let r = try TestProcess.run("/usr/bin/curl", ["-s", "--max-time", "120", "-w", "\n%{http_code}"] + args)
        XCTAssertEqual(r.status, 0, "curl \(args) exited \(r.status)")
        let text = r.stdout
        guard let nl = text.lastIndex(of: UInt8(ascii: "\n")) else { return (0, text) }
        let status = Int(String(decoding: text[(nl + 1)...], as: UTF8.self)) ?? 0
        return (status, Data(text[..<nl]))
    }

    func detections(_ d: Data) -> [[String: Any]]? {
        ((try? JSONSerialization.jsonObject(with: d)) as? [String: Any])?["detections"] as? [[String: Any]]
    }

    func testCurlRawMultipartAndJSONBodiesGiveTheSameDetections() throws {
        let url = "http://127.0.0.1:\(port)/v1/detect?score_threshold=0.0&max_detections=15"
        let raw = try curl(["-H", "Content-Type: image/jpeg", "--data-binary", "@\(ServiceFixture.sample.path)", url])
        XCTAssertEqual(raw.status, 200, String(decoding: raw.body, as: UTF8.self))
        let multipart = try curl(["-F", "image=@\(ServiceFixture.sample.path);type=image/jpeg", url])
        XCTAssertEqual(multipart.status, 200, String(decoding: multipart.body, as: UTF8.self))
        let b64 = try Data(contentsOf: ServiceFixture.sample).base64EncodedString()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-json-\(getpid()).json")
        try Data(#"{"image": "\#(b64)", "max_detections": 15, "score_threshold": 0}"#.utf8).write(to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let json = try curl(["-H", "Content-Type: application/json", "--data-binary", "@\(tmp.path)", "http://127.0.0.1:\(port)/v1/detect"])
        XCTAssertEqual(json.status, 200, String(decoding: json.body, as: UTF8.self))
        let a = try XCTUnwrap(detections(raw.body)), b = try XCTUnwrap(detections(multipart.body)), c = try XCTUnwrap(detections(json.body))
        XCTAssertEqual(a.count, 15)
        XCTAssertEqual(a.map { $0["score"] as! Double }, b.map { $0["score"] as! Double })
        XCTAssertEqual(a.map { $0["score"] as! Double }, c.map { $0["score"] as! Double })
    }

    func testCurlErrorsAndHeaders() throws {
        let base = "http://127.0.0.1:\(port)"
        XCTAssertEqual(try curl(["\(base)/healthz"]).status, 200)
        XCTAssertEqual(try curl(["-X", "DELETE", "\(base)/v1/detect"]).status, 405)
        XCTAssertEqual(try curl(["\(base)/v1/models/unknown"]).status, 404)
        XCTAssertEqual(try curl(["-H", "Content-Type: text/plain", "--data-binary", "hello", "\(base)/v1/detect"]).status, 415)
        // Larger than max_body_bytes (4 MiB): 413 without reading it all.
        let big = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-big-\(getpid()).bin")
        try Data(count: 5 << 20).write(to: big)
        defer { try? FileManager.default.removeItem(at: big) }
        XCTAssertEqual(try curl(["-H", "Content-Type: image/jpeg", "--data-binary", "@\(big.path)", "\(base)/v1/detect"]).status, 413)
        // The request id is echoed.
        let headers = try TestProcess.run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "-H", "X-Request-Id: abc-123", "\(base)/healthz"]).stdout
        XCTAssertTrue(String(decoding: headers, as: UTF8.self).lowercased().contains("x-request-id: abc-123"))
    }

    func testPythonClientKeepsTheConnectionAlive() throws {
        let exe = LiveServer.python
        let script = """
        import http.client, json, sys
        c = http.client.HTTPConnection("127.0.0.1", \(port), timeout=120)
        body = open(sys.argv[1], "rb").read()
        statuses = []
        for i in range(3):
            c.request("POST", "/v1/detect?max_detections=5&masks=none", body=body, headers={"Content-Type": "image/jpeg"})
            r = c.getresponse()
            doc = json.loads(r.read())
            statuses.append(r.status)
            assert len(doc["detections"]) <= 5 and all("mask" not in d for d in doc["detections"]), doc
        c.request("GET", "/v1/models")
        r = c.getresponse(); names = [m["name"] for m in json.loads(r.read())["models"]]
        print(json.dumps({"statuses": statuses, "models": names, "sock_reused": c.sock is not None}))
        """
        let r = try TestProcess.run(exe, ["-c", script, ServiceFixture.sample.path])
        let out = r.stdout
        XCTAssertEqual(r.status, 0, r.output + r.errors)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: out) as? [String: Any])
        XCTAssertEqual(result["statuses"] as? [Int], [200, 200, 200])
        XCTAssertEqual(result["models"] as? [String], ["shapes_mask_rcnn"])
        XCTAssertEqual(result["sock_reused"] as? Bool, true)
    }
}
