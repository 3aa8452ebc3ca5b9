import Detection
import Foundation
import XCTest

/// Bad weights files give errors that name the file and the tensor; none crash.
final class WeightsErrorTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("rcnn-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A safetensors file with the given header JSON and `dataBytes` of payload.
    func write(_ header: String, dataBytes: Int, name: String = "w.safetensors") throws -> URL {
        var bytes = [UInt8]()
        let h = Array(header.utf8)
        var n = UInt64(h.count).littleEndian
        withUnsafeBytes(of: &n) { bytes += $0 }
        bytes += h
        bytes += [UInt8](repeating: 0, count: dataBytes)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func testReadsAValidFile() throws {
        let url = try write(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"k":"v"}}"#, dataBytes: 16)
        let f = try SafeTensorsFile(url: url)
        XCTAssertEqual(try f.tensor("a").shape, [2, 2])
        XCTAssertEqual(f.metadata["k"], "v")
    }

    func testTruncatedData() throws {
        let url = try write(#"{"a":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}"#, dataBytes: 10)
        XCTAssertThrowsError(try SafeTensorsFile(url: url)) { e in
            XCTAssertTrue("\(e)".contains("'a'") && "\(e)".contains("truncated"), "\(e)")
        }
    }

    func testHeaderLongerThanFile() throws {
        let url = dir.appendingPathComponent("short.safetensors")
        try Data([0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x7b]).write(to: url)
        XCTAssertThrowsError(try SafeTensorsFile(url: url)) { e in XCTAssertTrue("\(e)".contains("header length"), "\(e)") }
        let tiny = dir.appendingPathComponent("tiny.safetensors")
        try Data([1, 2, 3]).write(to: tiny)
        XCTAssertThrowsError(try SafeTensorsFile(url: tiny))
    }

    func testBadHeaderJSON() throws {
        let url = try write(#"{"a": not json"#, dataBytes: 0)
        XCTAssertThrowsError(try SafeTensorsFile(url: url)) { e in XCTAssertTrue("\(e)".contains("not valid JSON"), "\(e)") }
    }

    func testOffsetsInconsistentWithShape() throws {
        let url = try write(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8)
        XCTAssertThrowsError(try SafeTensorsFile(url: url)) { e in XCTAssertTrue("\(e)".contains("'a'"), "\(e)") }
    }

    /// Shapes and offsets whose products or sums overflow, or that are not integers: a corrupt-file
    /// error naming the tensor, never a trap.
    func testOverflowingOrNonIntegerSizesAreCorrupt() throws {
        let entries = [
            #"{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":[3037000500,3037000500,4],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":[2,2],"data_offsets":[9223372036854775807,16]}"#,
            #"{"dtype":"F32","shape":[2,2],"data_offsets":[0,1e300]}"#,
            #"{"dtype":"F32","shape":[1e300],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":[-4,-1],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":[2.5,2],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":[true,4],"data_offsets":[0,16]}"#,
            #"{"dtype":"F32","shape":[4],"data_offsets":[9223372036854775800,9223372036854775816]}"#,
        ]
        for (i, entry) in entries.enumerated() {
            let url = try write("{\"t\(i)\":\(entry)}", dataBytes: 16, name: "o\(i).safetensors")
            XCTAssertThrowsError(try SafeTensorsFile(url: url), entry) { e in
                XCTAssertTrue("\(e)".contains("'t\(i)'") && "\(e)".contains("o\(i).safetensors"), "\(entry): \(e)")
            }
        }
    }

    func testMissingTensorWrongShapeAndDtype() throws {
        let url = try write(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"s":{"dtype":"STR","shape":[1],"data_offsets":[8,9]}}"#, dataBytes: 9)
        XCTAssertThrowsError(try SafeTensorsFile(url: url)) { e in XCTAssertTrue("\(e)".contains("unsupported dtype STR"), "\(e)") }
        let ok = try write(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"i":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}"#, dataBytes: 16, name: "ok.safetensors")
        let f = try SafeTensorsFile(url: ok)
        XCTAssertThrowsError(try f.tensor("b")) { e in
            XCTAssertEqual(e as? WeightsError, .missingTensor(file: ok.path, name: "b"))
        }
        XCTAssertThrowsError(try f.tensor("a", shape: [3])) { e in
            XCTAssertEqual(e as? WeightsError, .shapeMismatch(file: ok.path, name: "a", expected: [3], found: [2]))
        }
        XCTAssertThrowsError(try f.ints("a")) { e in XCTAssertTrue("\(e)".contains("dtype F32"), "\(e)") }
    }

    func testConfigErrorsNameTheKey() throws {
        let url = dir.appendingPathComponent("m.json")
        try Data(#"{"format_version": 1, "name": "x"}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ModelConfig.load(url)) { e in XCTAssertTrue("\(e)".contains("missing key"), "\(e)") }
        try Data("not json".utf8).write(to: url)
        XCTAssertThrowsError(try ModelConfig.load(url)) { e in XCTAssertTrue("\(e)".contains("not valid JSON"), "\(e)") }
    }

    func testSHA256KnownAnswers() {
        // FIPS 180-2 examples, through the SHA extensions (where this CPU has them) and portable C.
        for ext in [true, false] {
            XCTAssertEqual(Array("abc".utf8).withUnsafeBytes { SHA256.hex($0, useExtensions: ext) },
                           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            XCTAssertEqual(Array("".utf8).withUnsafeBytes { SHA256.hex($0, useExtensions: ext) },
                           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
            XCTAssertEqual(long.withUnsafeBytes { SHA256.hex($0, useExtensions: ext) },
                           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
            // 1280 bytes: several full blocks plus padding into an extra block.
            let bytes = (0..<5).flatMap { _ in (0..<256).map { UInt8($0) } }
            XCTAssertEqual(bytes.withUnsafeBytes { SHA256.hex($0, useExtensions: ext) },
                           "d414b085826eb06778483ba35564dc849e643359f69ed9747878ba6e54985bed")
            let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
            XCTAssertEqual(million.withUnsafeBytes { SHA256.hex($0, useExtensions: ext) },
                           "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        }
        print("SHA-256 extensions on this CPU: \(SHA256.usesExtensions)")
    }

    func testSHA256PathsAgreeOnEveryLength() {
        // Every length around the block and padding boundaries, on pseudo-random bytes.
        var g = SystemRandomNumberGenerator()
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &g) }
        for n in 0...300 {
            data[..<n].withUnsafeBytes { b in
                XCTAssertEqual(SHA256.hex(b, useExtensions: true), SHA256.hex(b, useExtensions: false), "length \(n)")
            }
        }
    }
}
