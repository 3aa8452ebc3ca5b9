@testable import Service
import XCTest

/// The multipart reader's substring search against a plain scan, on inputs built to nearly match
/// everywhere (the shapes that make a naive search quadratic).
final class MultipartTests: XCTestCase {
    /// The obvious search, for reference.
    func naiveFind(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, from >= 0, hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        for i in from...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    func testFindAgreesWithAPlainScan() {
        var g = SystemRandomNumberGenerator()
        // Two-letter alphabets and periodic needles exercise every fallback of the search.
        for trial in 0..<3000 {
            let alphabet: [UInt8] = trial % 3 == 0 ? [45] : trial % 3 == 1 ? [45, 13] : [45, 13, 10, 97]
            let needle = (0..<Int.random(in: 1...9, using: &g)).map { _ in alphabet.randomElement(using: &g)! }
            let hay = (0..<Int.random(in: 0...60, using: &g)).map { _ in alphabet.randomElement(using: &g)! }
            let from = Int.random(in: 0...max(hay.count, 1), using: &g)
            XCTAssertEqual(Multipart.find(needle, in: hay, from: from), naiveFind(needle, in: hay, from: from),
                           "needle \(needle) hay \(hay) from \(from)")
        }
        XCTAssertNil(Multipart.find([1], in: [], from: 0))
        XCTAssertNil(Multipart.find([], in: [1, 2], from: 0))
    }

    /// A part whose content repeats the delimiter minus its last byte: no closing boundary, a
    /// clear error (the search is linear, so this costs one pass over the body).
    func testNearMissBodyIsRefused() {
        let boundary = String(repeating: "-", count: 70)
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n".utf8)
        let nearMiss = Array("\r\n--\(String(repeating: "-", count: 69))x".utf8)
        for _ in 0..<(1 << 20) / nearMiss.count { body += nearMiss }
        XCTAssertThrowsError(try Multipart.parse(body, boundary: boundary)) { e in
            XCTAssertEqual((e as? APIError)?.code, "invalid_multipart")
            XCTAssertEqual((e as? APIError)?.message, "multipart body has no closing boundary")
        }
    }
}
