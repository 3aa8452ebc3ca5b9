extension HTTPRequestParser {
    /// One step of body parsing: returns an event to hand out, or nil to re-dispatch on the new
    /// state.
    mutating func stepBody() throws(HTTPParseError) -> Event? {
        switch state {
        case let .fixedBody(remaining):
            let count = min(remaining, bufferedByteCount)
            takeBodyBytes(count)
            if count == remaining { return .request(finishRequest()) }
            transition(to: .fixedBody(remaining: remaining - count))
            return .needMoreData

        case .chunkSize:
            let overflow = HTTPParseError.badRequest("a chunk-size line longer than \(limits.maxChunkLineBytes) bytes")
            guard let line = try nextLine(limit: limits.maxChunkLineBytes, overflow: overflow) else {
                return .needMoreData
            }
            let size = try Self.parseChunkSize(line)
            if size == 0 {
                transition(to: .trailerFields)
                return nil
            }
            if size > limits.maxBodyBytes - current.body.count {
                throw .contentTooLarge(limit: limits.maxBodyBytes)
            }
            transition(to: .chunkData(remaining: size))
            return nil

        case let .chunkData(remaining):
            let count = min(remaining, bufferedByteCount)
            takeBodyBytes(count)
            if count == remaining {
                transition(to: .chunkDataEnd)
                return nil
            }
            transition(to: .chunkData(remaining: remaining - count))
            return .needMoreData

        case .chunkDataEnd:
            // The CRLF after chunk data; a bare LF is tolerated as everywhere else.
            guard bufferedByteCount >= 1 else { return .needMoreData }
            if buffer[position] == 0x0A {
                consume(1)
            } else if buffer[position] == 0x0D {
                guard bufferedByteCount >= 2 else { return .needMoreData }
                guard buffer[position + 1] == 0x0A else { throw .badRequest("chunk data not followed by CRLF") }
                consume(2)
            } else {
                throw .badRequest("chunk data longer than its declared size")
            }
            transition(to: .chunkSize)
            return nil

        case .trailerFields:
            let limit = limits.maxHeaderBytes
            let before = current.consumedBytes
            guard let line = try nextLine(limit: limit - current.trailerBytes, overflow: .headerFieldsTooLarge(limit: limit)) else {
                return .needMoreData
            }
            current.trailerBytes += current.consumedBytes - before
            if line.isEmpty { return .request(finishRequest()) }
            // Parsed with the header rules so that malformed trailers are refused, then dropped:
            // trailer fields must never be merged into the header section (RFC 9110 §6.5.1).
            _ = try parseFieldLine(line)
            return nil

        case .requestLine, .headerFields, .failed:
            return nil
        }
    }

    private mutating func takeBodyBytes(_ count: Int) {
        guard count > 0 else { return }
        current.body.append(contentsOf: buffer[position..<(position + count)])
        consume(count)
    }

    /// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1): 1*HEXDIG, then optionally BWS `;` and extensions,
    /// which are checked for control characters and ignored.
    static func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0
        var index = line.startIndex
        while index < line.endIndex, let digit = RequestTarget.hexValue(line[index]) {
            // 15 hex digits (2^60) is far above any body limit and cannot overflow Int.
            guard index - line.startIndex < 15 else { throw .badRequest("a chunk size too large to represent") }
            size = size << 4 | Int(digit)
            index += 1
        }
        guard index > line.startIndex else { throw .badRequest("a malformed chunk size") }
        var rest = line[index...]
        while let byte = rest.first, byte == 0x20 || byte == 0x09 { rest = rest.dropFirst() }
        if rest.isEmpty {
            guard index == line.endIndex else { throw .badRequest("whitespace after a chunk size") }
            return size
        }
        guard rest.first == UInt8(ascii: ";") else { throw .badRequest("a malformed chunk size") }
        guard rest.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw .badRequest("invalid character in a chunk extension")
        }
        return size
    }
}
