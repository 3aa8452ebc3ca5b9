/// Why the server could not start.
public struct HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The address the server tried to listen on, `host:port` (`[::]:8080` for IPv6).
    public var address: String
    /// What went wrong, e.g. `address already in use`.
    public var reason: String

    public init(address: String, reason: String) {
        self.address = address
        self.reason = reason
    }

    /// `cannot listen on 0.0.0.0:8080: address already in use`.
    public var description: String { "cannot listen on \(address): \(reason)" }
}
