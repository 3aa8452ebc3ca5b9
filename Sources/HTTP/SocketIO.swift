#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, non-throwing wrappers over the POSIX socket calls the server uses.
///
/// All sockets are non-blocking; waiting happens only in `poll`, always with a deadline, so no
/// thread can hang on a slow or vanished peer. `send` uses `MSG_NOSIGNAL`, so a peer that
/// disconnects yields `EPIPE` instead of a process-killing `SIGPIPE`.
enum SocketIO {
    /// The outcome of waiting for a socket.
    enum WaitResult {
        case ready
        case timedOut
        /// The stop descriptor became readable.
        case stopRequested
        /// The socket reported an error or hang-up with nothing left to read.
        case failed
    }

    /// Monotonic time in nanoseconds, unaffected by wall-clock changes.
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// `seconds` as a nanosecond interval, saturating.
    static func nanoseconds(_ seconds: Double) -> UInt64 {
        seconds <= 0 ? 0 : UInt64(min(seconds, 1e9) * 1e9)
    }

    /// Waits until `fd` is readable (or writable, with `forWriting`), the optional `stopFD` is
    /// readable, or the monotonic `deadline` (nanoseconds) passes. Retries on EINTR.
    static func wait(_ fd: Int32, forWriting: Bool = false, stopFD: Int32? = nil, deadline: UInt64) -> WaitResult {
        let events = forWriting ? Int16(POLLOUT) : Int16(POLLIN)
        while true {
            let current = now()
            if current >= deadline { return .timedOut }
            // Wake at least once a second: cheap, and a safety net against a missed wake-up.
            let milliseconds = Int32((min(deadline - current, 1_000_000_000) + 999_999) / 1_000_000)
            var fds = [pollfd(fd: fd, events: events, revents: 0)]
            if let stopFD { fds.append(pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0)) }
            let count = poll(&fds, nfds_t(fds.count), milliseconds)
            if count < 0 {
                if errno == EINTR { continue }
                return .failed
            }
            if count == 0 { continue }
            if fds.count > 1 && fds[1].revents != 0 { return .stopRequested }
            let revents = fds[0].revents
            if revents & events != 0 { return .ready }
            // POLLHUP without POLLIN: nothing left to read; POLLERR / POLLNVAL: broken.
            if revents & (Int16(POLLERR) | Int16(POLLHUP) | Int16(POLLNVAL)) != 0 { return .failed }
        }
    }

    /// Reads what is available into `buffer`. Returns the byte count, 0 at end of stream, nil when
    /// nothing is available yet (EAGAIN / EINTR), or -1 on error (reset, ...).
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let count = recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
        if count >= 0 { return count }
        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return nil }
        return -1
    }

    /// Writes all of `bytes` before the monotonic `deadline`. Returns the number of bytes written;
    /// fewer than `bytes.count` means the peer went away or the deadline passed.
    static func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, deadline: UInt64) -> Int {
        var offset = 0
        while offset < bytes.count {
            let count = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if count > 0 {
                offset += count
                continue
            }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                if wait(fd, forWriting: true, deadline: deadline) == .ready { continue }
            }
            break
        }
        return offset
    }

    /// `sendAll` for an array.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: UInt64) -> Int {
        bytes.withUnsafeBytes { sendAll(fd, $0, deadline: deadline) }
    }

    /// Makes `fd` non-blocking and close-on-exec (accept4/pipe2 are not exported by Glibc's
    /// Swift overlay, so this is done after the fact).
    static func configureDescriptor(_ fd: Int32) {
        _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Sets an integer socket option, ignoring failure (all uses are best-effort tuning).
    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Half-closes the sending side: the peer reads end-of-stream after our last byte.
    static func shutdownWrite(_ fd: Int32) {
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    /// Shuts both directions: wakes any thread blocked on `fd` without freeing the descriptor.
    static func shutdownBoth(_ fd: Int32) {
        _ = shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Closes `fd`.
    static func close(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }

    /// `errno` as text.
    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code)).lowercased()
    }
}
