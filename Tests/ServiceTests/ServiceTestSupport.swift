import Detection
import Foundation
import HTTP
import Service
import TestSupport
import XCTest

/// Shared set-up: the embedded default model, loaded once, behind a service.
enum ServiceFixture {
    static let modelConfig = Repository.url("Config/models/shapes_mask_rcnn.json")
    static let sample = Repository.url("Samples/shapes_val_0000.jpg")

    nonisolated(unsafe) static var cached: DetectionService?

    static func service() throws -> DetectionService {
        if let cached { return cached }
        var config = ServerConfig()
        config.models = [.init(config: modelConfig.path)]
        config.queueDepth = 4
        let registry = try ModelRegistry(configs: [modelConfig], defaultName: nil)
        let s = DetectionService(registry: registry, scheduler: InferenceScheduler(workers: 1, queueDepth: 4, idleRelease: nil), config: config)
        cached = s
        return s
    }

    static func sampleBytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: sample)) }

    static func json(_ r: HTTPResponse) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
    }

    static func request(_ method: String, _ target: String, contentType: String? = nil, body: [UInt8] = [], headers: [(String, String)] = []) -> HTTPRequest {
        var h = HTTPHeaders()
        if let contentType { h.add(name: "Content-Type", value: contentType) }
        for (k, v) in headers { h.add(name: k, value: v) }
        return HTTPRequest(method: method, target: target, headers: h, body: body, remoteAddress: "127.0.0.1")
    }
}
