// libFuzzer harness for the HTTP/1.1 request parser (Sources/HTTP/HTTPRequestParser*.swift).
//
// Built together with Sources/HTTP/*.swift into one module (see Fuzz/build.sh), so the internal
// parser API is reachable. For each input:
//   1. the whole input is fed in one `append`, then `next()` is called until it needs more data
//      or throws an `HTTPParseError` (an error is an expected outcome, not a finding);
//   2. the same input is fed in two chunks split at a data-derived offset, and the result must be
//      identical (the parser documents that "bytes may be split anywhere"): same requests (method,
//      target, decoded path and query, version, headers, body) and the same error status/code;
//   3. the same input is fed once more with small limits, split byte by byte for short inputs;
//   4. the raw input, read as a target, goes through `RequestTarget(parsing:)` and the public
//      `HTTPRequest(target:)` initializer, and `queryValue`/`queryValues`/`wantsKeepAlive` are read.
// Any Swift trap (overflow, out-of-bounds, force unwrap) or ASan report is a finding.

struct Outcome: Equatable {
    var requests: [String] = []
    var errorStatus: Int? = nil
    var errorCode: String? = nil
}

@inline(never)
func summary(_ request: HTTPRequest) -> String {
    var s = "\(request.method)|\(request.target)|\(request.path)|"
    for (name, value) in request.query { s += "\(name)=\(value)&" }
    s += "|\(request.version)|"
    for field in request.headers.fields { s += "\(field.name):\(field.value)\n" }
    s += "|\(request.body.count):\(request.body.reduce(0 as UInt32) { $0 &* 31 &+ UInt32($1) })"
    // Touch the derived accessors too.
    _ = request.wantsKeepAlive
    _ = request.queryValue("a")
    _ = request.queryValues("model")
    _ = request.headers["Host"]
    _ = request.headers.listValues(for: "Connection")
    _ = request.headers.containsToken("close", in: "Connection")
    return s
}

/// Drains the parser; false once it failed.
@inline(never)
func drain(_ parser: inout HTTPRequestParser, into outcome: inout Outcome) -> Bool {
    while true {
        do {
            switch try parser.next() {
            case .needMoreData:
                return true
            case .head, .sendContinue:
                continue
            case .request(let request):
                outcome.requests.append(summary(request))
                if outcome.requests.count > 10_000 { fatalError("runaway request loop") }
            }
        } catch {
            outcome.errorStatus = error.status
            outcome.errorCode = error.code
            _ = error.description
            return false
        }
    }
}

@inline(never)
func parse(_ bytes: [UInt8], splits: [Int], limits: HTTPRequestParser.Limits) -> Outcome {
    var parser = HTTPRequestParser(limits: limits, remoteAddress: "127.0.0.1")
    var outcome = Outcome()
    var start = 0
    for end in splits + [bytes.count] where end >= start {
        parser.append(bytes[start..<end])
        start = end
        _ = parser.hasPartialRequest
        _ = parser.bytesOfCurrentRequest
        _ = parser.currentMethod
        _ = parser.currentTarget
        if !drain(&parser, into: &outcome) { break }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))

    // 1 + 2: whole versus split at a data-derived point; outcomes must match.
    let whole = parse(bytes, splits: [], limits: .init())
    if !bytes.isEmpty {
        let hash = bytes.reduce(0 as UInt32) { $0 &* 16_777_619 ^ UInt32($1) }
        let split = Int(hash % UInt32(bytes.count + 1))
        let halves = parse(bytes, splits: [split], limits: .init())
        if halves != whole {
            fatalError("split at \(split) changed the outcome:\n whole: \(whole)\n split: \(halves)")
        }
    }

    // 3: small limits, so that every limit path is reachable within -max_len.
    var small = HTTPRequestParser.Limits()
    small.maxRequestLineBytes = 64
    small.maxHeaderBytes = 256
    small.maxHeaderCount = 4
    small.maxBodyBytes = 128
    small.maxChunkLineBytes = 32
    small.maxLeadingEmptyLines = 2
    let smallWhole = parse(bytes, splits: [], limits: small)
    if bytes.count <= 512 {
        let everyByte = parse(bytes, splits: Array(0..<bytes.count), limits: small)
        if everyByte != smallWhole {
            fatalError("byte-at-a-time changed the outcome:\n whole: \(smallWhole)\n bytes: \(everyByte)")
        }
    }

    // 4: the target decoder on its own, and the public initializer that falls back on errors.
    let text = String(decoding: bytes, as: UTF8.self)
    for method in ["GET", "OPTIONS", "CONNECT"] {
        if let target = try? RequestTarget(parsing: text, method: method) {
            _ = target.path.utf8.count + target.query.count
        }
    }
    let request = HTTPRequest(method: "GET", target: text, requestID: "fuzz")
    _ = request.queryValue("q")
    _ = request.queryValues("q")
    _ = request.path
    return 0
}
