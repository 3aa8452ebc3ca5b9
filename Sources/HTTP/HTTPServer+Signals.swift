#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

extension HTTPServer {
    /// For `main`: serves until SIGINT or SIGTERM arrives (or another thread stops the server),
    /// then stops gracefully with `gracePeriod` seconds and returns the signal number (nil when
    /// stopped otherwise), so `main` can return and the process exit 0.
    ///
    /// Installs the signal handlers when called. A signal that arrives before that (during
    /// start-up) still has its default, fatal action; to close that window create the
    /// `SignalWaiter` first thing in `main` and pass it to `runUntilSignal(_:gracePeriod:)`.
    @discardableResult
    public func runUntilSignal(signals: [Int32] = [SIGINT, SIGTERM], gracePeriod: Double = 10) -> Int32? {
        runUntilSignal(SignalWaiter(signals: signals), gracePeriod: gracePeriod)
    }

    /// `runUntilSignal` with handlers installed earlier, e.g. before loading models:
    ///
    ///     let signals = SignalWaiter()   // from here on SIGTERM means "shut down gracefully"
    ///     let server = HTTPServer(configuration: configuration, handler: handle)
    ///     try server.start()
    ///     server.runUntilSignal(signals)
    ///
    /// A signal that arrived before this call makes it stop the server at once.
    @discardableResult
    public func runUntilSignal(_ waiter: SignalWaiter, gracePeriod: Double = 10) -> Int32? {
        Thread.detachNewThread { [self] in
            wait()
            waiter.interrupt()
        }
        let number = waiter.wait()
        stop(gracePeriod: gracePeriod)
        waiter.restoreDefaultActions()
        return number
    }
}
