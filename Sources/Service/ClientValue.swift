import Detection
import Foundation

/// Checked conversions of values a client sent (JSON members, query parameters, form fields,
/// headers) into the numbers the service computes with. Every conversion is range-checked before
/// it happens, so no client value reaches a trapping `Int(_:)`, an overflowing multiplication or
/// a non-finite float; a bad option value is a 422 naming the field (the v2 protocol answers it as
/// 400), a bad length header a 400.
enum ClientValue {
    /// The largest image coordinate a client may send: far beyond any image the pixel limit admits,
    /// and exactly representable in Float32.
    static let maxCoordinate: Double = 16_777_216

    /// A finite number: a JSON number, or (when `textAllowed`) a string holding one (query and form
    /// values are text). Booleans are not numbers.
    static func finiteDouble(_ v: Any, textAllowed: Bool = true) -> Double? {
        if textAllowed, let s = v as? String {
            return Double(s.trimmingCharacters(in: .whitespaces)).flatMap { $0.isFinite ? $0 : nil }
        }
        guard let n = v as? NSNumber, !isBoolean(n) else { return nil }
        let d = n.doubleValue
        return d.isFinite ? d : nil
    }

    /// A number in `range`; otherwise an error naming `field`.
    static func number(_ v: Any, field: String, in range: ClosedRange<Double>) throws -> Double {
        guard let d = finiteDouble(v), range.contains(d) else {
            throw APIError.unprocessable("\(field) must be a number in [\(JSONText.number(range.lowerBound)), \(JSONText.number(range.upperBound))]")
        }
        return d
    }

    /// A whole number in `range` (`3`, `3.0` and, unless `textAllowed` is false, `"3"` alike);
    /// otherwise an error naming `field`. The range check comes before the conversion, so `1e300`
    /// is refused, not trapped on.
    static func integer(_ v: Any, field: String, in range: ClosedRange<Int>, textAllowed: Bool = true) throws -> Int {
        guard let d = finiteDouble(v, textAllowed: textAllowed), d == d.rounded(), d >= Double(range.lowerBound), d <= Double(range.upperBound),
              let i = Int(exactly: d) else {
            throw APIError.unprocessable("\(field) must be an integer in [\(range.lowerBound), \(range.upperBound)]")
        }
        return i
    }

    /// A non-negative length written as decimal digits (a header value), at most `limit`.
    static func length(_ text: String, field: String, limit: Int) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(t), n <= limit else {
            throw APIError.badRequest("\(field) '\(text.prefix(40))' is not a length between 0 and \(limit)")
        }
        return n
    }

    /// JSONSerialization gives booleans as NSNumbers; `true` must not pass for 1.
    static func isBoolean(_ n: NSNumber) -> Bool {
        String(describing: type(of: n)).contains("Boolean")
    }
}
