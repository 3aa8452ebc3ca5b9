import Foundation
import HTTP
@testable import Service
import XCTest

/// API key and CORS: off by default; with a key, only the probes are open; CORS only for the
/// listed origins.
final class AccessControlTests: XCTestCase {
    func request(_ service: DetectionService, _ method: String, _ path: String, _ headers: [(String, String)] = []) -> HTTPResponse {
        service.handle(ServiceFixture.request(method, path, headers: headers))
    }

    func testOpenByDefault() throws {
        let s = try LiveServer.service { _ in }
        XCTAssertEqual(request(s, "GET", "/v1/models").status, 200)
        let r = request(s, "GET", "/v1/models", [("Origin", "https://evil.example")])
        XCTAssertNil(r.headers["Access-Control-Allow-Origin"])
        XCTAssertNil(r.headers["Vary"])
    }

    func testAPIKeyGuardsEverythingButTheProbes() throws {
        let s = try LiveServer.service { $0.apiKey = "s3cret-key" }
        s.registry.warmUp(runs: 0)
        for path in ["/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"] {
            XCTAssertEqual(request(s, "GET", path).status, 200, path)
        }
        for path in ["/", "/metrics", "/openapi.json", "/v1/models", "/v1/models/shapes_mask_rcnn", "/v2", "/v2/models/shapes_mask_rcnn", "/nowhere"] {
            let r = request(s, "GET", path)
            XCTAssertEqual(r.status, 401, path)
            XCTAssertEqual(r.headers["WWW-Authenticate"], "Bearer realm=\"rcnn\"", path)
        }
        let post = s.handle(ServiceFixture.request("POST", "/v1/detect", contentType: "image/jpeg", body: try ServiceFixture.sampleBytes()))
        XCTAssertEqual(post.status, 401)
        XCTAssertEqual((ServiceFixture.json(post)?["error"] as? [String: Any])?["code"] as? String, "unauthorized")
        // v2 routes answer in the protocol's error shape.
        XCTAssertTrue(ServiceFixture.json(request(s, "GET", "/v2/models/shapes_mask_rcnn"))?["error"] is String)
        // Wrong keys, wrong schemes.
        for auth in ["Bearer wrong", "Bearer s3cret-ke", "Bearer s3cret-key2", "Basic czNjcmV0LWtleQ==", "s3cret-key", "Bearer"] {
            let r = request(s, "GET", "/v1/models", [("Authorization", auth)])
            XCTAssertEqual(r.status, 401, auth)
            // RFC 6750 §3: a bearer token that is wrong adds error="invalid_token"; no bearer
            // token at all (another scheme, a bare key, "Bearer" alone) gets the plain challenge.
            let presented = auth.hasPrefix("Bearer ")
            XCTAssertEqual(r.headers["WWW-Authenticate"],
                           presented ? "Bearer realm=\"rcnn\", error=\"invalid_token\"" : "Bearer realm=\"rcnn\"", auth)
        }
        XCTAssertEqual(request(s, "GET", "/v1/models", [("Authorization", "Bearer s3cret-key")]).status, 200)
        XCTAssertEqual(request(s, "GET", "/v1/models", [("Authorization", "bearer  s3cret-key ")]).status, 200)
        XCTAssertEqual(request(s, "GET", "/v2/models/shapes_mask_rcnn", [("Authorization", "Bearer s3cret-key")]).status, 200)
    }

