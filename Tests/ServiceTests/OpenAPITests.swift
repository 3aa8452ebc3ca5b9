import Foundation
import HTTP
@testable import Service
import TestSupport
import XCTest

/// `GET /openapi.json` against the router: every route and method is described, every `$ref`
/// resolves, and real answers (status and content type) are ones the document lists.
final class OpenAPITests: XCTestCase {
    var service: DetectionService!
    var doc: [String: Any] = [:]

    override func setUpWithError() throws {
        service = try ServiceFixture.service()
        service.registry.warmUp(runs: 0)
        let r = service.handle(ServiceFixture.request("GET", "/openapi.json"))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["Content-Type"], "application/json")
        doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
    }

    var paths: [String: [String: Any]] { doc["paths"] as? [String: [String: Any]] ?? [:] }

    func testEveryRouteAndMethodIsDescribed() throws {
        XCTAssertTrue((doc["openapi"] as? String)?.hasPrefix("3.") == true)
        XCTAssertEqual(Set(paths.keys), Set(Route.all.map(\.template)))
        for route in Route.all {
            let item = try XCTUnwrap(paths[route.template], route.template)
            let described = Set(item.keys.filter { ["get", "post", "put", "delete", "patch", "options", "head"].contains($0) })
            XCTAssertEqual(described, Set(route.methods.map { $0.lowercased() } + ["options"]), route.template)
            for (method, op) in item {
                let op = try XCTUnwrap(op as? [String: Any])
                XCTAssertNotNil(op["responses"] as? [String: Any], "\(method) \(route.template)")
                // Path parameters match the template's.
                let params = (op["parameters"] as? [[String: Any]] ?? []).filter { $0["in"] as? String == "path" }.compactMap { $0["name"] as? String }
                let inTemplate = route.template.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) }
                XCTAssertEqual(Set(params), Set(inTemplate), "\(method) \(route.template)")
            }
        }
        let ids = paths.values.flatMap { $0.values.compactMap { ($0 as? [String: Any])?["operationId"] as? String } }
        XCTAssertEqual(ids.count, Set(ids).count, "operationIds must be unique")
    }

    /// The served document passes openapi-spec-validator (OpenAPI 3.0, strict: what code
    /// generators check), and the validator is not vacuous: the document with an empty `required`
    /// list, the mistake it once had, is rejected.
    func testDocumentPassesOpenAPISpecValidator() throws {
        let python = Repository.venvPython
        let script = """
            import json, sys
            from openapi_spec_validator import validate
            from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
            doc = json.load(open(sys.argv[1]))
            validate(doc)
            broken = json.loads(json.dumps(doc))
            broken["components"]["schemas"]["V2InferRequest"]["required"] = []
            try:
                validate(broken)
            except OpenAPIValidationError:
                print("valid; an empty required list is refused")
            else:
                sys.exit("the validator accepted an empty required list")
            """
        try Prerequisite.require(FileManager.default.isExecutableFile(atPath: python)
                                    && (try TestProcess.run(python, ["-c", "import openapi_spec_validator"])).status == 0,
                                 "openapi-spec-validator in .venv", provides: "Tools/setup_python.sh installs it")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-openapi-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try JSONSerialization.data(withJSONObject: doc).write(to: file)
        let r = try TestProcess.run(python, ["-c", script, file.path])
        XCTAssertEqual(r.status, 0, r.output + r.errors)
        XCTAssertTrue(r.output.contains("valid; an empty required list is refused"), r.output + r.errors)
    }

    func testEveryReferenceResolves() throws {
        let schemas = try XCTUnwrap((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
        var refs: [String] = []
        func walk(_ v: Any) {
            if let d = v as? [String: Any] {
                if let r = d["$ref"] as? String { refs.append(r) }
                d.values.forEach(walk)
            } else if let a = v as? [Any] { a.forEach(walk) }
        }
        walk(doc)
        XCTAssertFalse(refs.isEmpty)
        for r in refs {
            XCTAssertTrue(r.hasPrefix("#/components/schemas/"), r)
            XCTAssertNotNil(schemas[String(r.dropFirst("#/components/schemas/".count))], r)
        }
    }

    /// Real answers from the router: each (route, method, status, content type) must be documented.
    func testRealAnswersAreDocumented() throws {
        let jpeg = try ServiceFixture.sampleBytes()
        let b64 = Data(jpeg).base64EncodedString()
        let v2 = Array(#"{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["\#(b64)"]}],"parameters":{"max_detections":2}}"#.utf8)
        let cases: [HTTPRequest] = [
            ServiceFixture.request("GET", "/"), ServiceFixture.request("GET", "/healthz"), ServiceFixture.request("GET", "/readyz"),
            ServiceFixture.request("GET", "/metrics"), ServiceFixture.request("GET", "/v1/models"),
            ServiceFixture.request("GET", "/v1/models/shapes_mask_rcnn"), ServiceFixture.request("GET", "/v1/models/nope"),
            ServiceFixture.request("POST", "/v1/detect?max_detections=2", contentType: "image/jpeg", body: jpeg),
            ServiceFixture.request("POST", "/v1/detect?format=png&max_detections=2", contentType: "image/jpeg", body: jpeg),
            ServiceFixture.request("POST", "/v1/detect", contentType: "text/plain", body: jpeg),
            ServiceFixture.request("POST", "/v1/detect?score_threshold=9", contentType: "image/jpeg", body: jpeg),
            ServiceFixture.request("POST", "/v1/models/nope/detect", contentType: "image/jpeg", body: jpeg),
            ServiceFixture.request("GET", "/v1/detect"), ServiceFixture.request("OPTIONS", "/v1/detect"),
            ServiceFixture.request("GET", "/v2"), ServiceFixture.request("GET", "/v2/health/live"), ServiceFixture.request("GET", "/v2/health/ready"),
            ServiceFixture.request("GET", "/v2/models/shapes_mask_rcnn"), ServiceFixture.request("GET", "/v2/models/shapes_mask_rcnn/ready"),
            ServiceFixture.request("GET", "/v2/models/nope/versions/1"),
            ServiceFixture.request("POST", "/v2/models/shapes_mask_rcnn/infer", contentType: "application/json", body: v2),
            ServiceFixture.request("POST", "/v2/models/shapes_mask_rcnn/versions/1/infer", contentType: "application/json", body: Array("{}".utf8)),
            ServiceFixture.request("GET", "/v2/repository/index"), ServiceFixture.request("POST", "/v2/repository/models/x/load"),
            ServiceFixture.request("GET", "/v2/repository/models/x/unload"),
        ]
        for req in cases {
            let r = service.handle(req)
            let template = try XCTUnwrap(Route.match(req.path)?.route.template)
            // A method the route does not serve has no operation to document it; the 405 is listed
            // under the methods it does serve.
            if r.status == 405, paths[template]?[req.method.lowercased()] == nil { continue }
            let op = try XCTUnwrap(paths[template]?[req.method.lowercased()] as? [String: Any], "\(req.method) \(template)")
            let responses = try XCTUnwrap(op["responses"] as? [String: Any])
            let documented = try XCTUnwrap(responses[String(r.status)] as? [String: Any], "\(req.method) \(req.target) -> \(r.status) is not documented")
            if let content = documented["content"] as? [String: Any] {
                let type = try XCTUnwrap(r.headers["Content-Type"], "\(req.method) \(req.target)")
                XCTAssertNotNil(content[type], "\(req.method) \(req.target) -> \(r.status) \(type) is not among \(content.keys.sorted())")
            } else {
                XCTAssertTrue(r.body.isEmpty, "\(req.method) \(req.target) -> \(r.status) has a body the document does not describe")
            }
        }
    }
}
