/// Request ids: the client's `X-Request-Id` when it is safe to echo, otherwise a fresh one.
enum RequestID {
    /// The longest client-supplied id that is echoed back.
    static let maxLength = 128

    /// `value` when it is 1–128 visible ASCII characters (0x21–0x7E), so that it can be echoed in a
    /// header and written to logs without escaping; otherwise nil.
    static func sanitized(_ value: String?) -> String? {
        guard let value else { return nil }
        let utf8 = value.utf8
        guard !utf8.isEmpty, utf8.count <= maxLength,
              utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E })
        else { return nil }
        return value
    }

    /// A random 128-bit id as 32 lowercase hex digits (the W3C trace-id shape).
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return hex(generator.next()) + hex(generator.next())
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        var remaining = value
        for index in stride(from: 15, through: 0, by: -1) {
            out[index] = digits[Int(remaining & 0xF)]
            remaining >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }
}
