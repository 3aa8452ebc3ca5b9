#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Per signal number, the pipe a caught signal is written to (-1: none). A raw pointer, allocated
/// once, so that the signal handler reads it without any Swift runtime call.
nonisolated(unsafe) private let signalPipeTable: UnsafeMutablePointer<Int32> = {
    let table = UnsafeMutablePointer<Int32>.allocate(capacity: 65)
    table.initialize(repeating: -1, count: 65)
    return table
}()

/// The C signal handler: writes the signal number to its pipe (the self-pipe trick). Only
/// async-signal-safe calls; `errno` is preserved for the interrupted thread.
private let forwardSignalToPipe: @convention(c) (Int32) -> Void = { number in
    guard number > 0 && number < 65 else { return }
    let fd = signalPipeTable[Int(number)]
    guard fd >= 0 else { return }
    let savedErrno = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(fd, &byte, 1)
    errno = savedErrno
}

/// Waits for termination signals (by default SIGINT and SIGTERM).
///
/// `init` installs the handler synchronously (`signal(2)`, BSD semantics: `SA_RESTART`), so a
/// signal sent any time after `init` returns is caught, never lost and never fatal; the handler
/// only writes the signal number to a pipe that `wait` reads. (A `DispatchSource` signal source
/// was not used: on Linux it installs its handler asynchronously after `resume()`, so a signal
/// arriving in that window is lost.) One waiter per signal at a time; thread-safe.
public final class SignalWaiter: @unchecked Sendable {
    private let signals: [Int32]
    private var fds: [Int32] = [-1, -1]
    private let lock = NSLock()
    private var restored = false

    /// Starts catching `signals` (default SIGINT and SIGTERM).
    public init(signals: [Int32] = [SIGINT, SIGTERM]) {
        self.signals = signals.filter { $0 > 0 && $0 < 65 }
        if pipe(&fds) == 0 {
            SocketIO.configureDescriptor(fds[0])
            SocketIO.configureDescriptor(fds[1])
        }
        for number in self.signals {
            signalPipeTable[Int(number)] = fds[1]
            signal(number, forwardSignalToPipe)
        }
    }

    deinit {
        restoreDefaultActions()
        for fd in fds where fd >= 0 { SocketIO.close(fd) }
    }

    /// Blocks until one of the signals arrives or `interrupt()` is called; returns the signal
    /// number, or nil when interrupted.
    public func wait() -> Int32? {
        wait(timeoutSeconds: .infinity)
    }

    /// `wait()` giving up after `seconds`; nil when nothing arrived in time or when interrupted.
    public func wait(timeoutSeconds seconds: Double) -> Int32? {
        let deadline = seconds.isFinite ? SocketIO.now() + SocketIO.nanoseconds(seconds) : UInt64.max
        while true {
            guard SocketIO.wait(fds[0], deadline: deadline) == .ready else { return nil }
            var byte: UInt8 = 0
            let count = read(fds[0], &byte, 1)
            if count == 1 { return byte == 0 ? nil : Int32(byte) }
            if count == 0 || (errno != EAGAIN && errno != EINTR) { return nil }
        }
    }

    /// Makes a pending or later `wait()` return nil.
    public func interrupt() {
        var byte: UInt8 = 0
        _ = write(fds[1], &byte, 1)
    }

    /// Stops catching and restores the default actions, so that a second Ctrl-C after shutdown
    /// began terminates the process as usual.
    public func restoreDefaultActions() {
        lock.lock()
        defer { lock.unlock() }
        guard !restored else { return }
        restored = true
        for number in signals {
            signal(number, SIG_DFL)
            if signalPipeTable[Int(number)] == fds[1] { signalPipeTable[Int(number)] = -1 }
        }
    }
}
