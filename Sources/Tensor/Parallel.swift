import Dispatch
import Synchronization

/// How `parallelFor` hands out its indices.
public enum ParallelSchedule: Sendable {
    /// One fixed, even share of consecutive indices per thread: each thread touches the same part
    /// of the data from one op to the next, which keeps it in that core's cache (the float32 ops of a
    /// small model ran faster with these shares than with claimed chunks).
    case even
    /// Consecutive chunks that each thread claims as it becomes free (guided self-scheduling: a
    /// chunk is the unclaimed remainder over twice the threads, at least `minimumPerTask`): when a
    /// core is slowed (another process or virtual machine on it, an OpenBLAS thread still spinning
    /// after its last call) the others take over its work instead of waiting for its share. For
    /// long tasks whose data comes from memory anyway, such as the int8 multiply's row blocks.
    case claimed
}

/// Runs `body(i)` for `i` in `0..<count`, spread over at most `Parallelism.workers` threads. One
/// helper for every op that parallelises over channels or regions (instead of threading code copied
/// into each op).
@inlinable
public func parallelFor(_ count: Int, minimumPerTask: Int = 1, schedule: ParallelSchedule = .even,
                        _ body: (Int) -> Void) {
    if count <= 0 { return }
    let smallest = max(1, minimumPerTask)
    let workers = min(Parallelism.workers, max(1, count / smallest))
    if workers <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        switch schedule {
        case .even:
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = count * w / workers
                let hi = count * (w + 1) / workers
                for i in lo..<hi { body(i) }
            }
        case .claimed:
            let claims = ChunkCounter()
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                var lo = claims.next.load(ordering: .relaxed)
                while lo < count {
                    let hi = min(count, lo + max(smallest, (count - lo) / (2 * workers)))
                    let (exchanged, current) = claims.next.compareExchange(expected: lo, desired: hi, ordering: .relaxed)
                    if exchanged {
                        for i in lo..<hi { body(i) }
                        lo = claims.next.load(ordering: .relaxed)
                    } else {
                        lo = current
                    }
                }
            }
        }
    }
}

/// The next unclaimed index of a claimed-chunks `parallelFor`, on its own cache line rather than on
/// the caller's stack beside the caller's variables, which every claim would move between cores.
@usableFromInline
final class ChunkCounter {
    @usableFromInline let before: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    @usableFromInline let next = Atomic<Int>(0)
    @usableFromInline let after: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    @usableFromInline init() {}
}

/// How many CPU workers `parallelFor` uses; set once at start-up (defaults to the core count).
public enum Parallelism {
    nonisolated(unsafe) public static var workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
}

import Foundation
