#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pipe whose read end becomes readable, for good, when `fire()` is called: every thread that
/// polls it wakes. Closed only when the last user releases it.
final class StopSignal: @unchecked Sendable {
    private var fds: [Int32] = [-1, -1]

    init() {
        if pipe(&fds) == 0 {
            SocketIO.configureDescriptor(fds[0])
            SocketIO.configureDescriptor(fds[1])
        }
    }

    deinit {
        for fd in fds where fd >= 0 { SocketIO.close(fd) }
    }

    var readFD: Int32 { fds[0] }

    func fire() {
        var byte: UInt8 = 1
        _ = write(fds[1], &byte, 1)
    }
}
