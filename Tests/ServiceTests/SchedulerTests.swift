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
        let s = InferenceScheduler(workers: 1, queueDepth: 4, idleRelease: nil)
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
        let s = InferenceScheduler(workers: 2, queueDepth: 4, idleRelease: nil)
        defer { s.shutdown() }
        XCTAssertEqual(try s.run(deadline: .now() + 10) { 21 * 2 }, 42)
        struct Boom: Error {}
        XCTAssertThrowsError(try s.run(deadline: .now() + 10) { () -> Int in throw Boom() }) { XCTAssertTrue($0 is Boom) }
    }

    func testFullQueueIsRejectedAtOnce() throws {
        let s = InferenceScheduler(workers: 1, queueDepth: 1, idleRelease: nil)
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
        let s = InferenceScheduler(workers: 1, queueDepth: 2, idleRelease: nil)
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

    /// The idle release (the server's heap trim) waits for a quiet spell: back-to-back requests
    /// reuse each other's memory, and a burst's end releases it once.
    func testIdleReleaseWaitsForAQuietSpell() throws {
        final class Counter: @unchecked Sendable {
            private let lock = NSLock()
            private var n = 0
            func add() { lock.lock(); n += 1; lock.unlock() }
            var value: Int { lock.lock(); defer { lock.unlock() }; return n }
        }
        // A spell longer than the test: no release between or after the jobs.
        let never = Counter()
        let s1 = InferenceScheduler(workers: 2, queueDepth: 4, idleRelease: .init(after: 600) { never.add() })
        for i in 0..<20 { XCTAssertEqual(try s1.run(deadline: .now() + 10) { i }, i) }
        s1.shutdown()
        XCTAssertEqual(never.value, 0)

        // A short spell: releases happen once idle, and only then. Sequential jobs on a loaded
        // machine may leave gaps longer than the spell, so the counts are read once they settle.
        let released = Counter()
        let s2 = InferenceScheduler(workers: 2, queueDepth: 4, idleRelease: .init(after: 0.2) { released.add() })
        defer { s2.shutdown() }
        func settled() -> Int {
            var last = released.value, stable = 0
            while stable < 10 { usleep(100_000); let v = released.value; stable = v == last ? stable + 1 : 0; last = v }
            return last
        }
        XCTAssertEqual(settled(), 0, "nothing ran yet, nothing to release")
        for i in 0..<5 { XCTAssertEqual(try s2.run(deadline: .now() + 10) { i }, i) }
        let afterBurst = settled()
        XCTAssertGreaterThanOrEqual(afterBurst, 1)
        XCTAssertLessThanOrEqual(afterBurst, 5, "at most one release per job end")
        XCTAssertEqual(try s2.run(deadline: .now() + 10) { 7 }, 7)
        XCTAssertEqual(settled(), afterBurst + 1, "one release after one more job")
        // Activity outside the queue (a failed upload) schedules one too.
        s2.noteActivity()
        XCTAssertEqual(settled(), afterBurst + 2)
    }
}
