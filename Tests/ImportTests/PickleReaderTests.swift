import Foundation
@testable import TorchImport
import XCTest

/// The pickle reader on hand-assembled pickles: what torch.save writes is read; globals outside the
/// allow-list, code-running opcodes and malformed streams are refused with the opcode's offset;
/// hostile sizes and depths stay bounded.
final class PickleReaderTests: XCTestCase {
    private func load(_ bytes: [UInt8]) throws -> String {
        try bytes.withUnsafeBytes { raw in
            try Unpickler.load(raw) { v -> String in v.kind }.value
        }
    }

    private func global(_ module: String, _ name: String) -> [UInt8] {
        [0x63] + Array("\(module)\n\(name)\n".utf8)
    }

    private func string(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        return [0x58] + withUnsafeBytes(of: UInt32(b.count).littleEndian, Array.init) + b
    }

    func testForbiddenGlobalsAreRefusedBeforeAnyCall() {
        for (module, name) in [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("builtins", "exec"),
                               ("subprocess", "Popen"), ("torch", "load"), ("__builtin__", "getattr"),
                               ("collections", "defaultdict"), ("numpy", "load")] {
            let pickle: [UInt8] = [0x80, 0x02] + global(module, name) + string("touch /tmp/x") + [0x85, 0x52, 0x2e]
            XCTAssertThrowsError(try load(pickle)) { e in
                XCTAssertEqual((e as? CheckpointError)?.kind, .refused, "\(module).\(name): \(e)")
                XCTAssertTrue("\(e)".contains("\(module).\(name)") && "\(e)".contains("byte 2"), "\(e)")
            }
            // STACK_GLOBAL (protocol 4) takes the same path.
            let stacked: [UInt8] = [0x80, 0x04] + string(module) + string(name) + [0x93, 0x2e]
            XCTAssertThrowsError(try load(stacked)) { e in
                XCTAssertEqual((e as? CheckpointError)?.kind, .refused, "\(e)")
            }
        }
    }

    func testOpcodesThatRunCodeOrExtendTheProtocolAreRefused() {
        // INST, OBJ, EXT1, PERSID (text), and protocol 0's INT: none is in torch.save's output.
        for op: UInt8 in [0x69, 0x6f, 0x82, 0x50, 0x49] {
            XCTAssertThrowsError(try load([0x80, 0x02, op, 0x2e])) { e in
                XCTAssertEqual((e as? CheckpointError)?.kind, .refused, "0x\(String(op, radix: 16)): \(e)")
            }
        }
        // A REDUCE of an allow-listed data class is data, but calling a dtype constant is refused.
        XCTAssertThrowsError(try load([0x80, 0x02] + global("torch", "float32") + [0x29, 0x52, 0x2e]))
        XCTAssertEqual(try load([0x80, 0x02] + global("argparse", "Namespace") + [0x29, 0x52, 0x2e]), "argparse.Namespace object")
    }

    func testMalformedStreamsAreErrors() {
        let cases: [[UInt8]] = [
            [],                                    // nothing
            [0x80, 0x02],                          // no STOP
            [0x80, 0x02, 0x2e],                    // STOP on an empty stack
            [0x80, 0x02, 0x4e, 0x4e, 0x2e],        // values left over
            [0x80, 0x02, 0x68, 0x05, 0x2e],        // BINGET of an unset memo entry
            [0x80, 0x02, 0x4e, 0x61, 0x2e],        // APPEND to None
            [0x80, 0x02, 0x7d, 0x4e, 0x73, 0x2e],  // SETITEM without a value
            [0x80, 0x02, 0x65, 0x2e],              // APPENDS without a MARK
            [0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f],              // a 2 GB string in 7 bytes
            [0x80, 0x02, 0x8b, 0xff, 0xff, 0xff, 0x7f],              // a 2 GB integer
            [0x80, 0x02, 0x8a, 0x09] + [UInt8](repeating: 1, count: 4),  // LONG1 cut short
            [0x80, 0x09, 0x4e, 0x2e],              // protocol 9
            [0x80, 0x02, 0x58, 0x02, 0, 0, 0, 0xc3, 0x28, 0x2e],      // invalid UTF-8
            [0x80, 0x02, 0x63] + Array("collections OrderedDict".utf8), // GLOBAL without newlines
        ]
        for bytes in cases {
            XCTAssertThrowsError(try load(bytes), "\(bytes)") { e in XCTAssertTrue(e is CheckpointError, "\(e)") }
        }
    }

