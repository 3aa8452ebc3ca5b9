import Foundation
import TestSupport
import XCTest

extension CLITests {
    /// The model repository API on the real binary, as an operator uses it: `rcnn serve
    /// --model-repository DIR` with an API key; a model copied into DIR is loaded without a
    /// restart, serves the same detections as the model it copies, and is unloaded while clients
    /// keep sending to it: every answer is a complete detection or a 404 (never a 5xx or a broken
    /// connection), and the server serves on afterwards.
    func testRepositoryLoadsAndUnloadsWithoutARestart() throws {
        let (dir, _) = try renamedDefaultModel("shapes_copy")
        defer { try? FileManager.default.removeItem(at: dir) }

        let key = "repo-test-key"
        let (server, port, err) = try startServer(env: ["RCNN_API_KEY": key, "RCNN_ACCESS_LOG": "0"],
                                                  scheduling: ["--workers", "2", "--queue-depth", "16", "--model-repository", dir.path])
        defer { if server.isRunning { server.terminate() } }
        DispatchQueue.global().async { _ = err.fileHandleForReading.readDataToEndOfFile() }
        XCTAssertTrue(waitUntilReady(port: port))
        let base = "http://127.0.0.1:\(port)"
        let auth = ["-H", "Authorization: Bearer \(key)"]

        XCTAssertEqual(try curl(["-d", "", "\(base)/v2/repository/models/shapes_copy/load"]).0, 401, "the repository API needs the key")
        let (indexStatus, indexBody) = try curl(auth + ["\(base)/v2/repository/index"])
        XCTAssertEqual(indexStatus, 200)
        let index = try XCTUnwrap(try JSONSerialization.jsonObject(with: indexBody) as? [[String: Any]])
        XCTAssertEqual(index.first { $0["name"] as? String == "shapes_copy" }?["state"] as? String, "UNAVAILABLE")
        XCTAssertEqual(index.first { $0["name"] as? String == "shapes_mask_rcnn" }?["state"] as? String, "READY")

        let (loadStatus, loadBody) = try curl(auth + ["-d", "", "\(base)/v2/repository/models/shapes_copy/load"])
        XCTAssertEqual(loadStatus, 200, String(decoding: loadBody, as: UTF8.self))
        let detect = { (model: String) throws -> (Int, Data) in
            try self.curl(auth + ["-H", "Content-Type: image/jpeg", "--data-binary", "@\(Self.sample)",
                                  "\(base)/v1/models/\(model)/detect?score_threshold=0.05"])
        }
        func detections(_ body: Data) -> [[String: Any]]? {
            (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["detections"] as? [[String: Any]]
        }
        let (copyStatus, copyBody) = try detect("shapes_copy")
        let (origStatus, origBody) = try detect("shapes_mask_rcnn")
        XCTAssertEqual(copyStatus, 200)
        XCTAssertEqual(origStatus, 200)
        let copied = try XCTUnwrap(detections(copyBody))
        XCTAssertGreaterThan(copied.count, 0)
        XCTAssertEqual(copied.map { $0["score"] as? Double }, try XCTUnwrap(detections(origBody)).map { $0["score"] as? Double },
                       "the same weights under another name give the same detections")

        // Clients keep detecting on the model while it is unloaded.
        var statuses: [Int] = []
        let lock = NSLock()
        let clients = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: clients) {
                for _ in 0..<6 {
                    let (status, body) = (try? detect("shapes_copy")) ?? (-1, Data())
                    lock.lock()
                    statuses.append(status == 200 && detections(body) == nil ? -2 : status)
                    lock.unlock()
                    if status == 404 { break }
                }
            }
        }
        usleep(300_000)
        let (unloadStatus, unloadBody) = try curl(auth + ["-d", "", "\(base)/v2/repository/models/shapes_copy/unload"])
        XCTAssertEqual(unloadStatus, 200, String(decoding: unloadBody, as: UTF8.self))
        XCTAssertEqual(clients.wait(timeout: .now() + 300), .success)
        XCTAssertTrue(statuses.allSatisfy { $0 == 200 || $0 == 404 }, "answers during the unload: \(statuses)")
        XCTAssertEqual(try detect("shapes_copy").0, 404, "an unloaded model is gone")
        XCTAssertEqual(try detect("shapes_mask_rcnn").0, 200, "the server serves on")
        XCTAssertEqual(try curl(auth + ["-d", "", "\(base)/v2/repository/models/shapes_mask_rcnn/unload"]).0, 409,
                       "the default model stays")
        XCTAssertTrue(server.isRunning)
    }
}
