import Dispatch

/// Runs `body(i)` for `i` in `0..<count`, spread over the cores. One helper for every op that
/// parallelises over channels or regions (instead of threading code copied into each op).
@inlinable
public func parallelFor(_ count: Int, minimumPerTask: Int = 1, _ body: (Int) -> Void) {
    if count <= 0 { return }
    let workers = min(Parallelism.workers, max(1, count / max(1, minimumPerTask)))
    if workers <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let lo = count * w / workers
            let hi = count * (w + 1) / workers
            for i in lo..<hi { body(i) }
        }
    }
}

/// How many CPU workers `parallelFor` uses; set once at start-up (defaults to the core count).
public enum Parallelism {
    nonisolated(unsafe) public static var workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
}

import Foundation
