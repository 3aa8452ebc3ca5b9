import Foundation
import TestSupport
@testable import TorchImport
import XCTest

/// The config writer's floats and strings against Python's own `repr` and `json.dumps`, which write
/// the converter's files.
final class PythonJSONTests: XCTestCase {
    private func python(_ script: String, input: String) throws -> [String] {
        let exe = try Prerequisite.executable(["/usr/bin/python3"], "python3", provides: "Debian's python3 (a dependency of python3-torchvision)")
        return try TestProcess.check(exe, ["-c", script], stdin: Data(input.utf8)).split(separator: "\n").map(String.init)
    }

    func testFloatsAreWrittenAsPythonsRepr() throws {
        var rng = SplitMix64(seed: 19)
        var values: [Double] = [0, -0.0, 1, -1, 0.1, 0.05, 1e-5, 1e-3, 0.0001, 0.00001, 1e15, 1e16, 123456789012345678,
                                4.135166556742356, 0.0625, 5e-324, .greatestFiniteMagnitude, 1.5e-7, 2.5e20, 0.7, 1e22, 1e21]
        for _ in 0..<1500 {
            let bits = rng.next()
            let d = Double(bitPattern: bits)
            if d.isFinite { values.append(d) }
        }
        for _ in 0..<1500 {
            // Short decimals at every scale (what users type for thresholds and eps).
            let mantissa = Double(rng.next() % 100_000) / 1000
            let exponent = Int(rng.next() % 50) - 25
            values.append(mantissa * pow(10, Double(exponent)))
        }
        let input = values.map { String($0.bitPattern, radix: 16) }.joined(separator: "\n")
        let reprs = try python("import sys, struct\nfor l in sys.stdin:\n    print(repr(struct.unpack('<d', int(l, 16).to_bytes(8, 'little'))[0]))", input: input)
        XCTAssertEqual(reprs.count, values.count)
        var mismatches = 0
        for (v, r) in zip(values, reprs) where PythonJSON.repr(v) != r {
            mismatches += 1
            if mismatches < 10 { XCTFail("\(v.bitPattern): ours \(PythonJSON.repr(v)), Python \(r)") }
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testStringsAreWrittenAsJsonDumps() throws {
        var rng = SplitMix64(seed: 5)
        let pool: [Character] = ["a", "Z", " ", "\"", "\\", "\n", "\t", "\u{7f}", "\u{1}", "é", "中", "😀", "/", "\u{2028}", "\r", "\u{8}", "\u{c}"]
        var strings = ["", "person", "traffic light", "N/A", "chien\u{e9}", "car \"quoted\""]
        for _ in 0..<300 {
            strings.append(String((0..<Int(rng.next() % 12)).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }))
        }
        // Sent as JSON with \u escapes only, so line breaks inside strings survive the pipe.
        let input = strings.map { s in s.unicodeScalars.map { String(format: "%06x", $0.value) }.joined(separator: ",") }.joined(separator: "\n")
        let dumped = try python("import sys, json\nfor l in sys.stdin:\n    l = l.strip()\n    print(json.dumps(''.join(chr(int(h, 16)) for h in l.split(',') if h)))", input: input + "\n")
        XCTAssertEqual(dumped.count, strings.count)
        for (s, d) in zip(strings, dumped) { XCTAssertEqual(PythonJSON.quoted(s), d, s.debugDescription) }
    }
}
