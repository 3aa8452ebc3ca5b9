/// An ordered list of HTTP header fields with case-insensitive name lookup.
///
/// Field names are compared ASCII-case-insensitively (RFC 9110 §5.1); the order of field lines and
/// the spelling of each name are kept exactly as received or added, and a name may occur several
/// times. A value type; `Sendable`.
public struct HTTPHeaders: Sendable, Equatable {
    /// The field lines in order, names spelled as received.
    public private(set) var fields: [(name: String, value: String)]

    /// Creates an empty header list.
    public init() {
        fields = []
    }

    /// Creates a header list from field lines, kept in the given order.
    public init(_ fields: [(name: String, value: String)]) {
        self.fields = fields
    }

    /// The number of field lines.
    public var count: Int { fields.count }

    /// True when there are no field lines.
    public var isEmpty: Bool { fields.isEmpty }

    /// The first value of the field `name` (case-insensitive), or nil.
    public subscript(name: String) -> String? {
        fields.first { Self.namesEqual($0.name, name) }?.value
    }

    /// Every value of the field `name` (case-insensitive), in order.
    public func values(for name: String) -> [String] {
        fields.compactMap { Self.namesEqual($0.name, name) ? $0.value : nil }
    }

    /// The comma-separated list elements of every `name` field line, trimmed of optional
    /// whitespace, empty elements dropped (RFC 9110 §5.6.1). Use for list-valued fields such as
    /// `Connection` or `Transfer-Encoding`.
    public func listValues(for name: String) -> [String] {
        values(for: name).flatMap { value in
            value.split(separator: ",", omittingEmptySubsequences: true).compactMap { element in
                let trimmed = element.trimmingOptionalWhitespace()
                return trimmed.isEmpty ? nil : trimmed
            }
        }
    }

    /// True when a field named `name` (case-insensitive) is present.
    public func contains(_ name: String) -> Bool {
        fields.contains { Self.namesEqual($0.name, name) }
    }

    /// True when the list-valued field `name` contains the token `token` (case-insensitive).
    public func containsToken(_ token: String, in name: String) -> Bool {
        listValues(for: name).contains { Self.namesEqual($0, token) }
    }

    /// Appends a field line, keeping existing lines of the same name.
    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every line of the field `name` with a single line carrying `value`. The new line
    /// takes the place of the first removed one, or goes at the end.
    public mutating func replaceOrAdd(name: String, value: String) {
        if let first = fields.firstIndex(where: { Self.namesEqual($0.name, name) }) {
            fields[first] = (name: name, value: value)
            var index = fields.index(after: first)
            while index < fields.endIndex {
                if Self.namesEqual(fields[index].name, name) {
                    fields.remove(at: index)
                } else {
                    index += 1
                }
            }
        } else {
            fields.append((name: name, value: value))
        }
    }

    /// Removes every line of the field `name` (case-insensitive).
    public mutating func remove(name: String) {
        fields.removeAll { Self.namesEqual($0.name, name) }
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// ASCII case-insensitive comparison, without allocating.
    static func namesEqual(_ a: String, _ b: String) -> Bool {
        var left = a.utf8.makeIterator()
        var right = b.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil):
                return true
            case let (x?, y?):
                if x == y { continue }
                if asciiLowercase(x) != asciiLowercase(y) { return false }
            default:
                return false
            }
        }
    }
}

@inline(__always)
func asciiLowercase(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
}

extension HTTPHeaders: Sequence {
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}

extension HTTPHeaders: ExpressibleByDictionaryLiteral {
    /// `["Content-Type": "application/json"]`; order follows the literal.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }
}

extension HTTPHeaders: CustomStringConvertible {
    public var description: String {
        fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }
}

extension StringProtocol {
    /// The string without leading and trailing SP / HTAB (HTTP's optional whitespace, OWS).
    func trimmingOptionalWhitespace() -> String {
        let bytes = Array(self.utf8)
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
              let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
