import Detection
import Dispatch
import Foundation
import HTTP
@testable import Service
import XCTest

/// Admission control: the scheduler's bound holds however the workers are doing, and an
/// overloaded service refuses inference requests from their headers, before reading the upload.
final class AdmissionTests: XCTestCase {
    /// Many jobs submitted at once while every worker is idle: exactly `workers + queueDepth` are
    /// admitted, the rest refused at once (the bound counts jobs a worker has not picked up yet).
    func testBoundHoldsWhileWorkersAreIdle() throws {
        let s = InferenceScheduler(workers: 2, queueDepth: 1, idleRelease: nil)
        defer { s.shutdown() }
        XCTAssertEqual(s.capacity, 3)
        XCTAssertFalse(s.isFull)
        let release = DispatchSemaphore(value: 0)
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        let lock = NSLock()
        var admitted = 0, refused = 0
        for _ in 0..<24 {
            DispatchQueue.global().async(group: group) {
                start.wait()
                do {
                    try s.run(deadline: .now() + 60) { release.wait() }
                    lock.lock(); admitted += 1; lock.unlock()
                } catch {
                    XCTAssertEqual(error as? InferenceScheduler.Failure, .queueFull)
                    lock.lock(); refused += 1; lock.unlock()
                }
            }
        }
        for _ in 0..<24 { start.signal() }
        // The refusals come back at once; the admitted jobs hold their slots until released.
        for _ in 0..<5000 { lock.lock(); let r = refused; lock.unlock(); if r == 21 { break }; usleep(1000) }
        lock.lock(); XCTAssertEqual(refused, 21); lock.unlock()
        XCTAssertEqual(s.waiting + s.inFlight, 3)
        XCTAssertTrue(s.isFull)
        for _ in 0..<3 { release.signal() }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(admitted, 3)
        XCTAssertFalse(s.isFull)
    }

    /// With the only worker busy and no queue, a detect request is refused from its head: 503 with
    /// `Retry-After`, in each protocol's error shape, before the client sends its body (curl, told
    /// to expect `100 Continue`, uploads nothing). Probes still answer, and detection resumes once
    /// the worker is free.
    func testOverloadedServiceRefusesFromTheHeaders() throws {
        let shared = try ServiceFixture.service()
        let scheduler = InferenceScheduler(workers: 1, queueDepth: 0, idleRelease: nil)
        defer { scheduler.shutdown() }
        let service = DetectionService(registry: shared.registry, scheduler: scheduler, config: shared.config)
        let live = try LiveServer(service)
        defer { live.stop() }
        let upload = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-admission-\(getpid()).bin")
        try Data(repeating: 0x5a, count: 3 << 20).write(to: upload)
        defer { try? FileManager.default.removeItem(at: upload) }

        let busy = DispatchSemaphore(value: 0), started = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { _ = try? scheduler.run(deadline: .now() + 60) { started.signal(); busy.wait() } }
        XCTAssertEqual(started.wait(timeout: .now() + 10), .success)

        for (path, openInference) in [("/v1/detect", false), ("/v2/models/shapes_mask_rcnn/infer", true)] {
            let r = try live.curl(["-H", "Content-Type: image/jpeg", "-H", "Expect: 100-continue", "--expect100-timeout", "30",
                                   "--data-binary", "@\(upload.path)", "-w", "\n%{size_upload}", live.base + path])
            XCTAssertEqual(r.status, 503, path)
            XCTAssertEqual(r.headers["retry-after"], "1", path)
            XCTAssertEqual(r.headers["connection"], "close", path)
            let lines = String(decoding: r.body, as: UTF8.self).components(separatedBy: "\n")
            XCTAssertEqual(lines.last, "0", "\(path): bytes uploaded before the refusal")
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            if openInference {
                XCTAssertEqual(json["error"] as? String, "the inference queue is full; retry shortly")
            } else {
                XCTAssertEqual((json["error"] as? [String: Any])?["code"] as? String, "overloaded")
            }
        }
        XCTAssertEqual(try live.get("/healthz").status, 200)
        busy.signal()
        for _ in 0..<1000 where scheduler.inFlight > 0 { usleep(1000) }
        let ok = try live.curl(["-H", "Content-Type: image/jpeg", "--data-binary", "@\(ServiceFixture.sample.path)",
                                live.base + "/v1/detect?score_threshold=0.5&masks=none"])
        XCTAssertEqual(ok.status, 200)
        let rejected = service.metrics.registry.exposition().components(separatedBy: "\n")
            .first { $0.hasPrefix("rcnn_inference_rejected_total{reason=\"queue_full\"}") }
        XCTAssertEqual(rejected, "rcnn_inference_rejected_total{reason=\"queue_full\"} 2")
    }
}
