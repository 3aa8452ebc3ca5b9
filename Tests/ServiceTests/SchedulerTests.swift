import Dispatch
import Foundation
import Service
import XCTest

/// The bounded inference queue: results, overload, deadlines. Timing is only used as a hang guard
/// and to hold workers busy; assertions never depend on how fast anything runs.
final class SchedulerTests: XCTestCase {
    /// A finished job must not keep its result alive (the queue once held the last 64 jobs' closures,
    /// and with them every response's pasted masks: megabytes per request).
    func testFinishedJobsReleaseTheirResults() throws {
        final class Payload { let bytes = [UInt8](repeating: 1, count: 1 << 20) }
        let s = InferenceScheduler(workers: 1, queueDepth: 4)
        defer { s.shutdown() }
        var refs: [() -> Payload?] = []
        for _ in 0..<10 {
            var p: Payload? = try s.run(deadline: .now() + 10) { Payload() }
            XCTAssertEqual(p?.bytes.count, 1 << 20)
            weak let w = p
            refs.append { w }
            p = nil
        }
        for _ in 0..<100 where refs.contains(where: { $0() != nil }) { usleep(10_000) }
        XCTAssertEqual(refs.filter { $0() != nil }.count, 0, "results still referenced after their jobs finished")
    }

    func testRunsJobsAndReturnsResults() throws {
        let s = InferenceScheduler(workers: 2, queueDepth: 4)
        defer { s.shutdown() }
        XCTAssertEqual(try s.run(deadline: .now() + 10) { 21 * 2 }, 42)
        struct Boom: Error {}
        XCTAssertThrowsError(try s.run(deadline: .now() + 10) { () -> Int in throw Boom() }) { XCTAssertTrue($0 is Boom) }
    }

    func testFullQueueIsRejectedAtOnce() throws {
        let s = InferenceScheduler(workers: 1, queueDepth: 1)
        defer { s.shutdown() }
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        // One job occupies the worker, one waits in the queue.
        DispatchQueue.global().async(group: group) { _ = try? s.run(deadline: .now() + 30) { started.signal(); release.wait() } }
        XCTAssertEqual(started.wait(timeout: .now() + 10), .success)
        DispatchQueue.global().async(group: group) { _ = try? s.run(deadline: .now() + 30) { 1 } }
        // Wait until the second job is queued.
        for _ in 0..<1000 where s.waiting < 1 { usleep(1000) }
        XCTAssertEqual(s.waiting, 1)
        XCTAssertThrowsError(try s.run(deadline: .now() + 30) { 2 }) {
            XCTAssertEqual($0 as? InferenceScheduler.Failure, .queueFull)
        }
        release.signal()
        XCTAssertEqual(group.wait(timeout: .now() + 10), .success)
    }

    func testDeadlinePassesWhileQueued() throws {
        let s = InferenceScheduler(workers: 1, queueDepth: 2)
        defer { s.shutdown() }
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { _ = try? s.run(deadline: .now() + 30) { started.signal(); release.wait() } }
        XCTAssertEqual(started.wait(timeout: .now() + 10), .success)
        var ran = false
        XCTAssertThrowsError(try s.run(deadline: .now() + .milliseconds(50)) { ran = true }) {
            XCTAssertEqual($0 as? InferenceScheduler.Failure, .deadlineExceeded)
        }
        release.signal()
        // The expired job is dropped before it runs.
        _ = try s.run(deadline: .now() + 10) { 0 }
        XCTAssertFalse(ran)
    }
}
