extension HTTPRequestParser {
    /// `method SP request-target SP HTTP-version` (RFC 9112 §3), single spaces only.
    mutating func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        let parts = line.split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else {
            throw .badRequest("malformed request line")
        }
        guard parts[0].allSatisfy(isTokenCharacter) else {
            throw .badRequest("invalid character in the method")
        }
        // Visible ASCII only: whitespace, controls and raw non-ASCII bytes have no place in a URI.
        guard parts[1].allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw .badRequest("invalid character in the request target")
        }
        current.method = String(decoding: parts[0], as: UTF8.self)
        current.target = String(decoding: parts[1], as: UTF8.self)
        current.version = try Self.parseVersion(parts[2])
    }

    /// `HTTP/DIGIT.DIGIT`, case-sensitive (RFC 9112 §2.3).
    static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPVersion {
        let text = Array(bytes)
        guard text.count == 8, text[0..<5] == Array("HTTP/".utf8)[...],
              text[6] == UInt8(ascii: "."),
              (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[5]),
              (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[7])
        else {
            throw .badRequest("malformed HTTP version")
        }
        let major = Int(text[5] - UInt8(ascii: "0"))
        let minor = Int(text[7] - UInt8(ascii: "0"))
        guard major == 1 else {
            throw .versionNotSupported(String(decoding: text, as: UTF8.self))
        }
        return minor == 0 ? .http1_0 : .http1_1
    }

    /// `field-name ":" OWS field-value OWS` (RFC 9112 §5), for header and trailer lines.
    func parseFieldLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (name: String, value: String) {
        guard let first = line.first, first != 0x20, first != 0x09 else {
            throw .badRequest("obsolete line folding (a field line starting with whitespace)")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw .badRequest("a header field line without a colon")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty else { throw .badRequest("an empty header field name") }
        if let last = name.last, last == 0x20 || last == 0x09 {
            throw .badRequest("whitespace between a header field name and its colon")
        }
        guard name.allSatisfy(isTokenCharacter) else {
            throw .badRequest("invalid character in a header field name")
        }
        var value = line[(colon + 1)...]
        while let byte = value.first, byte == 0x20 || byte == 0x09 { value = value.dropFirst() }
        while let byte = value.last, byte == 0x20 || byte == 0x09 { value = value.dropLast() }
        // field-vchar / SP / HTAB / obs-text; NUL, CR, LF, DEL and other controls are refused.
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw .badRequest("invalid character in the value of \(String(decoding: name, as: UTF8.self))")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// Validates the complete head, decides the body framing (RFC 9112 §6.3) and moves on to the
    /// body. Returns an event to hand out now, or nil to keep parsing.
    mutating func finishHead() throws(HTTPParseError) -> Event? {
        let headers = current.headers
        let hosts = headers.values(for: "Host")
        if hosts.count > 1 || (current.version >= .http1_1 && hosts.isEmpty) {
            throw .badRequest(hosts.isEmpty ? "an HTTP/1.1 request needs a Host header" : "more than one Host header")
        }
        current.framing = try bodyFraming(headers)
        let expectsContinue = try expectsContinue(headers)
        current.parsedTarget = try RequestTarget(parsing: current.target, method: current.method)

        switch current.framing {
        case .none, .length(0):
            return .request(finishRequest())
        case let .length(length):
            current.body.reserveCapacity(min(length, 1 << 20))
            transition(to: .fixedBody(remaining: length))
        case .chunked:
            transition(to: .chunkSize)
        }
        // RFC 9110 §10.1.1: a server MAY omit 100 Continue once some content has arrived.
        continuePending = expectsContinue && bufferedByteCount == 0
        return .head(HTTPRequest(
            method: current.method, target: current.target, parsedTarget: current.parsedTarget,
            version: current.version, headers: current.headers, body: [],
            remoteAddress: remoteAddress, requestID: nil
        ))
    }

    /// The framing of the request body, refusing every ambiguous combination.
    private func bodyFraming(_ headers: HTTPHeaders) throws(HTTPParseError) -> BodyFraming {
        let transferEncodings = headers.values(for: "Transfer-Encoding")
        let contentLengths = headers.values(for: "Content-Length")
        if !transferEncodings.isEmpty {
            if !contentLengths.isEmpty {
                throw .badRequest("both Content-Length and Transfer-Encoding are present")
            }
            if current.version < .http1_1 {
                throw .badRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request")
            }
            let codings = headers.listValues(for: "Transfer-Encoding")
            if codings.isEmpty { throw .badRequest("an empty Transfer-Encoding") }
            guard codings.count == 1, HTTPHeaders.namesEqual(codings[0], "chunked") else {
                throw .notImplemented("unsupported Transfer-Encoding '\(transferEncodings.joined(separator: ", "))'; only chunked is supported")
            }
            return .chunked
        }
        if contentLengths.count > 1 {
            throw .badRequest("more than one Content-Length header")
        }
        if let text = contentLengths.first {
            let length = try Self.parseContentLength(text)
            if length > limits.maxBodyBytes { throw .contentTooLarge(limit: limits.maxBodyBytes) }
            return .length(length)
        }
        if ["POST", "PUT", "PATCH"].contains(current.method) {
            throw .lengthRequired
        }
        return .none
    }

    /// `1*DIGIT`, no sign, no list, no overflow.
    static func parseContentLength(_ text: String) throws(HTTPParseError) -> Int {
        var value = 0
        guard !text.isEmpty else { throw .badRequest("an empty Content-Length") }
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else {
                throw .badRequest("an invalid Content-Length '\(text)'")
            }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { throw .badRequest("Content-Length '\(text)' is too large a number") }
            value = sum
        }
        return value
    }

    /// Whether the client waits for `100 Continue`; other expectations are a 417. HTTP/1.0
    /// requests' `Expect` is ignored (RFC 9110 §10.1.1).
    private func expectsContinue(_ headers: HTTPHeaders) throws(HTTPParseError) -> Bool {
        guard current.version >= .http1_1, headers.contains("Expect") else { return false }
        let expectations = headers.listValues(for: "Expect")
        guard !expectations.isEmpty, expectations.allSatisfy({ HTTPHeaders.namesEqual($0, "100-continue") }) else {
            throw .expectationFailed
        }
        return current.framing != .none && current.framing != .length(0)
    }
}
