#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Closes server-closed connections gracefully, on one background thread.
///
/// Closing a TCP socket that still has unread input makes the kernel send RST, and a client that
/// receives RST may discard our last response before reading it — typical after a 413 or 400
/// while the client is still sending, or a 503 for a client that sent its request at once. So,
/// as RFC 9112 §9.6 advises, the server half-closes (FIN after the response), then keeps reading
/// and discarding until the client closes, `lingerSeconds` pass or `maxDrainBytes` were read.
/// One poll thread does this for all such sockets, so connection threads and the accept thread
/// are freed at once. At most `maxSockets` linger; beyond that a socket is closed immediately.
///
/// Thread-safe.
final class LingeringCloser: @unchecked Sendable {
    private struct Entry {
        var fd: Int32
        var deadline: UInt64
        var drained: Int
    }

    private let lingerNanoseconds: UInt64
    private let maxDrainBytes: Int
    private let maxSockets: Int
    private let condition = NSCondition()
    private var entries: [Entry] = []
    private var finished = false
    private var threadRunning = false
    /// Written to wake the poll thread when a socket is added or on finish.
    private var wakeFDs: [Int32] = [-1, -1]

    init(lingerSeconds: Double = 2, maxDrainBytes: Int = 1 << 20, maxSockets: Int = 256) {
        lingerNanoseconds = SocketIO.nanoseconds(lingerSeconds)
        self.maxDrainBytes = maxDrainBytes
        self.maxSockets = maxSockets
        if pipe(&wakeFDs) == 0 {
            SocketIO.configureDescriptor(wakeFDs[0])
            SocketIO.configureDescriptor(wakeFDs[1])
        }
    }

    deinit {
        for entry in entries { SocketIO.close(entry.fd) }
        for fd in wakeFDs where fd >= 0 { SocketIO.close(fd) }
    }

    /// The number of sockets still lingering.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return entries.count
    }

    /// Takes ownership of `fd`: half-closes it now and closes it once the peer is done.
    func close(_ fd: Int32) {
        SocketIO.shutdownWrite(fd)
        condition.lock()
        guard !finished, wakeFDs[0] >= 0, entries.count < maxSockets else {
            condition.unlock()
            SocketIO.close(fd)
            return
        }
        entries.append(Entry(fd: fd, deadline: SocketIO.now() + lingerNanoseconds, drained: 0))
        let startThread = !threadRunning
        threadRunning = true
        condition.unlock()
        if startThread {
            let thread = Thread { [self] in run() }
            thread.name = "http-linger"
            thread.start()
        } else {
            wake()
        }
    }

    /// Waits until no socket lingers or `deadline` (monotonic nanoseconds) passes, then closes
    /// whatever is left and refuses further lingering (later sockets are closed at once).
    /// Only the poll thread ever closes a lingering descriptor, so none can be closed twice or
    /// read after reuse.
    func finish(deadline: UInt64) {
        condition.lock()
        while !entries.isEmpty && SocketIO.now() < deadline {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.02))
        }
        finished = true
        condition.unlock()
        wake()
        condition.lock()
        while threadRunning {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.02))
        }
        condition.unlock()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeFDs[1], &byte, 1)
    }

    private func run() {
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            condition.lock()
            if finished || entries.isEmpty {
                let remaining = entries
                entries.removeAll()
                threadRunning = false
                condition.broadcast()
                condition.unlock()
                for entry in remaining { SocketIO.close(entry.fd) }
                return
            }
            let snapshot = entries
            condition.unlock()

            var fds = snapshot.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            fds.append(pollfd(fd: wakeFDs[0], events: Int16(POLLIN), revents: 0))
            let now = SocketIO.now()
            let nearest = snapshot.map(\.deadline).min() ?? now
            let timeout = nearest > now ? Int32(min((nearest - now) / 1_000_000 + 1, 1000)) : 0
            _ = poll(&fds, nfds_t(fds.count), timeout)
            if fds[fds.count - 1].revents != 0 {
                while scratch.withUnsafeMutableBytes({ read(wakeFDs[0], $0.baseAddress, $0.count) }) > 0 {}
            }

            var done: Set<Int32> = []
            var drained: [Int32: Int] = [:]
            let checkTime = SocketIO.now()
            for (index, entry) in snapshot.enumerated() {
                var total = entry.drained
                if fds[index].revents != 0 {
                    while true {
                        let result = scratch.withUnsafeMutableBytes { SocketIO.receive(entry.fd, into: $0) }
                        guard let count = result else { break }
                        if count <= 0 {
                            done.insert(entry.fd)
                            break
                        }
                        total += count
                        if total >= maxDrainBytes { done.insert(entry.fd); break }
                    }
                }
                drained[entry.fd] = total
                if checkTime >= entry.deadline { done.insert(entry.fd) }
            }

            condition.lock()
            var closing: [Int32] = []
            entries.removeAll { entry in
                guard done.contains(entry.fd) else { return false }
                closing.append(entry.fd)
                return true
            }
            for index in entries.indices { entries[index].drained = drained[entries[index].fd] ?? entries[index].drained }
            if !closing.isEmpty { condition.broadcast() }
            condition.unlock()
            for fd in closing { SocketIO.close(fd) }
        }
    }
}