    func testConstantTimeComparison() {
        XCTAssertTrue(AccessControl.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(AccessControl.constantTimeEqual(Array("abd".utf8), Array("abc".utf8)))
        XCTAssertFalse(AccessControl.constantTimeEqual(Array("ab".utf8), Array("abc".utf8)))
        XCTAssertFalse(AccessControl.constantTimeEqual(Array("abc\0".utf8), Array("abc".utf8)))
        XCTAssertFalse(AccessControl.constantTimeEqual([], Array("abc".utf8)))
    }

    func testKeyFromFileAndEnvironment() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-key-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("  from-file \n".utf8).write(to: dir.appendingPathComponent("key.txt"))
        try Data(#"{"models": [{"config": "m.json"}], "api_key_file": "key.txt", "cors_allowed_origins": ["https://app.example"]}"#.utf8)
            .write(to: dir.appendingPathComponent("server.json"))
        var c = try ServerConfig.load(dir.appendingPathComponent("server.json"))
        XCTAssertEqual(c.corsAllowedOrigins, ["https://app.example"])
        try c.resolveAPIKey()
        XCTAssertEqual(c.apiKey, "from-file")
        var e = try ServerConfig.load(dir.appendingPathComponent("server.json"))
        try e.applyEnvironment(["RCNN_API_KEY": "from-env", "RCNN_CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example"])
        try e.resolveAPIKey()
        XCTAssertEqual(e.apiKey, "from-env")
        XCTAssertEqual(e.corsAllowedOrigins, ["https://a.example", "https://b.example"])
        var missing = ServerConfig()
        missing.apiKeyFile = dir.appendingPathComponent("absent.txt").path
        XCTAssertThrowsError(try missing.resolveAPIKey())
        try Data("\n".utf8).write(to: dir.appendingPathComponent("empty.txt"))
        missing.apiKeyFile = dir.appendingPathComponent("empty.txt").path
        XCTAssertThrowsError(try missing.resolveAPIKey())
    }

    func testCORSForListedOriginsAndPreflight() throws {
        let s = try LiveServer.service { $0.corsAllowedOrigins = ["https://app.example"]; $0.apiKey = "k" }
        let ok = request(s, "GET", "/healthz", [("Origin", "https://app.example")])
        XCTAssertEqual(ok.headers["Access-Control-Allow-Origin"], "https://app.example")
        XCTAssertEqual(ok.headers["Vary"], "Origin")
        let other = request(s, "GET", "/healthz", [("Origin", "https://evil.example")])
        XCTAssertNil(other.headers["Access-Control-Allow-Origin"])
        // The preflight needs no key (browsers send none) and lists methods and headers.
        let pre = request(s, "OPTIONS", "/v1/models/shapes_mask_rcnn/detect",
                          [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "authorization, content-type")])
        XCTAssertEqual(pre.status, 204)
        XCTAssertEqual(pre.headers["Access-Control-Allow-Origin"], "https://app.example")
        XCTAssertEqual(pre.headers["Access-Control-Allow-Methods"], "POST, OPTIONS")
        XCTAssertTrue(pre.headers["Access-Control-Allow-Headers"]?.contains("Authorization") == true)
        XCTAssertEqual(pre.headers["Allow"], "POST, OPTIONS")
        let badPre = request(s, "OPTIONS", "/v1/detect", [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST")])
        XCTAssertNil(badPre.headers["Access-Control-Allow-Origin"])
        XCTAssertNil(badPre.headers["Access-Control-Allow-Methods"])
        // Errors (here the 401) carry the CORS header too, so the page can read them.
        XCTAssertEqual(request(s, "GET", "/v1/models", [("Origin", "https://app.example")]).headers["Access-Control-Allow-Origin"], "https://app.example")
        let any = try LiveServer.service { $0.corsAllowedOrigins = ["*"] }
        XCTAssertEqual(request(any, "GET", "/healthz", [("Origin", "https://x.example")]).headers["Access-Control-Allow-Origin"], "https://x.example")
    }

    /// Over a real socket with curl: 401 then 200.
    func testLiveServerWithKey() throws {
        let live = try LiveServer(try LiveServer.service { $0.apiKey = "live-key" })
        defer { live.stop() }
        let denied = try live.get("/metrics")
        XCTAssertEqual(denied.status, 401)
        XCTAssertEqual(denied.headers["www-authenticate"], "Bearer realm=\"rcnn\"")
        XCTAssertEqual(try live.get("/metrics", ["-H", "Authorization: Bearer live-key"]).status, 200)
        XCTAssertEqual(try live.get("/healthz").status, 200)
    }
}
