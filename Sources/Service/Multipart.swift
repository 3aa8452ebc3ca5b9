import Foundation

/// A minimal, strict `multipart/form-data` reader (RFC 7578): parts separated by `--boundary`,
/// each with headers (`Content-Disposition: form-data; name="..."`) and a body.
struct MultipartPart {
    var name: String
    var filename: String?
    var contentType: String?
    var body: [UInt8]
}

enum Multipart {
    /// The `boundary` parameter of a multipart Content-Type, unquoted.
    static func boundary(from contentType: String) -> String? {
        for param in contentType.split(separator: ";").dropFirst() {
            let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2 && kv[0].lowercased() == "boundary" {
                var v = kv[1]
                if v.hasPrefix("\"") && v.hasSuffix("\"") && v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                return v.isEmpty || v.count > 70 ? nil : v
            }
        }
        return nil
    }

    static func parse(_ body: [UInt8], boundary: String) throws -> [MultipartPart] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [MultipartPart] = []
        guard var pos = find(delimiter, in: body, from: 0) else {
            throw APIError.badRequest("multipart body has no boundary '\(boundary)'", code: "invalid_multipart")
        }
        while true {
            pos += delimiter.count
            if pos + 2 <= body.count && body[pos] == UInt8(ascii: "-") && body[pos + 1] == UInt8(ascii: "-") { break }
            // Skip the rest of the delimiter line.
            guard let lineEnd = find([13, 10], in: body, from: pos) else {
                throw APIError.badRequest("multipart body ends inside a boundary line", code: "invalid_multipart")
            }
            let headStart = lineEnd + 2
            guard let headEnd = find([13, 10, 13, 10], in: body, from: headStart) else {
                throw APIError.badRequest("multipart part has no header terminator", code: "invalid_multipart")
            }
            guard let next = find([13, 10] + delimiter, in: body, from: headEnd + 4) else {
                throw APIError.badRequest("multipart body has no closing boundary", code: "invalid_multipart")
            }
            let headers = String(decoding: body[headStart..<headEnd], as: UTF8.self)
            var name: String?, filename: String?, contentType: String?
            for line in headers.components(separatedBy: "\r\n") {
                let kv = line.split(separator: ":", maxSplits: 1)
                guard kv.count == 2 else { continue }
                let key = kv[0].trimmingCharacters(in: .whitespaces).lowercased()
                let value = kv[1].trimmingCharacters(in: .whitespaces)
                if key == "content-disposition" {
                    name = parameter("name", in: value)
                    filename = parameter("filename", in: value)
                } else if key == "content-type" {
                    contentType = value
                }
            }
            guard let partName = name else {
                throw APIError.badRequest("multipart part without a Content-Disposition name", code: "invalid_multipart")
            }
            parts.append(MultipartPart(name: partName, filename: filename, contentType: contentType,
                                       body: Array(body[(headEnd + 4)..<next])))
            pos = next + 2
        }
        return parts
    }

    private static func parameter(_ key: String, in value: String) -> String? {
        for p in value.split(separator: ";").dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2 && kv[0].lowercased() == key {
                var v = kv[1]
                if v.hasPrefix("\"") && v.hasSuffix("\"") && v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                return v
            }
        }
        return nil
    }

    /// First index of `needle` in `hay` at or after `from`, in time linear in the bytes scanned
    /// plus the needle's length (Knuth-Morris-Pratt): a body crafted to nearly match the boundary
    /// everywhere costs no more than any other.
    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        let m = needle.count
        guard m > 0, from >= 0, hay.count - from >= m else { return nil }
        // failure[i]: length of the longest proper prefix of needle[0...i] that is also its suffix.
        var failure = [Int](repeating: 0, count: m)
        var k = 0
        for i in 1..<m {
            while k > 0 && needle[i] != needle[k] { k = failure[k - 1] }
            if needle[i] == needle[k] { k += 1 }
            failure[i] = k
        }
        var matched = 0
        for i in from..<hay.count {
            while matched > 0 && hay[i] != needle[matched] { matched = failure[matched - 1] }
            if hay[i] == needle[matched] { matched += 1 }
            if matched == m { return i - m + 1 }
        }
        return nil
    }
}
