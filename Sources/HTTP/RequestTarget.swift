/// The request-target split into a decoded path and decoded query parameters (RFC 9112 §3.2).
///
/// Accepted forms: origin-form (`/p?q`), absolute-form (`http://host/p?q`, which servers MUST
/// accept), asterisk-form (`*`, only with OPTIONS) and authority-form (`host:port`, only with
/// CONNECT; the path is then the authority). Anything else, a malformed `%XX` escape, an encoded NUL
/// or a path that is not UTF-8 after decoding is a 400.
struct RequestTarget: Sendable {
    var path: String
    var query: [(String, String)]

    init(path: String, query: [(String, String)]) {
        self.path = path
        self.query = query
    }

    init(parsing target: String, method: String) throws(HTTPParseError) {
        let bytes = Array(target.utf8)
        if bytes == [UInt8(ascii: "*")] {
            guard method == "OPTIONS" else {
                throw .badRequest("the asterisk-form target is only allowed with OPTIONS")
            }
            self.init(path: "*", query: [])
            return
        }
        if method == "CONNECT" {
            self.init(path: target, query: [])
            return
        }
        var start = 0
        if bytes.first != UInt8(ascii: "/") {
            // absolute-form: scheme "://" authority path-abempty [ "?" query ]
            guard let schemeEnd = Self.absoluteFormPathStart(bytes) else {
                throw .badRequest("the request target must start with '/' or be an absolute URI")
            }
            start = schemeEnd
        }
        let rest = bytes[start...]
        let queryStart = rest.firstIndex(of: UInt8(ascii: "?"))
        var pathBytes = rest[rest.startIndex..<(queryStart ?? rest.endIndex)]
        // Fragments are never sent by conforming clients; drop one rather than route on it.
        if let hash = pathBytes.firstIndex(of: UInt8(ascii: "#")) {
            pathBytes = pathBytes[pathBytes.startIndex..<hash]
        }
        var decodedPath = try Self.percentDecode(pathBytes, plusIsSpace: false, what: "path")
        if decodedPath.isEmpty { decodedPath = "/" }
        var query: [(String, String)] = []
        if let queryStart {
            var queryBytes = bytes[(queryStart + 1)...]
            if let hash = queryBytes.firstIndex(of: UInt8(ascii: "#")) {
                queryBytes = queryBytes[queryBytes.startIndex..<hash]
            }
            query = try Self.parseQuery(queryBytes)
        }
        self.init(path: decodedPath, query: query)
    }

    /// For `scheme://authority/path`, the index where the path (or query) begins; nil when
    /// `bytes` is not an absolute URI.
    private static func absoluteFormPathStart(_ bytes: [UInt8]) -> Int? {
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              bytes[0..<colon].allSatisfy({ isSchemeCharacter($0) }),
              bytes.count >= colon + 3,
              bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/")
        else { return nil }
        let authorityStart = colon + 3
        let end = bytes[authorityStart...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }
        return end ?? bytes.count
    }

    private static func isSchemeCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    /// Splits `a=1&b=x+y&c` into decoded pairs; empty elements (`a=1&&b=2`) are skipped.
    static func parseQuery(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> [(String, String)] {
        var pairs: [(String, String)] = []
        for element in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let equals = element.firstIndex(of: UInt8(ascii: "=")) {
                let key = try percentDecode(element[element.startIndex..<equals], plusIsSpace: true, what: "query")
                let value = try percentDecode(element[(equals + 1)...], plusIsSpace: true, what: "query")
                pairs.append((key, value))
            } else {
                pairs.append((try percentDecode(element, plusIsSpace: true, what: "query"), ""))
            }
        }
        return pairs
    }

    /// Decodes `%XX` escapes (and `+` as a space in queries, per HTML form encoding); the result
    /// must be valid UTF-8 without NUL.
    static func percentDecode(
        _ bytes: ArraySlice<UInt8>, plusIsSpace: Bool, what: String
    ) throws(HTTPParseError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                      let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { throw .badRequest("malformed percent-escape in the request \(what)") }
                let decoded = high << 4 | low
                guard decoded != 0 else { throw .badRequest("encoded NUL in the request \(what)") }
                out.append(decoded)
                index += 3
            } else {
                out.append(plusIsSpace && byte == UInt8(ascii: "+") ? 0x20 : byte)
                index += 1
            }
        }
        guard let string = String(validating: out, as: UTF8.self) else {
            throw .badRequest("the request \(what) is not valid UTF-8 after percent-decoding")
        }
        return string
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
