import Detection
import Foundation
import HTTP
import Service
import XCTest

/// `svd_rank` / `svd_energy` on a server config's model entry: parsed, validated, applied at load,
/// and reported by `GET /v1/models/{name}`.
final class ServerConfigSVDTests: XCTestCase {
    func config(_ entry: String) throws -> ServerConfig {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-svd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("server.json")
        try Data(#"{"models": [{"config": "\#(ServiceFixture.modelConfig.path)", \#(entry)}]}"#.utf8).write(to: url)
        return try ServerConfig.load(url)
    }

    func testRankIsAppliedAndReported() throws {
        let c = try config(#""svd_rank": [64, 32]"#)
        XCTAssertEqual(c.models[0].svdRank, [64, 32])
        try c.validate()
        let registry = try ModelRegistry(entries: c.models, defaultName: nil)
        let reports = registry.defaultModel.roiHeads.boxHeadSVD
        XCTAssertEqual(reports.map(\.rank), [64, 32])
        let service = DetectionService(registry: registry, scheduler: InferenceScheduler(workers: 1, queueDepth: 2, idleRelease: nil), config: c)
        let info = ServiceFixture.json(service.handle(ServiceFixture.request("GET", "/v1/models/shapes_mask_rcnn")))
        let svd = info?["box_head_svd"] as? [[String: Any]]
        XCTAssertEqual(svd?.map { $0["rank"] as? Int }, [64, 32])
        XCTAssertEqual(svd?.first?["in_features"] as? Int, 128 * 7 * 7)
        // The model without the option reports none.
        let plain = ServiceFixture.json(try ServiceFixture.service().handle(ServiceFixture.request("GET", "/v1/models/shapes_mask_rcnn")))
        XCTAssertNil(plain?["box_head_svd"])
    }

    func testInvalidSettingsAreRejected() throws {
        XCTAssertThrowsError(try config(#""svd_rank": [64], "svd_energy": 0.9"#).validate())
        XCTAssertThrowsError(try config(#""svd_rank": [0]"#).validate())
        XCTAssertThrowsError(try config(#""svd_energy": 1.5"#).validate())
        XCTAssertNoThrow(try config(#""svd_energy": 0.9"#).validate())
    }
}
