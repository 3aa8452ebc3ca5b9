/// One line of the access log: a response the server wrote (or tried to write).
///
/// Reported after the response was written, on the connection's thread; the logger must be
/// thread-safe. Refused requests (parse errors, 408, the 503 for too many connections, a refusal
/// from the head) and requests the client abandoned part-way (499) are reported too; fields not
/// known at that point are empty.
public struct AccessLogEntry: Sendable, CustomStringConvertible {
    /// The request method, or `""` when the request line was never parsed.
    public var method: String
    /// The decoded request path (the raw target when it could not be decoded; `""` when unknown).
    public var path: String
    /// The response status; `clientClosedRequest` (499) when the client closed the connection
    /// before its request was complete, so nothing was answered.
    public var status: Int
    /// Request bytes read from the wire for this request (head, framing and body).
    public var bytesIn: Int
    /// Response bytes written to the wire (head and body); less than the full response when the
    /// client went away.
    public var bytesOut: Int
    /// From the first byte of the request to the last byte of the response, in milliseconds.
    public var durationMilliseconds: Double
    /// The request id echoed in `X-Request-Id`.
    public var requestID: String
    /// The peer address, `127.0.0.1:50312` or `[::1]:50312`.
    public var remoteAddress: String

    public init(
        method: String, path: String, status: Int, bytesIn: Int, bytesOut: Int,
        durationMilliseconds: Double, requestID: String, remoteAddress: String
    ) {
        self.method = method
        self.path = path
        self.status = status
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.durationMilliseconds = durationMilliseconds
        self.requestID = requestID
        self.remoteAddress = remoteAddress
    }

    /// The status logged for a request the client abandoned before sending all of it (nginx's 499).
    public static let clientClosedRequest = 499

    /// `127.0.0.1:50312 "GET /healthz" 200 in=78 out=164 1.234ms id=...`.
    public var description: String {
        let milliseconds = (durationMilliseconds * 1000).rounded() / 1000
        return "\(remoteAddress) \"\(method) \(path)\" \(status) in=\(bytesIn) out=\(bytesOut) \(milliseconds)ms id=\(requestID)"
    }
}
