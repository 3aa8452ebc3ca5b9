import Foundation
import HTTP
import Imaging
@testable import Service
import XCTest

/// EXIF orientation over the API: a photo stored sideways (or mirrored) with its Orientation tag
/// gets the detections of its upright copy, in the upright frame, for all eight values; with
/// `orientation=stored` the stored frame is kept. The files are PNGs with an eXIf chunk, so the
/// stored pixels are exact and the upright decode equals the original bit for bit.
final class OrientationTests: XCTestCase {
    var service: DetectionService!

    override func setUpWithError() throws {
        service = try ServiceFixture.service()
        service.registry.warmUp(runs: 0)
    }

    /// The transform that undoes `o`: rotations by 90 degrees swap, the rest undo themselves.
    static func inverse(_ o: EXIFOrientation) -> EXIFOrientation {
        switch o {
        case .rotate90Clockwise: return .rotate90CounterClockwise
        case .rotate90CounterClockwise: return .rotate90Clockwise
        default: return o
        }
    }

    /// "WxH o=N applied=B" from a document's `image` member.
    func frame(_ doc: [String: Any]) -> String {
        let i = doc["image"] as? [String: Any] ?? [:]
        return "\(i["width"] as? Int ?? -1)x\(i["height"] as? Int ?? -1) o=\(i["orientation"] as? Int ?? -1) applied=\(i["orientation_applied"] as? Bool ?? false)"
    }

    func detect(_ png: [UInt8], query: String = "score_threshold=0.05") throws -> [String: Any] {
        let r = service.handle(ServiceFixture.request("POST", "/v1/detect?\(query)", contentType: "image/png", body: png))
        XCTAssertEqual(r.status, 200, String(decoding: r.body, as: UTF8.self))
        return try XCTUnwrap(ServiceFixture.json(r))
    }

    func testEveryOrientationGivesTheUprightDetections() throws {
        // The top three quarters of the sample: not square, so the stored and upright frames differ.
        let sample = try ImageDecoder.decode(try ServiceFixture.sampleBytes())
        let upright = RGBImage(width: sample.width, height: sample.height * 3 / 4,
                               pixels: Array(sample.pixels[0..<(sample.width * (sample.height * 3 / 4) * 3)]))
        XCTAssertNotEqual(upright.width, upright.height)
        let reference = try detect(try ImageEncoder.png(upright))
        let refDetections = try XCTUnwrap(reference["detections"] as? [[String: Any]])
        XCTAssertGreaterThan(refDetections.count, 3, "too few detections to compare")
        XCTAssertEqual(frame(reference), "\(upright.width)x\(upright.height) o=1 applied=false")

        for orientation in EXIFOrientation.allCases {
            let stored = upright.applying(Self.inverse(orientation))
            XCTAssertTrue(stored.applying(orientation) == upright, "test setup: \(orientation) does not undo its inverse")
            let file = try TestImageFiles.png(stored, orientation: orientation.rawValue)

            let answer = try detect(file)
            XCTAssertEqual(frame(answer), "\(upright.width)x\(upright.height) o=\(orientation.rawValue) applied=\(orientation != .identity)",
                           "\(orientation)")
            let got = try XCTUnwrap(answer["detections"] as? [[String: Any]])
            XCTAssertEqual(got.count, refDetections.count, "\(orientation)")
            for (a, b) in zip(got, refDetections) {
                XCTAssertEqual(a["label"] as? String, b["label"] as? String, "\(orientation)")
                XCTAssertEqual(a["score"] as? Double, b["score"] as? Double, "\(orientation)")
                XCTAssertEqual(a["box"] as? [Double], b["box"] as? [Double], "\(orientation)")
                XCTAssertEqual((a["mask"] as? [String: Any])?["counts"] as? String, (b["mask"] as? [String: Any])?["counts"] as? String,
                               "\(orientation): masks in the upright frame")
            }

            let kept = try detect(file, query: "score_threshold=0.05&orientation=stored")
            XCTAssertEqual(frame(kept), "\(stored.width)x\(stored.height) o=\(orientation.rawValue) applied=false", "\(orientation) stored")
        }
    }

    func testOrientationOptionIsChecked() throws {
        let r = service.handle(ServiceFixture.request("POST", "/v1/detect?orientation=sideways", contentType: "image/jpeg",
                                                      body: try ServiceFixture.sampleBytes()))
        XCTAssertEqual(r.status, 422)
        XCTAssertTrue(String(decoding: r.body, as: UTF8.self).contains("orientation must be upright"))
    }
}

/// Image files the API tests write themselves: PNGs with an EXIF Orientation tag (an eXIf chunk: the
/// TIFF header and one IFD entry, as cameras write it in JPEG's APP1) and RGBA PNGs.
enum TestImageFiles {
    /// The TIFF structure with one IFD entry: Orientation (0x0112), SHORT, count 1, `value`.
    static func tiff(orientation value: Int) -> [UInt8] {
        var t: [UInt8] = [0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08]   // big-endian, IFD at 8
        t += [0x00, 0x01]                                                     // one entry
        t += [0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, UInt8(value), 0x00, 0x00]
        t += [0x00, 0x00, 0x00, 0x00]                                         // no next IFD
        return t
    }

    /// `image` as a PNG with an eXIf chunk after IHDR.
    static func png(_ image: RGBImage, orientation: Int) throws -> [UInt8] {
        let plain = try ImageEncoder.png(image)
        let ihdrEnd = 8 + 8 + 13 + 4   // signature, IHDR length + type, IHDR data, CRC
        let payload = tiff(orientation: orientation)
        let type: [UInt8] = Array("eXIf".utf8)
        var chunk = withUnsafeBytes(of: UInt32(payload.count).bigEndian) { Array($0) } + type + payload
        chunk += withUnsafeBytes(of: crc32(type + payload).bigEndian) { Array($0) }
        return Array(plain[..<ihdrEnd]) + chunk + Array(plain[ihdrEnd...])
    }

    /// An 8-bit RGBA PNG (colour type 6), non-interlaced, its zlib stream in stored (uncompressed)
    /// deflate blocks: `rgba` is width * height * 4 bytes.
    static func rgbaPNG(width: Int, height: Int, rgba: [UInt8]) -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (width * 4 + 1))
        for y in 0..<height { raw.append(0); raw += rgba[(y * width * 4)..<((y + 1) * width * 4)] }
        var z: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65535, raw.count - offset)
            z.append(offset + n == raw.count ? 1 : 0)
            z += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            z += raw[offset..<(offset + n)]
            offset += n
        } while offset < raw.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        z += withUnsafeBytes(of: (b << 16 | a).bigEndian) { Array($0) }
        func chunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
            let t = Array(type.utf8)
            return withUnsafeBytes(of: UInt32(payload.count).bigEndian) { Array($0) } + t + payload
                + withUnsafeBytes(of: crc32(t + payload).bigEndian) { Array($0) }
        }
        var ihdr = withUnsafeBytes(of: UInt32(width).bigEndian) { Array($0) } + withUnsafeBytes(of: UInt32(height).bigEndian) { Array($0) }
        ihdr += [8, 6, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", [])
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }
}
