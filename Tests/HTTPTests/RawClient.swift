#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XCTest

/// A response as the raw test client read it.
struct RawResponse {
    var status: Int
    var reason: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

enum RawClientError: Error {
    case connect(Int32)
    case timedOut(String)
    case closed(String)
    case malformed(String)
}

/// A deliberately dumb HTTP/1.1 client on a blocking-with-poll socket, independent of the server's
/// parser. Every wait has a timeout (a hang guard, not a speed assertion).
final class RawClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    static let defaultTimeout: Double = 10

    /// Connects to a numeric address (`127.0.0.1` or `::1`).
    init(host: String = "127.0.0.1", port: Int) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &results) == 0, let info = results else {
            throw RawClientError.connect(-1)
        }
        defer { freeaddrinfo(results) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawClientError.connect(errno) }
        if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 {
            let code = errno
            _ = Glibc.close(fd)
            throw RawClientError.connect(code)
        }
        self.fd = fd
    }

    deinit { _ = Glibc.close(fd) }

    /// True when a connect to `host:port` is refused.
    static func isRefused(host: String = "127.0.0.1", port: Int) -> Bool {
        do {
            _ = try RawClient(host: host, port: port)
            return false
        } catch RawClientError.connect(let code) {
            return code == ECONNREFUSED
        } catch {
            return false
        }
    }

    /// Sends everything; false when the peer is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { return false }
            offset += count
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Closes the write side (the server sees end of stream).
    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }

    /// Reads once; nil on timeout, empty at end of stream or reset.
    private func readSome(timeout: Double) -> [UInt8]? {
        var pollDescriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pollDescriptor, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(chunk[0..<count]) : []
    }

    /// Reads until `buffer` holds `count` bytes.
    private func fill(_ count: Int, deadline: Date) throws {
        while buffer.count < count {
            guard let chunk = readSome(timeout: max(0.01, deadline.timeIntervalSinceNow)) else {
                throw RawClientError.timedOut("waiting for \(count) bytes, have \(buffer.count)")
            }
            if chunk.isEmpty { throw RawClientError.closed("after \(buffer.count) bytes") }
            buffer += chunk
        }
    }

    /// Reads one response; `bodyless` for the answer to HEAD. Interim 1xx responses are returned
    /// like any other (call again for the final one).
    func readResponse(bodyless: Bool = false, timeout: Double = defaultTimeout) throws -> RawResponse {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var headEnd: Int?
        while headEnd == nil {
            headEnd = findHeadEnd()
            if headEnd == nil {
                guard let chunk = readSome(timeout: max(0.01, deadline.timeIntervalSinceNow)) else {
                    throw RawClientError.timedOut("waiting for a response head, have \(buffer.count) bytes")
                }
                if chunk.isEmpty { throw RawClientError.closed("before a complete head (\(buffer.count) bytes)") }
                buffer += chunk
            }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2).map(String.init)
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else {
            throw RawClientError.malformed(head)
        }
        let headers = lines.map { line -> (name: String, value: String) in
            let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
        }
        var response = RawResponse(status: status, reason: statusLine.count > 2 ? statusLine[2] : "", headers: headers, body: [])
        if !bodyless && status >= 200 && status != 204 && status != 304 {
            guard let length = response.header("Content-Length").flatMap(Int.init) else {
                throw RawClientError.malformed("no Content-Length in \(head)")
            }
            try fill(length, deadline: deadline)
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        }
        return response
    }

    /// True when the server closes the connection (EOF or reset) within `timeout`, with no
    /// further bytes first.
    func isClosedByPeer(timeout: Double = defaultTimeout) -> Bool {
        guard buffer.isEmpty else { return false }
        guard let chunk = readSome(timeout: timeout) else { return false }
        return chunk.isEmpty
    }

    /// Everything until the server closes (or `timeout`).
    func readUntilClose(timeout: Double = defaultTimeout) -> [UInt8] {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var all = buffer
        buffer = []
        while let chunk = readSome(timeout: max(0.01, deadline.timeIntervalSinceNow)), !chunk.isEmpty {
            all += chunk
        }
        return all
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }
}

/// A minimal request text with Host.
func request(_ method: String, _ target: String, headers: [String] = [], body: String? = nil) -> String {
    var text = "\(method) \(target) HTTP/1.1\r\nHost: test\r\n"
    for header in headers { text += header + "\r\n" }
    if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
    return text + "\r\n" + (body ?? "")
}