    func testIntegersAndMemo() throws {
        // LONG1 of the legacy magic number stays a big integer; an 8-byte LONG1 is an Int.
        let magic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]
        let big = try ([0x80, 0x02, 0x8a, 0x0a] + magic + [0x2e] as [UInt8]).withUnsafeBytes { r in
            try Unpickler.load(r) { v -> [UInt8]? in if case let .bigInt(b) = v { return b } else { return nil } }.value
        }
        XCTAssertEqual(big, magic)
        let negative = try ([0x80, 0x02, 0x8a, 0x02, 0x00, 0xff, 0x2e] as [UInt8]).withUnsafeBytes { r in
            try Unpickler.load(r) { $0.intValue }.value
        }
        XCTAssertEqual(negative, -256)
        // LONG_BINPUT at index 4e9: a dictionary entry, not a 4e9-slot array.
        let memo: [UInt8] = [0x80, 0x02, 0x4e, 0x72, 0x00, 0x28, 0x6b, 0xee, 0x30, 0x6a, 0x00, 0x28, 0x6b, 0xee, 0x2e]
        XCTAssertEqual(try load(memo), "None")
    }

    /// A million nested tuples, and a 300,000-link chain of lists built through the memo: read and
    /// freed without recursion (a recursive free would overflow the stack and crash).
    func testDeepNestingIsFreedWithoutRecursion() throws {
        var tuples: [UInt8] = [0x80, 0x02, 0x4e]
        tuples += [UInt8](repeating: 0x85, count: 1_000_000)
        tuples.append(0x2e)
        XCTAssertEqual(try load(tuples), "tuple")

        var chain: [UInt8] = [0x80, 0x02, 0x5d, 0x72] + withUnsafeBytes(of: UInt32(0).littleEndian, Array.init)
        for i in 1..<300_000 {
            // [] -> memo[i]; memo[i-1] (the previous list) gets it appended; drop the previous list.
            chain += [0x5d, 0x72] + withUnsafeBytes(of: UInt32(i).littleEndian, Array.init)
            chain += [0x6a] + withUnsafeBytes(of: UInt32(i - 1).littleEndian, Array.init)
            chain += [0x6a] + withUnsafeBytes(of: UInt32(i).littleEndian, Array.init)
            chain += [0x61, 0x30, 0x30]   // APPEND, POP the previous list, POP the new one
        }
        chain += [0x2e]
        XCTAssertEqual(try load(chain), "list")

        // A list that contains itself.
        XCTAssertEqual(try load([0x80, 0x02, 0x5d, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2e]), "list")
    }

    func testTensorsOutsideTheirStorageAreCorrupt() throws {
        let storage = StorageReference(dtype: .float32, key: "0", count: 10, viewOffset: 0)
        XCTAssertNoThrow(try StoredTensor(storage: storage, offset: 4, shape: [2, 3], strides: [3, 1]))
        for (offset, shape, strides) in [(5, [2, 3], [3, 1]), (0, [11], [1]), (0, [2, 2], [Int.max / 2, 1]),
                                         (0, [Int.max, 2], [1, 1]), (-1, [1], [1]), (0, [2], [-1]), (0, [2, 2], [1])] {
            XCTAssertThrowsError(try StoredTensor(storage: storage, offset: offset, shape: shape, strides: strides),
                                 "\(offset) \(shape) \(strides)") { e in
                XCTAssertEqual((e as? CheckpointError)?.kind, .corrupt)
            }
        }
        // A zero-element tensor needs no storage.
        XCTAssertNoThrow(try StoredTensor(storage: storage, offset: 100, shape: [0, 5], strides: [5, 1]))
    }
}
