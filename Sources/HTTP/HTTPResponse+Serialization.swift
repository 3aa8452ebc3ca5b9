extension HTTPResponse {
    /// The wire form of the status line and header section, ending with the empty line.
    ///
    /// - Parameters:
    ///   - requestID: echoed as `X-Request-Id`.
    ///   - keepAlive: whether the connection stays open; `Connection: close` is sent when not,
    ///     `Connection: keep-alive` when an HTTP/1.0 client asked for it.
    ///   - requestVersion: the request's version, for the 1.0 keep-alive answer.
    ///   - date: the `Date` value (IMF-fixdate).
    func serializedHead(
        requestID: String, keepAlive: Bool, requestVersion: HTTPVersion = .http1_1,
        date: String = HTTPDate.format()
    ) -> [UInt8] {
        var fields = headers
        for name in ["Content-Length", "Transfer-Encoding", "Connection", "Date", "X-Request-Id"] {
            fields.remove(name: name)
        }
        var head = "HTTP/1.1 \(status) \(Self.sanitizedReason(reason))\r\n"
        head.reserveCapacity(256)
        head += "Date: \(date)\r\n"
        if !fields.contains("Server") {
            head += "Server: rcnn\r\n"
        }
        // RFC 9110 §8.6: no Content-Length in 1xx or 204 responses; everything else declares its
        // size, so the client never has to read until close.
        if status >= 200 && status != 204 {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "X-Request-Id: \(requestID)\r\n"
        if !keepAlive {
            head += "Connection: close\r\n"
        } else if requestVersion < .http1_1 {
            head += "Connection: keep-alive\r\n"
        }
        for (name, value) in fields where Self.isSafeFieldName(name) {
            head += "\(name): \(Self.sanitizedValue(value))\r\n"
        }
        head += "\r\n"
        return Array(head.utf8)
    }

    /// The interim `100 Continue` response (RFC 9110 §15.2.1).
    static let continueHead = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Whether a response to `method` carries content on the wire: never for HEAD, 1xx, 204, 304.
    func sendsBody(forMethod method: String) -> Bool {
        method != "HEAD" && status >= 200 && status != 204 && status != 304
    }

    /// Handler-supplied names that are not tokens are dropped rather than allowed to corrupt the
    /// header section.
    private static func isSafeFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isTokenCharacter)
    }

    /// CR, LF and other controls (except HTAB) in a handler-supplied value become spaces, so a
    /// value can never split the header section (response splitting).
    private static func sanitizedValue(_ value: String) -> String {
        guard value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else { return value }
        return String(decoding: value.utf8.map { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F ? 0x20 : $0 }, as: UTF8.self)
    }

    private static func sanitizedReason(_ reason: String) -> String {
        sanitizedValue(reason)
    }
}

/// RFC 9110 §5.6.2 `tchar`: the characters allowed in a token (method, field name, coding).
@inline(__always)
func isTokenCharacter(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
         UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
         UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
         UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}
