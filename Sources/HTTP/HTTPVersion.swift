/// An HTTP protocol version as carried on the request line (`HTTP/1.1`).
///
/// The server speaks HTTP/1.1 and accepts HTTP/1.0 requests; a request announcing `HTTP/1.x` with
/// x > 1 is handled as 1.1 (RFC 9110 §6.2: a recipient treats a higher minor version as the highest
/// one it supports), any other major version is answered with 505.
public struct HTTPVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0: connections close after each response unless the client asks for keep-alive.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1: connections are persistent unless either side sends `Connection: close`.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// `HTTP/1.1`.
    public var description: String { "HTTP/\(major).\(minor)" }

    public static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}
