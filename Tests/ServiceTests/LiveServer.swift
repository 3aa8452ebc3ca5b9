import Foundation
import HTTP
@testable import Service
import TestSupport
import XCTest

/// A service behind the real HTTP server on an ephemeral loopback port, wired as `rcnn serve` wires
/// it (the access-log hook feeds the metrics), plus a curl helper.
final class LiveServer {
    let service: DetectionService
    let server: HTTPServer
    var port: Int { server.boundPort }
    var base: String { "http://127.0.0.1:\(port)" }

    init(_ service: DetectionService) throws {
        self.service = service
        var config = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
        config.maxBodyBytes = 8 << 20
        config.accessLog = { service.observe($0) }
        config.headHandler = { service.admit(head: $0) }
        server = HTTPServer(configuration: config, handler: { service.handle($0) })
        service.metrics.setConnectionsOpen { [weak server] in server?.openConnectionCount ?? 0 }
        try server.start()
    }

    func stop() { server.stop(gracePeriod: 5) }

    /// A service sharing the cached fixture's models and scheduler, with `edit` applied to its config.
    static func service(_ edit: (inout ServerConfig) -> Void) throws -> DetectionService {
        let shared = try ServiceFixture.service()
        var config = shared.config
        edit(&config)
        return DetectionService(registry: shared.registry, scheduler: shared.scheduler, config: config)
    }

    /// curl with `args`; the status, headers (lower-cased names) and body.
    func curl(_ args: [String]) throws -> (status: Int, headers: [String: String], body: Data) {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-hdr-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let r = try TestProcess.run("/usr/bin/curl", ["-s", "--max-time", "120", "-D", tmp.path] + args)
        XCTAssertEqual(r.status, 0, "curl \(args) exited \(r.status)")
        var status = 0
        var headers: [String: String] = [:]
        for line in (try? String(contentsOf: tmp, encoding: .utf8))?.components(separatedBy: "\r\n") ?? [] {
            if line.hasPrefix("HTTP/") { status = Int(line.split(separator: " ")[1]) ?? 0; headers = [:]; continue }
            if let c = line.firstIndex(of: ":") {
                headers[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return (status, headers, r.stdout)
    }

    func get(_ path: String, _ extra: [String] = []) throws -> (status: Int, headers: [String: String], body: Data) {
        try curl(extra + [base + path])
    }

    static var python: String {
        let venv = Repository.venvPython
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
    }
}
