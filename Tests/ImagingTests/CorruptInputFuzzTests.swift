import Foundation
import XCTest

import Imaging
import TestSupport

/// Seeded mutations of valid JPEG and PNG files: every one must either throw an
/// `ImageDecodingError` or decode to a consistent image; never crash, hang or return garbage
/// sizes. (A crash fails the whole test process, so reaching the end is the assertion.)
final class CorruptInputFuzzTests: XCTestCase {
    func testMutatedFilesThrowOrDecodeButNeverCrash() throws {
        var seeds: [(String, [UInt8])] = []
        let image = syntheticImage(width: 40, height: 24)
        seeds.append(("jpeg", try ImageEncoder.jpeg(image, quality: 85)))
        seeds.append(("jpeg-progressive", try ImageEncoder.jpeg(image, quality: 85, progressive: true)))
        seeds.append(("png", try ImageEncoder.png(image)))
        // The fixture variants widen the corpus. Without the fixtures' Python this runs on the
        // synthetic seeds alone on a developer's machine; on CI that is a failure (`Prerequisite`).
        var fixtures: Fixtures?
        do { fixtures = try Fixtures.require() } catch is XCTSkip { fixtures = nil }
        if let fixtures {
            for name in ["jpeg_grey", "jpeg_cmyk_progressive", "jpeg_exif_6", "png_palette_trns",
                         "png_interlaced_rgba", "png_interlaced_grey_16", "png_grey_2bit"] {
                seeds.append((name, try fixtures.bytes(try fixtures.entry(name).file)))
            }
        }
        var generator = SplitMix64(seed: 2024)
        var outcomes: [String: Int] = [:]
        let variants = 2000
        for index in 0..<variants {
            let (name, original) = seeds[index % seeds.count]
            var bytes = original
            let mutation = index % 4
            if mutation == 0 || mutation == 2 {  // flip bits or overwrite bytes, 1...8 places
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    let at = Int.random(in: 0..<bytes.count, using: &generator)
                    if Bool.random(using: &generator) {
                        bytes[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &generator)
                    } else {
                        bytes[at] = UInt8.random(in: 0...255, using: &generator)
                    }
                }
            }
            if mutation == 1 || mutation == 2 {  // truncate anywhere
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            }
            if mutation == 3 {  // change PNG chunk contents and fix the CRCs, to get past them
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let at = Int.random(in: min(8, bytes.count - 1)..<bytes.count, using: &generator)
                    bytes[at] = UInt8.random(in: 0...255, using: &generator)
                }
                if name.contains("png") { fixPNGChunkCRCs(&bytes) }
            }
            do {
                let decoded = try ImageDecoder.decode(bytes, maxPixels: 4_000_000)
                XCTAssertEqual(decoded.pixels.count, decoded.width * decoded.height * 3)
                XCTAssertGreaterThan(decoded.width * decoded.height, 0)
                outcomes["decoded", default: 0] += 1
            } catch let error as ImageDecodingError {
                XCTAssertFalse(error.description.isEmpty)
                outcomes[error.code, default: 0] += 1
            }
        }
        XCTAssertEqual(outcomes.values.reduce(0, +), variants)
        XCTAssertGreaterThan(outcomes["corrupt_image", default: 0], variants / 4)
        print("fuzz outcomes over \(variants) variants of \(seeds.count) files: \(outcomes.sorted { $0.key < $1.key })")
    }
}
