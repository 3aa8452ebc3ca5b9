#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension BLAS {
    /// Stops OpenBLAS's worker threads, which the next threaded call starts again.
    ///
    /// After a threaded call, each of OpenBLAS's (pthreads build) workers waits for the next one by
    /// spinning, 2^28 cycles by default (about 0.1 s), before it sleeps. Work that runs on our own
    /// threads in that time (`parallelFor`, so every int8 layer) shares a core with a spinning
    /// worker: on 2 cores, a layer timed right after a float32 layer ran up to twice as slow as
    /// after a pause. Timing comparisons stop the workers first, so that each side starts from the
    /// same quiet machine. Not for use while another thread may be inside BLAS.
    ///
    /// Returns false where the library has no such control (an OpenMP or single-threaded OpenBLAS,
    /// another BLAS): nothing is done then.
    @discardableResult
    public static func stopWorkerThreads() -> Bool {
        guard let control = WorkerThreadControl.shared else { return false }
        _ = control.shutdown()
        return true
    }

    /// Starts OpenBLAS's worker threads now rather than inside the next threaded call (a no-op while
    /// they run), so that a timed call does not include their start. Returns false where the library
    /// has no such control.
    @discardableResult
    public static func startWorkerThreads() -> Bool {
        guard let control = WorkerThreadControl.shared else { return false }
        _ = control.initialize()
        return true
    }
}

/// OpenBLAS's own entry points for its thread pool (what its fork handler calls), found at run time
/// so that a build against a BLAS without them still links and runs.
private struct WorkerThreadControl {
    typealias Entry = @convention(c) () -> Int32
    let shutdown: Entry
    let initialize: Entry

    static let shared: WorkerThreadControl? = {
        guard let handle = dlopen(nil, RTLD_NOW),
              let stop = dlsym(handle, "blas_thread_shutdown_"),
              let start = dlsym(handle, "blas_thread_init") else { return nil }
        return WorkerThreadControl(shutdown: unsafeBitCast(stop, to: Entry.self),
                                   initialize: unsafeBitCast(start, to: Entry.self))
    }()
}
