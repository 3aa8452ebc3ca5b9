import Foundation
import XCTest

import Imaging
import TestSupport

final class EncodeTests: XCTestCase {
    func testPNGRoundTripIsExact() throws {
        for (width, height) in [(1, 1), (45, 29), (300, 7), (7, 300)] {
            let image = syntheticImage(width: width, height: height)
            for level in [0, 1, 6, 9] {
                let bytes = try ImageEncoder.png(image, compressionLevel: level)
                XCTAssertEqual(ImageFormat.sniff(bytes), .png)
                let decoded = try ImageDecoder.decodeWithInfo(bytes)
                XCTAssertEqual(decoded.image, image, "\(width)x\(height) level \(level)")
                XCTAssertEqual(decoded.sourceChannels, 3)
                XCTAssertNil(decoded.exifOrientation)
            }
        }
    }

    func testJPEGRoundTripIsClose() throws {
        let image = syntheticImage(width: 96, height: 64)
        for progressive in [false, true] {
            var previousError = Double.infinity
            for quality in [50, 75, 95] {
                let bytes = try ImageEncoder.jpeg(image, quality: quality, progressive: progressive)
                XCTAssertEqual(ImageFormat.sniff(bytes), .jpeg)
                let decoded = try ImageDecoder.decode(bytes)
                XCTAssertEqual(decoded.width, 96)
                XCTAssertEqual(decoded.height, 64)
                let total = zip(decoded.pixels, image.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
                let meanError = Double(total) / Double(image.pixels.count)
                XCTAssertLessThan(meanError, quality == 95 ? 2.0 : 6.0,
                                  "quality \(quality) progressive \(progressive)")
                XCTAssertLessThanOrEqual(meanError, previousError + 0.1, "error should fall with quality")
                previousError = meanError
            }
        }
    }

    func testProgressiveAndBaselineDiffer() throws {
        let image = syntheticImage(width: 64, height: 48)
        let baseline = try ImageEncoder.jpeg(image, quality: 80)
        let progressive = try ImageEncoder.jpeg(image, quality: 80, progressive: true)
        func hasMarker(_ bytes: [UInt8], _ marker: UInt8) -> Bool {
            (0..<(bytes.count - 1)).contains { bytes[$0] == 0xFF && bytes[$0 + 1] == marker }
        }
        XCTAssertTrue(hasMarker(baseline, 0xC0) && !hasMarker(baseline, 0xC2), "baseline: SOF0")
        XCTAssertTrue(hasMarker(progressive, 0xC2) && !hasMarker(progressive, 0xC0), "progressive: SOF2")
    }

    func testLargeOutputGrowsTheBuffer() throws {
        // Noise compresses badly, so the encoders' 64 KiB initial buffers must grow.
        var generator = SplitMix64(seed: 3)
        let pixels = (0..<(400 * 300 * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let image = RGBImage(width: 400, height: 300, pixels: pixels)
        let png = try ImageEncoder.png(image, compressionLevel: 1)
        XCTAssertGreaterThan(png.count, 300_000)
        XCTAssertEqual(try ImageDecoder.decode(png), image)
        let jpeg = try ImageEncoder.jpeg(image, quality: 100)
        XCTAssertGreaterThan(jpeg.count, 65_536)
        XCTAssertEqual(try ImageDecoder.decode(jpeg).width, 400)
    }

    func testEncodingErrors() {
        let empty = RGBImage(width: 0, height: 5, pixels: [])
        for format in ImageFormat.allCases {
            XCTAssertThrowsError(try ImageEncoder.encode(empty, as: format)) {
                XCTAssertEqual(($0 as? ImageEncodingError)?.format, format)
            }
        }
        let image = syntheticImage(width: 4, height: 4)
        XCTAssertThrowsError(try ImageEncoder.jpeg(image, quality: 0)) {
            XCTAssertEqual($0 as? ImageEncodingError,
                           ImageEncodingError(format: .jpeg, message: "quality must be 1...100, got 0"))
        }
        XCTAssertThrowsError(try ImageEncoder.png(image, compressionLevel: 12)) {
            XCTAssertEqual(($0 as? ImageEncodingError)?.message,
                           "PNG compression level must be -1...9, got 12")
        }
        let wide = RGBImage(width: 70_000, height: 1)
        XCTAssertThrowsError(try ImageEncoder.jpeg(wide)) {
            XCTAssertEqual(($0 as? ImageEncodingError)?.message,
                           "JPEG size must be 1...65500 pixels a side, got 70000x1")
        }
        XCTAssertEqual(try ImageDecoder.decode(try ImageEncoder.png(wide)).width, 70_000)
    }

    func testFormatMetadata() {
        XCTAssertEqual(ImageFormat.jpeg.mimeType, "image/jpeg")
        XCTAssertEqual(ImageFormat.png.mimeType, "image/png")
        XCTAssertEqual(ImageFormat.png.fileExtension, "png")
        XCTAssertEqual(ImageFormat.sniff([0xFF, 0xD8]), .jpeg)
        XCTAssertNil(ImageFormat.sniff([0x89, 0x50, 0x4E]))
        XCTAssertNil(ImageFormat.sniff([UInt8]()))
    }

    /// The codecs keep no global state: many threads encoding and decoding at once get exactly
    /// what one thread gets.
    func testConcurrentUseIsIndependent() throws {
        let images = (0..<6).map { syntheticImage(width: 40 + 7 * $0, height: 30 + $0) }
        let pngs = try images.map { try ImageEncoder.png($0) }
        let jpegs = try images.map { try ImageEncoder.jpeg($0, quality: 80) }
        let decodedJPEGs = try jpegs.map { try ImageDecoder.decode($0) }
        let lock = NSLock()
        var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: 48) { iteration in
            let index = iteration % images.count
            do {
                let png = try ImageEncoder.png(images[index])
                let fromPNG = try ImageDecoder.decode(pngs[index])
                let fromJPEG = try ImageDecoder.decode(jpegs[index])
                if png != pngs[index] || fromPNG != images[index] || fromJPEG != decodedJPEGs[index] {
                    lock.lock(); failures.append("iteration \(iteration)"); lock.unlock()
                }
            } catch {
                lock.lock(); failures.append("iteration \(iteration): \(error)"); lock.unlock()
            }
        }
        XCTAssertEqual(failures, [])
    }
}
