import Foundation
import TestSupport
import XCTest

extension CLITests {
    /// Deploy/'s Kubernetes, HPA, KServe and Prometheus files validate offline against the schemas
    /// (kubernetes-validate, strict) and `promtool`, and agree with the real server: every probe
    /// path is a route of its OpenAPI document and every metric the alert rules name is one its
    /// /metrics exports (Tests/Deploy/validate_deploy.py).
    func testDeploymentManifestsValidate() throws {
        let python = Repository.venvPython
        try Prerequisite.require(
            FileManager.default.isExecutableFile(atPath: python)
                && (try run(python, ["-c", "import kubernetes_validate, yaml"])).status == 0,
            "kubernetes-validate and PyYAML in .venv", provides: "Tools/setup_python.sh installs them")
        let promtool = try Prerequisite.executable(["/usr/bin/promtool"], "promtool",
                                                   provides: ".ci/run installs it with apt-get install prometheus")

        let (server, port, err) = try startServer(env: ["RCNN_ACCESS_LOG": "0"])
        defer { if server.isRunning { server.terminate() } }
        DispatchQueue.global().async { _ = err.fileHandleForReading.readDataToEndOfFile() }
        XCTAssertTrue(waitUntilReady(port: port))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-deploy-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (openapiStatus, openapi) = try curl(["http://127.0.0.1:\(port)/openapi.json"])
        let (metricsStatus, metrics) = try curl(["http://127.0.0.1:\(port)/metrics"])
        XCTAssertEqual(openapiStatus, 200)
        XCTAssertEqual(metricsStatus, 200)
        let openapiFile = dir.appendingPathComponent("openapi.json"), metricsFile = dir.appendingPathComponent("metrics.txt")
        try openapi.write(to: openapiFile)
        try metrics.write(to: metricsFile)

        let r = try run(python, [Repository.url("Tests/Deploy/validate_deploy.py").path,
                                 "--openapi", openapiFile.path, "--metrics", metricsFile.path, "--promtool", promtool])
        print(r.output)
        XCTAssertEqual(r.status, 0, r.output + r.errors)
        XCTAssertTrue(r.output.contains("0 failed check(s)"), r.output)
        XCTAssertGreaterThanOrEqual(r.output.components(separatedBy: "\nok ").count, 30, "too few checks ran:\n\(r.output)")
    }
}
