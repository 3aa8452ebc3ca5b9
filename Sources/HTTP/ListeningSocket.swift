#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bound, listening TCP socket.
///
/// Host rules: `"0.0.0.0"` (all IPv4 interfaces), `"::"` (dual-stack: IPv6 and IPv4-mapped, with
/// `IPV6_V6ONLY` off), `"localhost"` (bound as `127.0.0.1`, so the address is predictable whatever
/// `/etc/hosts` says), any numeric address, or a resolvable name (its first usable address).
struct ListeningSocket {
    let fd: Int32
    /// The port actually bound (the ephemeral one when 0 was asked for).
    let port: Int
    /// `host:port` as bound, e.g. `127.0.0.1:8080` or `[::]:8080`.
    let address: String

    /// Resolves, binds and listens. Throws `HTTPServerError` naming the address on failure.
    static func bind(host: String, port: Int, backlog: Int32) throws -> ListeningSocket {
        guard (0...65535).contains(port) else {
            throw HTTPServerError(address: display(host: host, port: port), reason: "port \(port) is out of range")
        }
        let bindHost = host == "localhost" ? "127.0.0.1" : host
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(bindHost.isEmpty ? nil : bindHost, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw HTTPServerError(
                address: display(host: host, port: port),
                reason: "cannot resolve host: \(String(cString: gai_strerror(status)))"
            )
        }
        defer { freeaddrinfo(results) }

        var firstError: HTTPServerError?
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            do {
                return try bind(info.pointee, host: host, port: port, backlog: backlog)
            } catch let error as HTTPServerError {
                if firstError == nil { firstError = error }
            }
        }
        throw firstError ?? HTTPServerError(address: display(host: host, port: port), reason: "no usable address")
    }

    private static func bind(_ info: addrinfo, host: String, port: Int, backlog: Int32) throws -> ListeningSocket {
        let shown = display(host: host, port: port)
        let fd = socket(info.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else {
            throw HTTPServerError(address: shown, reason: "socket: \(SocketIO.errorText(errno))")
        }
        SocketIO.configureDescriptor(fd)
        // Rebinding right after a restart must not fail on connections in TIME_WAIT.
        SocketIO.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
        if info.ai_family == AF_INET6 {
            SocketIO.setOption(fd, level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, value: host == "::" ? 0 : 1)
        }
        if Glibc.bind(fd, info.ai_addr, info.ai_addrlen) != 0 {
            let code = errno
            SocketIO.close(fd)
            throw HTTPServerError(address: shown, reason: SocketIO.errorText(code))
        }
        if listen(fd, backlog) != 0 {
            let code = errno
            SocketIO.close(fd)
            throw HTTPServerError(address: shown, reason: "listen: \(SocketIO.errorText(code))")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let boundPort = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        } == 0 ? describe(storage).port : port
        return ListeningSocket(fd: fd, port: boundPort, address: display(host: host, port: boundPort))
    }

    /// Accepts one pending connection: its descriptor (non-blocking, TCP_NODELAY) and the peer
    /// address text. nil when none is pending; `errno` tells why.
    func accept() -> (fd: Int32, remote: String)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &length) }
        }
        guard client >= 0 else { return nil }
        SocketIO.configureDescriptor(client)
        // Responses are written whole; don't let Nagle hold back the tail of one.
        SocketIO.setOption(client, level: Int32(IPPROTO_TCP), name: Int32(TCP_NODELAY), value: 1)
        let peer = Self.describe(storage)
        return (client, peer.text)
    }

    /// `127.0.0.1:5000` / `[::1]:5000` and the port, for an IPv4 or IPv6 socket address.
    static func describe(_ storage: sockaddr_storage) -> (text: String, port: Int) {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var raw = address.pointee.sin_addr
                    inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                    let port = Int(UInt16(bigEndian: address.pointee.sin_port))
                    return ("\(String(cString: text)):\(port)", port)
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var raw = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                    let port = Int(UInt16(bigEndian: address.pointee.sin6_port))
                    return ("[\(String(cString: text))]:\(port)", port)
                }
            }
        default:
            return ("unknown", 0)
        }
    }

    /// `host:port`, bracketing IPv6 literals.
    static func display(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
