import Dispatch
import Foundation

/// A bounded inference queue served by a fixed set of worker threads. Socket threads submit work and
/// wait; inference itself only ever runs on the workers. When the queue is full, `submit` fails at
/// once (the server answers 503 with `Retry-After`) instead of letting requests pile up; a job that
/// waited past its deadline is dropped before it runs.
///
/// Thread-safety: all methods may be called from any thread.
public final class InferenceScheduler: @unchecked Sendable {
    public enum Failure: Error, Equatable {
        /// The queue already holds `queueDepth` jobs.
        case queueFull
        /// The job's deadline passed while it waited in the queue or ran.
        case deadlineExceeded
        /// The scheduler is shutting down.
        case stopped
    }

    private struct Job {
        let run: () -> Void
        let expire: () -> Void
        let deadline: DispatchTime
    }

    public let workers: Int
    public let queueDepth: Int
    /// Pending jobs from `head` on; taken slots are set to nil at once, so a finished job's closures
    /// (and the result they captured) are released as soon as the job has run.
    private var queue: [Job?] = []
    private var head = 0
    private var running = 0
    private var stopping = false
    private let lock = NSCondition()
    private var threads: [Thread] = []

    /// - Parameters:
    ///   - workers: threads running inference concurrently.
    ///   - queueDepth: jobs allowed to wait (not counting the ones running).
    public init(workers: Int, queueDepth: Int) {
        precondition(workers >= 1 && queueDepth >= 0)
        self.workers = workers
        self.queueDepth = queueDepth
        for i in 0..<workers {
            let t = Thread { [unowned self] in self.workerLoop() }
            t.name = "inference-\(i)"
            t.stackSize = 8 << 20
            threads.append(t)
            t.start()
        }
    }

    /// Jobs waiting (not yet running).
    public var waiting: Int { lock.lock(); defer { lock.unlock() }; return queue.count - head }
    /// Jobs running now.
    public var inFlight: Int { lock.lock(); defer { lock.unlock() }; return running }

    /// Runs `body` on a worker and returns its result, waiting at most until `deadline`.
    public func run<T>(deadline: DispatchTime, _ body: @escaping () throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        var result: Result<T, Error>?
        let resultLock = NSLock()
        let job = Job(
            run: {
                let r = Result { try body() }
                resultLock.lock(); if result == nil { result = r }; resultLock.unlock()
                done.signal()
            },
            expire: {
                resultLock.lock(); if result == nil { result = .failure(Failure.deadlineExceeded) }; resultLock.unlock()
                done.signal()
            },
            deadline: deadline)
        lock.lock()
        if stopping { lock.unlock(); throw Failure.stopped }
        if queue.count - head >= queueDepth && running >= workers {
            lock.unlock()
            throw Failure.queueFull
        }
        queue.append(job)
        lock.signal()
        lock.unlock()
        if done.wait(timeout: deadline) == .timedOut {
            resultLock.lock(); if result == nil { result = .failure(Failure.deadlineExceeded) }; resultLock.unlock()
        }
        resultLock.lock(); defer { resultLock.unlock() }
        return try result!.get()
    }

    private func workerLoop() {
        while true {
            lock.lock()
            while head == queue.count && !stopping { lock.wait() }
            if head == queue.count && stopping { lock.unlock(); return }
            let job = queue[head]!
            queue[head] = nil
            head += 1
            if head > 64 && head * 2 > queue.count { queue.removeFirst(head); head = 0 }
            running += 1
            lock.unlock()
            if DispatchTime.now() > job.deadline { job.expire() } else { job.run() }
            lock.lock()
            running -= 1
            let idle = running == 0 && head == queue.count
            lock.unlock()
            // Between bursts, give the memory of the last requests back to the system.
            if idle { MemoryPolicy.trim() }
        }
    }

    /// Stops taking jobs; queued jobs still run. Returns when the workers have finished.
    public func shutdown() {
        lock.lock(); stopping = true; lock.broadcast(); lock.unlock()
        while threads.contains(where: { !$0.isFinished }) { usleep(1000) }
    }
}
