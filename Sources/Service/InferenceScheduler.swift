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
        /// `workers + queueDepth` jobs are already admitted (running or waiting).
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
    /// Parts of running jobs that idle workers may take (`spread`), oldest first.
    private var shared: [SharedWork] = []

    /// A running job's parts, `0..<count`, taken in order by the job's own thread and by idle
    /// workers. All fields are read and written under the scheduler's lock.
    private final class SharedWork {
        let count: Int
        let body: (Int) -> Void
        var next = 0
        var finished = 0
        /// The threads that took parts, by pthread id (unique among live threads).
        var threads = Set<UInt>()
        init(count: Int, body: @escaping (Int) -> Void) { self.count = count; self.body = body }
        var hasParts: Bool { next < count }
    }

    /// What to do once the scheduler has been idle (nothing running, nothing queued) for `after`
    /// seconds: by default give the memory of the last requests back to the system. A request that
    /// arrives sooner finds the previous one's freed memory still in the heap, already faulted in;
    /// one that arrives later faults it in again.
    public struct IdleRelease: Sendable {
        public var after: Double
        public var action: @Sendable () -> Void

        /// The longest quiet spell allowed: one day.
        public static let longest: Double = 86_400

        /// `after` is between 0 and `longest`.
        public init(after: Double, action: @escaping @Sendable () -> Void) {
            precondition((0...Self.longest).contains(after), "idle release after \(after) s")
            self.after = after
            self.action = action
        }

        /// The server's release: the heap's free memory back to the system (`MemoryPolicy.trim`)
        /// after `seconds` (`memory_release_after_s` in its config).
        public static func trimMemory(after seconds: Double) -> IdleRelease {
            IdleRelease(after: seconds) { MemoryPolicy.trim() }
        }
    }

    /// nil: nothing runs when idle.
    public let idleRelease: IdleRelease?
    /// When the pending idle release falls due (set when the last job of a burst finishes, or by
    /// `noteActivity`).
    private var releaseDue: Date?

    /// - Parameters:
    ///   - workers: threads running inference concurrently.
    ///   - queueDepth: jobs allowed to wait (not counting the ones running).
    ///   - idleRelease: what runs after a quiet spell, and how long that spell is (nil: nothing).
    public init(workers: Int, queueDepth: Int, idleRelease: IdleRelease?) {
        precondition(workers >= 1 && queueDepth >= 0)
        self.workers = workers
        self.queueDepth = queueDepth
        self.idleRelease = idleRelease
        for i in 0..<workers {
            // The workers keep the scheduler alive until `shutdown` (a worker waits on its
            // condition with a timeout while an idle release is pending, so it must not outlive it).
            let t = Thread { self.workerLoop() }
            t.name = "inference-\(i)"
            t.stackSize = 8 << 20
            threads.append(t)
            t.start()
        }
    }

    /// Jobs waiting (not yet running).
    public var waiting: Int { lock.lock(); defer { lock.unlock() }; return queue.count - head }
    /// The most jobs admitted at once: `workers` running plus `queueDepth` waiting.
    public var capacity: Int { workers + queueDepth }
    /// Jobs admitted now (running or waiting). Call with `lock` held.
    private var admittedLocked: Int { queue.count - head + running }
    /// True when a job submitted now would be refused with `queueFull`: a cheap, advisory check
    /// for refusing work before paying for it (the server reads it before a request's body); `run`
    /// checks again under the same lock when the job is submitted.
    public var isFull: Bool { lock.lock(); defer { lock.unlock() }; return admittedLocked >= capacity }
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
        // Admitted jobs (waiting or running) never exceed workers + queueDepth, whether or not the
        // workers have picked up what was queued before: counting only waiting jobs while a worker
        // is between jobs would let a burst queue more than the bound.
        if admittedLocked >= capacity {
            lock.unlock()
            throw Failure.queueFull
        }
        queue.append(job)
        // Broadcast, not signal: a job spreading its parts waits on the same condition, and a
        // signal that woke it instead of an idle worker would leave this job waiting.
        lock.broadcast()
        lock.unlock()
        if done.wait(timeout: deadline) == .timedOut {
            resultLock.lock(); if result == nil { result = .failure(Failure.deadlineExceeded) }; resultLock.unlock()
        }
        resultLock.lock(); defer { resultLock.unlock() }
        return try result!.get()
    }

    /// Runs `body(i)` for every `i` in `0..<count` from inside a running job, on the job's own
    /// worker and on any worker that is idle meanwhile, and returns how many threads took part.
    /// The job was admitted once; its parts are not: they never wait in the queue or count against
    /// `capacity`, and an idle worker takes a part only while no admitted job waits, so a request
    /// arriving meanwhile starts as soon as a worker finishes the part in hand. Parts are taken in
    /// order; `body` must be thread-safe. Returns when every part has finished.
    public func spread(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> Int {
        guard count > 0 else { return 1 }
        let work = SharedWork(count: count, body: body)
        lock.lock()
        shared.append(work)
        lock.broadcast()
        while work.hasParts {
            let i = work.next
            work.next += 1
            work.threads.insert(UInt(pthread_self()))
            lock.unlock()
            body(i)
            lock.lock()
            work.finished += 1
        }
        // Every part is taken: the job stops offering them, then waits for the ones in hand.
        shared.removeAll { $0 === work }
        while work.finished < work.count { lock.wait() }
        let threads = work.threads.count
        lock.unlock()
        return threads
    }

    /// The first shared work with parts left, when no admitted job waits. Call with `lock` held.
    private var helpWanted: SharedWork? {
        guard head == queue.count else { return nil }
        return shared.first { $0.hasParts }
    }

    /// Work outside the queue (a request that failed before inference, a large upload) also
    /// leaves freed memory behind: the idle release falls due after a quiet spell from now, if the
    /// scheduler is idle (otherwise the end of the running burst schedules it).
    public func noteActivity() {
        lock.lock()
        scheduleIdleRelease()
        lock.unlock()
    }

    /// Sets the idle release's due time if nothing runs or waits, waking the idle workers to wait
    /// for it. Call with `lock` held.
    private func scheduleIdleRelease() {
        guard let idleRelease, running == 0 && head == queue.count && !stopping else { return }
        releaseDue = Date(timeIntervalSinceNow: idleRelease.after)
        lock.broadcast()
    }

    private func workerLoop() {
        while true {
            lock.lock()
            while head == queue.count && !stopping {
                if let work = helpWanted {
                    // An idle worker lends itself to a running job: one part, then back to the
                    // queue (which comes first).
                    let i = work.next
                    work.next += 1
                    work.threads.insert(UInt(pthread_self()))
                    lock.unlock()
                    work.body(i)
                    lock.lock()
                    work.finished += 1
                    if work.finished == work.count { lock.broadcast() }
                    continue
                }
                guard let due = releaseDue else { lock.wait(); continue }
                if lock.wait(until: due) { continue }
                // Timed out: the first worker to see it runs the release if the scheduler is still
                // idle; if a burst is running, its end sets a new due time.
                guard releaseDue == due else { continue }
                releaseDue = nil
                if running == 0 && head == queue.count && !stopping {
                    lock.unlock()
                    idleRelease?.action()
                    lock.lock()
                }
            }
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
            // The end of a burst: the idle release falls due after a quiet spell.
            scheduleIdleRelease()
            lock.unlock()
        }
    }

    /// Stops taking jobs; queued jobs still run. Returns when the workers have finished.
    public func shutdown() {
        lock.lock(); stopping = true; lock.broadcast(); lock.unlock()
        while threads.contains(where: { !$0.isFinished }) { usleep(1000) }
        // A finished Thread still holds its closure, and with it this scheduler.
        threads.removeAll()
    }
}
