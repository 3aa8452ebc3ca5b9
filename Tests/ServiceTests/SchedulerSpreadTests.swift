import Dispatch
import Foundation
import Service
import XCTest

/// A job's parts spread over idle workers (`InferenceScheduler.spread`, how a sliced request's
/// tiles run): idle workers take parts, every part runs once, admitted jobs come before parts, and
/// the parts never count against admission. Waits are hang guards only; the order of events is
/// forced by semaphores, not by timing.
final class SchedulerSpreadTests: XCTestCase {
    /// Thread-safe record of which parts ran, on which threads, how many at once.
    final class Record: @unchecked Sendable {
        private let lock = NSLock()
        private var ran: [Int] = []
        private var threads = Set<UInt>()
        private var inFlight = 0
        private(set) var maxInFlight = 0
        var events: [String] = []

        func start(_ i: Int) {
            lock.lock(); defer { lock.unlock() }
            inFlight += 1
            maxInFlight = max(maxInFlight, inFlight)
            threads.insert(UInt(pthread_self()))
            events.append("part \(i)")
        }
        func end(_ i: Int) { lock.lock(); inFlight -= 1; ran.append(i); lock.unlock() }
        func note(_ e: String) { lock.lock(); events.append(e); lock.unlock() }
        var partsRan: [Int] { lock.lock(); defer { lock.unlock() }; return ran.sorted() }
        var threadCount: Int { lock.lock(); defer { lock.unlock() }; return threads.count }
        var eventList: [String] { lock.lock(); defer { lock.unlock() }; return events }
    }

    /// Part 0 (the job's own thread) waits until part 1 has started, which only an idle worker can
    /// do: both workers run parts, every part exactly once.
    func testIdleWorkersTakeParts() throws {
        let s = InferenceScheduler(workers: 2, queueDepth: 0, idleRelease: nil)
        defer { s.shutdown() }
        let record = Record()
        let secondStarted = DispatchSemaphore(value: 0)
        let threads = try s.run(deadline: .now() + 30) {
            s.spread(8) { i in
                record.start(i)
                if i == 0 && secondStarted.wait(timeout: .now() + 20) == .success { record.note("met part 1") }
                if i == 1 { secondStarted.signal() }
                record.end(i)
            }
        }
        XCTAssertTrue(record.eventList.contains("met part 1"), "part 1 never started while part 0 ran: no idle worker helped")
        XCTAssertEqual(threads, 2)
        XCTAssertEqual(record.threadCount, 2)
        XCTAssertEqual(record.maxInFlight, 2)
        XCTAssertEqual(record.partsRan, Array(0..<8))
    }

    /// With one worker there is nobody to help: the job runs its parts itself, in order.
    func testOneWorkerRunsPartsInOrder() throws {
        // Queue depth 1: the worker counts itself free only after the caller has its result.
        let s = InferenceScheduler(workers: 1, queueDepth: 1, idleRelease: nil)
        defer { s.shutdown() }
        let record = Record()
        let n = try s.run(deadline: .now() + 30) { s.spread(5) { i in record.start(i); record.end(i) } }
        XCTAssertEqual(n, 1)
        XCTAssertEqual(record.eventList, (0..<5).map { "part \($0)" })
        XCTAssertEqual(try s.run(deadline: .now() + 30) { s.spread(0) { _ in XCTFail("no parts") } }, 1)
    }

    /// A spreading job is admitted once: while a worker helps it, a second job is still admitted
    /// (workers 2 + queue 0 = 2) and a third is refused. When the helper finishes its part, it takes
    /// the waiting job before any further part.
    func testQueuedJobsComeBeforePartsAndPartsAreNotAdmitted() throws {
        let s = InferenceScheduler(workers: 2, queueDepth: 0, idleRelease: nil)
        defer { s.shutdown() }
        let record = Record()
        let ownerPart = DispatchSemaphore(value: 0), helperPart = DispatchSemaphore(value: 0)
        let ownerStarted = DispatchSemaphore(value: 0), helperStarted = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            _ = try? s.run(deadline: .now() + 60) {
                s.spread(4) { i in
                    record.start(i)
                    if i == 0 { ownerStarted.signal(); _ = ownerPart.wait(timeout: .now() + 30) }
                    if i == 1 { helperStarted.signal(); _ = helperPart.wait(timeout: .now() + 30) }
                    record.end(i)
                }
            }
        }
        XCTAssertEqual(ownerStarted.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(helperStarted.wait(timeout: .now() + 20), .success, "the idle worker did not take part 1")
        XCTAssertEqual(s.inFlight, 1, "a helping worker is not a running job")
        XCTAssertFalse(s.isFull)
        let second = DispatchSemaphore(value: 0)
        DispatchQueue.global().async(group: group) {
            do {
                try s.run(deadline: .now() + 60) { record.note("job 2") }
            } catch {
                record.note("job 2 failed: \(error)")
            }
            second.signal()
        }
        for _ in 0..<2000 where s.waiting < 1 { usleep(1000) }
        XCTAssertEqual(s.waiting, 1)
        XCTAssertThrowsError(try s.run(deadline: .now() + 30) { 3 }) {
            XCTAssertEqual($0 as? InferenceScheduler.Failure, .queueFull)
        }
        helperPart.signal()
        XCTAssertEqual(second.wait(timeout: .now() + 20), .success)
        // The owner is still inside part 0, so only the helper could have run parts 2 and 3, and
        // it ran the waiting job first.
        let events = record.eventList
        let job2 = try XCTUnwrap(events.firstIndex(of: "job 2"))
        if let part2 = events.firstIndex(of: "part 2") { XCTAssertLessThan(job2, part2, "\(events)") }
        ownerPart.signal()
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(record.partsRan, [0, 1, 2, 3])
        XCTAssertEqual(record.eventList.filter { $0 == "job 2" }.count, 1)
    }
}
