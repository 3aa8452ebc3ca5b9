import Dispatch
import Foundation
import Service
import XCTest

/// The bounded inference queue: results, overload, deadlines. Timing is only used as a hang guard
/// and to hold workers busy; assertions never depend on how fast anything runs.
final class SchedulerTests: XCTestCase {
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
