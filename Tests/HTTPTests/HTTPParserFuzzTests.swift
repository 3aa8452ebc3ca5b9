@testable import HTTP
import XCTest
import TestSupport

/// Mutated and random input never crashes the parser, never breaks a limit, and parses the same
/// however it is split. Seeded, so every run checks the same inputs.
final class HTTPParserFuzzTests: XCTestCase {
    private let seeds = [
        "GET /a?b=c HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: y\r\n\r\n",
        "PUT /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    ]
    private let interesting: [UInt8] = Array(" \t\r\n:;,0123456789abcdefABCDEF%+-/\u{7F}".utf8) + [0, 0x80, 0xFF]

    func testMutatedRequestsAreHandledSafely() {
        var generator = SplitMix64(seed: 42)
        var limits = HTTPRequestParser.Limits()
        limits.maxHeaderBytes = 256
        limits.maxRequestLineBytes = 128
        limits.maxBodyBytes = 64
        limits.maxHeaderCount = 8
        var outcomes: [Int: Int] = [:]
        for _ in 0..<3000 {
            var bytes = Array(seeds.randomElement(using: &generator)!.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = interesting.randomElement(using: &generator)!
                case 1: bytes.insert(interesting.randomElement(using: &generator)!, at: index)
                default: if bytes.count > 1 { bytes.remove(at: index) }
                }
            }
            let whole = parse(bytes, limits: limits)
            let split = Int.random(in: 0...bytes.count, using: &generator)
            let halves = parse(bytes, chunkSizes: [split], limits: limits)
            XCTAssertEqual(whole.requests.map(summary), halves.requests.map(summary), "\(bytes)")
            XCTAssertEqual(whole.error, halves.error, "\(bytes)")
            for request in whole.requests {
                XCTAssertLessThanOrEqual(request.body.count, limits.maxBodyBytes)
            }
            outcomes[whole.error?.status ?? 200, default: 0] += 1
        }
        // The mutations must exercise both acceptance and several refusal paths.
        XCTAssertGreaterThan(outcomes[200] ?? 0, 100)
        XCTAssertGreaterThan(outcomes[400] ?? 0, 100)
        XCTAssertGreaterThanOrEqual(outcomes.count, 4, "\(outcomes)")
    }

    func testRandomBytesAreHandledSafely() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let count = Int.random(in: 0...600, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let outcome = parse(bytes)
            XCTAssertTrue(outcome.requests.isEmpty, "random bytes are not a request")
        }
    }
}
