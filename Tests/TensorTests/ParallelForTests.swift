import Foundation
import Tensor
import XCTest

final class ParallelForTests: XCTestCase {
    /// Every index runs exactly once, under either schedule, for counts below, at and far above the
    /// thread count and with chunks of a minimum size; no more than `Parallelism.workers` threads
    /// run bodies at the same time.
    func testEveryIndexRunsOnceOnAtMostTheWorkersThreads() {
        let saved = Parallelism.workers
        defer { Parallelism.workers = saved }
        for workers in [1, 2, 3] {
            Parallelism.workers = workers
            for schedule in [ParallelSchedule.even, .claimed] {
                for (count, minimum) in [(1, 1), (2, 1), (5, 1), (18, 1), (1000, 1), (1000, 64), (37, 10)] {
                    let lock = NSLock()
                    var hits = [Int](repeating: 0, count: count)
                    var running = 0, most = 0
                    var threads = Set<UInt64>()
                    parallelFor(count, minimumPerTask: minimum, schedule: schedule) { i in
                        lock.withLock {
                            hits[i] += 1
                            running += 1
                            most = max(most, running)
                            threads.insert(UInt64(pthread_self()))
                        }
                        if i % 7 == 0 { usleep(200) }
                        lock.withLock { running -= 1 }
                    }
                    let label = "\(schedule), \(workers) workers, \(count) indices, at least \(minimum) per task"
                    XCTAssertEqual(hits, [Int](repeating: 1, count: count), label)
                    XCTAssertLessThanOrEqual(most, workers, label)
                    XCTAssertLessThanOrEqual(threads.count, workers, label)
                }
            }
        }
    }

    /// Claimed chunks go to the thread that is free: index 0 waits until every index outside its
    /// chunk (the first 64 / 4 = 16) has run, which only another thread can do, claiming all of
    /// the remaining 48 while index 0's thread is held. (With one even share per thread, indices
    /// 16..<32 would belong to the held thread and never run: the wait would time out.)
    func testClaimedChunksGoToTheFreeThread() throws {
        guard ProcessInfo.processInfo.activeProcessorCount >= 2 else {
            throw XCTSkip("needs two cores for two threads")
        }
        let saved = Parallelism.workers
        defer { Parallelism.workers = saved }
        Parallelism.workers = 2
        let condition = NSCondition()
        var done = 0, doneWhenReleased = 0
        parallelFor(64, schedule: .claimed) { i in
            condition.lock()
            defer { condition.unlock() }
            if i == 0 {
                let deadline = Date(timeIntervalSinceNow: 60)
                while done < 48 && condition.wait(until: deadline) {}
                doneWhenReleased = done
            }
            done += 1
            condition.broadcast()
        }
        XCTAssertGreaterThanOrEqual(doneWhenReleased, 48, "indices outside the held chunk run by the free thread")
        XCTAssertEqual(done, 64)
    }
}
