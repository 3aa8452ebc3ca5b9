/// A JSON value with ordered object keys, written byte for byte as Python's `json.dumps` writes it
/// (default separators, `ensure_ascii`, `repr` of floats) and laid out as the project's Python
/// converter lays out a model config (`dumps_config` in Tools/convert_torchvision.py), so that
/// `rcnn import` writes the same config file as the converter.
indirect enum PythonJSON: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case array([PythonJSON])
    case object([(String, PythonJSON)])

    static func == (a: PythonJSON, b: PythonJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.float(x), .float(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    static func strings(_ values: [String]) -> PythonJSON { .array(values.map { .string($0) }) }
    static func ints(_ values: [Int]) -> PythonJSON { .array(values.map { .int($0) }) }
    static func floats(_ values: [Double]) -> PythonJSON { .array(values.map { .float($0) }) }

    /// `json.dumps(value)`: one line, ", " and ": " separators.
    var compact: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .float(d): out += Self.repr(d)
        case let .string(s): out += Self.quoted(s)
        case let .array(items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += ", " }
                v.write(to: &out)
            }
            out += "]"
        case let .object(pairs):
            out += "{"
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out += ", " }
                out += Self.quoted(k) + ": "
                v.write(to: &out)
            }
            out += "}"
        }
    }

    /// The config layout: objects one key per line (two-space indent); a list on one line when it
    /// holds scalars, or short lists, and fits in 100 columns with its indent; else one item per line.
    func configText(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent)
        switch self {
        case let .object(pairs):
            if pairs.isEmpty { return "{}" }
            let items = pairs.map { "\(pad)  \(Self.quoted($0.0)): \($0.1.configText(indent: indent + 1))" }
            return "{\n" + items.joined(separator: ",\n") + "\n" + pad + "}"
        case let .array(items):
            let flat = compact
            let fits = flat.count + pad.count <= 100
            if fits && items.allSatisfy({ !$0.isContainer }) { return flat }
            if fits && items.allSatisfy({ if case .array = $0 { return $0.compact.count < 60 } else { return false } }) {
                return flat
            }
            let lines = items.map { pad + "  " + $0.configText(indent: indent + 1) }
            return "[\n" + lines.joined(separator: ",\n") + "\n" + pad + "]"
        default:
            return compact
        }
    }

    private var isContainer: Bool {
        switch self {
        case .array, .object: return true
        default: return false
        }
    }

    /// Python's `repr(float)`: the shortest digits that read back to the same double, in positional
    /// notation for exponents -4 ..< 16 and as `d.ddde±XX` outside; integral values keep ".0".
    static func repr(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        // Swift's description is also the shortest round-trip digit string; only the notation
        // differs. Take its digits and exponent, then lay them out as Python does.
        var text = "\(d.magnitude)"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = String(text[..<e])
        }
        var digits = text.replacingOccurrences(of: ".", with: "")
        let point = text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? text.count
        // value = 0.DIGITS * 10^(point + exponent), with leading zeros of DIGITS removed.
        var decimalExponent = point + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            decimalExponent -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let sign = d.sign == .minus ? "-" : ""
        if digits == "0" { return sign + "0.0" }
        let sci = decimalExponent - 1   // exponent of the first digit
        if sci < -4 || sci >= 16 {
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let e = sci < 0 ? "-" + pad2(-sci) : "+" + pad2(sci)
            return sign + mantissa + "e" + e
        }
        if decimalExponent <= 0 {
            return sign + "0." + String(repeating: "0", count: -decimalExponent) + digits
        }
        if digits.count <= decimalExponent {
            return sign + digits + String(repeating: "0", count: decimalExponent - digits.count) + ".0"
        }
        let i = digits.index(digits.startIndex, offsetBy: decimalExponent)
        return sign + digits[..<i] + "." + digits[i...]
    }

    private static func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// A JSON string as `json.dumps` writes it with `ensure_ascii=True`.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0c: out += "\\f"
            case 0x20..<0x7f: out.unicodeScalars.append(Unicode.Scalar(unit)!)
            default:
                let h = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            }
        }
        return out + "\""
    }
}
