@testable import HTTP
import XCTest

/// What a parser produced from some bytes.
struct ParseOutcome {
    var requests: [HTTPRequest] = []
    /// How many times the parser asked for `100 Continue`.
    var continues = 0
    /// The heads announced before bodies were read, in order.
    var heads: [HTTPRequest] = []
    var error: HTTPParseError?
    /// Bytes of a request still in progress at the end.
    var partial = false
}

/// Feeds `bytes` to a fresh parser in chunks of the given sizes (the rest in one final chunk),
/// calling `next()` after each chunk until it needs more data or fails.
func parse(
    _ bytes: [UInt8], chunkSizes: [Int] = [], limits: HTTPRequestParser.Limits = .init()
) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits, remoteAddress: "192.0.2.1:1234")
    var outcome = ParseOutcome()
    var offset = 0
    var chunks: [ArraySlice<UInt8>] = []
    for size in chunkSizes where offset < bytes.count {
        let end = min(bytes.count, offset + size)
        chunks.append(bytes[offset..<end])
        offset = end
    }
    if offset < bytes.count || chunks.isEmpty { chunks.append(bytes[offset...]) }
    for chunk in chunks {
        parser.append(chunk)
        drain: while true {
            do {
                switch try parser.next() {
                case .needMoreData:
                    break drain
                case let .head(head):
                    outcome.heads.append(head)
                case .sendContinue:
                    outcome.continues += 1
                case let .request(request):
                    outcome.requests.append(request)
                }
            } catch {
                outcome.error = error
                return outcome
            }
        }
    }
    outcome.partial = parser.hasPartialRequest
    return outcome
}

func parse(_ text: String, chunkSizes: [Int] = [], limits: HTTPRequestParser.Limits = .init()) -> ParseOutcome {
    parse(Array(text.utf8), chunkSizes: chunkSizes, limits: limits)
}

/// Asserts that `text` parses to exactly one complete request and returns it.
func parseOne(
    _ text: String, limits: HTTPRequestParser.Limits = .init(), file: StaticString = #filePath, line: UInt = #line
) -> HTTPRequest? {
    let outcome = parse(text, limits: limits)
    XCTAssertNil(outcome.error, "unexpected error", file: file, line: line)
    XCTAssertEqual(outcome.requests.count, 1, "request count", file: file, line: line)
    XCTAssertFalse(outcome.partial, "left a partial request", file: file, line: line)
    return outcome.requests.first
}

/// Asserts that `text` is refused with `status`.
func assertRefused(
    _ text: String, status: Int, _ note: String = "", limits: HTTPRequestParser.Limits = .init(),
    file: StaticString = #filePath, line: UInt = #line
) {
    let outcome = parse(text, limits: limits)
    XCTAssertEqual(outcome.error?.status, status, "\(note) for \(text.debugDescription.prefix(120))", file: file, line: line)
    XCTAssertTrue(outcome.requests.isEmpty, "no request may come out of a refused message", file: file, line: line)
}

/// A comparable summary of a request.
func summary(_ request: HTTPRequest) -> String {
    let headers = request.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ";")
    let query = request.query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    return "\(request.method) \(request.target) \(request.path) ?\(query) \(request.version) [\(headers)] "
        + String(decoding: request.body, as: UTF8.self)
}

/// Checks that splitting `text` at every byte boundary, and feeding it one byte at a time, gives
/// the same outcome as one whole chunk.
func assertSplitInvariant(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
    let bytes = Array(text.utf8)
    let whole = parse(bytes)
    let expected = whole.requests.map(summary)
    XCTAssertFalse(expected.isEmpty, "the whole message should parse", file: file, line: line)
    for split in 0...bytes.count {
        let outcome = parse(bytes, chunkSizes: [split])
        XCTAssertEqual(outcome.requests.map(summary), expected, "split at \(split)", file: file, line: line)
        XCTAssertEqual(outcome.error, whole.error, "split at \(split)", file: file, line: line)
    }
    let trickled = parse(bytes, chunkSizes: Array(repeating: 1, count: bytes.count))
    XCTAssertEqual(trickled.requests.map(summary), expected, "one byte at a time", file: file, line: line)
}
