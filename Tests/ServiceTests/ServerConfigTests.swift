import Foundation
import Service
import XCTest

/// Server settings read from the config file and the environment, and their bounds.
final class ServerConfigTests: XCTestCase {
    /// The idle memory release time: file, environment, bounds.
    func testMemoryReleaseSetting() throws {
        var c = try JSONDecoder().decode(ServerConfig.self, from: Data(#"{"memory_release_after_s": 2.5}"#.utf8))
        XCTAssertEqual(c.memoryReleaseAfterS, 2.5)
        XCTAssertEqual(ServerConfig().memoryReleaseAfterS, 1)
        try c.applyEnvironment(["RCNN_MEMORY_RELEASE_AFTER_S": "0.25"])
        XCTAssertEqual(c.memoryReleaseAfterS, 0.25)
        XCTAssertThrowsError(try c.applyEnvironment(["RCNN_MEMORY_RELEASE_AFTER_S": "soon"]))
        c.models = [.init(config: "x.json")]
        XCTAssertNoThrow(try c.validate())
        for bad in [-1.0, 100_000, .infinity, .nan] {
            c.memoryReleaseAfterS = bad
            XCTAssertThrowsError(try c.validate(), "\(bad)")
        }
    }
}
