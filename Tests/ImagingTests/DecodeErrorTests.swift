import Foundation
import XCTest

import Imaging
import TestSupport

/// Bad input must give a precise `ImageDecodingError`, never a crash, a hang or a grey-padded
/// "success". Valid bytes come from our own encoder so these run without the Python fixtures.
final class DecodeErrorTests: XCTestCase {
    private let image = syntheticImage(width: 45, height: 29)

    private func assertThrows(
        _ bytes: [UInt8], maxPixels: Int = ImageDecoder.defaultMaxPixels,
        file: StaticString = #filePath, line: UInt = #line,
        _ check: (ImageDecodingError) -> Void
    ) {
        do {
            let decoded = try ImageDecoder.decode(bytes, maxPixels: maxPixels)
            XCTFail("decoded \(decoded) instead of throwing", file: file, line: line)
        } catch let error as ImageDecodingError {
            check(error)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func testEmptyData() {
        assertThrows([]) { XCTAssertEqual($0, .empty) }
        XCTAssertThrowsError(try ImageDecoder.decode(Data())) {
            XCTAssertEqual($0 as? ImageDecodingError, .empty)
            XCTAssertEqual(($0 as? ImageDecodingError)?.code, "empty_image")
        }
    }

    func testUnsupportedFormatsAreNamed() {
        let cases: [(String, [UInt8])] = [
            ("GIF", Array("GIF89a\u{1}\u{0}\u{1}\u{0}".utf8)),
            ("BMP", Array("BM".utf8) + [UInt8](repeating: 0, count: 20)),
            ("WebP", Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8)),
            ("TIFF", Array("II*\u{0}\u{8}\u{0}\u{0}\u{0}".utf8)),
            ("text", Array("<html><body>not an image</body></html>".utf8)),
        ]
        for (kind, bytes) in cases {
            assertThrows(bytes) { error in
                XCTAssertEqual(error, .unsupportedFormat(leadingBytes: Array(bytes.prefix(16))))
                XCTAssertEqual(error.code, "unsupported_image_format")
                XCTAssertTrue(error.description.contains("looks like \(kind)"), error.description)
            }
        }
        assertThrows([0xFF]) { error in
            XCTAssertEqual(error, .unsupportedFormat(leadingBytes: [0xFF]))
            XCTAssertTrue(error.description.contains("FF"), error.description)
        }
        let gif = Array("GIF89a".utf8)
        assertThrows(gif) {
            XCTAssertEqual($0.description, "unsupported image format: expected JPEG or PNG, "
                + "but the data starts with 47 49 46 38 39 61 (\"GIF89a\"), which looks like GIF")
        }
    }

    func testTruncatedJPEGsThrowCorrupt() throws {
        for progressive in [false, true] {
            let jpeg = try ImageEncoder.jpeg(image, quality: 90, progressive: progressive)
            XCTAssertNoThrow(try ImageDecoder.decode(jpeg))
            for cut in [2, 3, 4, 20, 100, 300, jpeg.count / 2, jpeg.count - 10, jpeg.count - 2,
                        jpeg.count - 1] {
                assertThrows(Array(jpeg.prefix(cut))) { error in
                    guard case .corrupt(.jpeg, let message) = error else {
                        return XCTFail("cut \(cut): \(error)")
                    }
                    XCTAssertFalse(message.isEmpty)
                    XCTAssertEqual(error.code, "corrupt_image")
                }
            }
        }
    }

    func testTruncatedPNGsThrowCorrupt() throws {
        let png = try ImageEncoder.png(image)
        for cut in [4, 7, 8, 16, 29, 33, 40, png.count / 2, png.count - 12, png.count - 5,
                    png.count - 1] {
            assertThrows(Array(png.prefix(cut))) { error in
                guard case .corrupt(.png, let message) = error else {
                    return XCTFail("cut \(cut): \(error)")
                }
                XCTAssertFalse(message.isEmpty, "cut \(cut)")
            }
        }
        assertThrows(Array(png.prefix(png.count / 2))) {
            XCTAssertTrue($0.description.contains("truncated"), $0.description)
        }
    }

    func testGarbageAfterValidMagicBytes() {
        var generator = SplitMix64(seed: 7)
        let garbage = (0..<400).map { _ in UInt8.random(in: 0...255, using: &generator) }
        assertThrows([0xFF, 0xD8, 0xFF, 0xE0] + garbage) {
            guard case .corrupt(.jpeg, _) = $0 else { return XCTFail("\($0)") }
        }
        assertThrows([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + garbage) {
            guard case .corrupt(.png, _) = $0 else { return XCTFail("\($0)") }
        }
        assertThrows([0x89, 0x50, 0x4E, 0x47, 0x00, 0x00, 0x00, 0x00] + garbage) {
            XCTAssertEqual($0, .corrupt(format: .png, message: "not a PNG file (bad signature)"))
        }
    }

    func testPNGWithBadCRCs() throws {
        let png = try ImageEncoder.png(image)
        var badHeaderCRC = png
        badHeaderCRC[32] ^= 0x01  // last byte of IHDR's CRC (8 signature + 4 + 4 + 13 + 4)
        assertThrows(badHeaderCRC) {
            XCTAssertEqual($0, .corrupt(format: .png, message: "IHDR: CRC error"))
        }
        var badDataCRC = png
        let idat = try XCTUnwrap((8..<(png.count - 4)).first { Array(png[$0..<($0 + 4)]) == Array("IDAT".utf8) })
        let length = Int(png[idat - 4]) << 24 | Int(png[idat - 3]) << 16 | Int(png[idat - 2]) << 8 | Int(png[idat - 1])
        badDataCRC[idat + 4 + length + 3] ^= 0x01  // last byte of the IDAT CRC; the data is intact
        assertThrows(badDataCRC) {
            XCTAssertEqual($0, .corrupt(format: .png, message: "IDAT: CRC error"))
        }
        var badDataByte = png
        badDataByte[idat + 4 + length / 2] ^= 0x40  // inside the compressed data: zlib or CRC fails
        assertThrows(badDataByte) {
            guard case .corrupt(.png, let message) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(message.hasPrefix("IDAT: "), message)
        }
    }

    func testHuge60000x60000HeadersThrowTooLargeBeforeDecoding() throws {
        var jpeg = try ImageEncoder.jpeg(image)
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg[sof + 5] = 0xEA; jpeg[sof + 6] = 0x60  // height 60000
        jpeg[sof + 7] = 0xEA; jpeg[sof + 8] = 0x60  // width 60000
        let tooLarge = ImageDecodingError.tooLarge(width: 60000, height: 60000, limit: 40_000_000)
        assertThrows(jpeg) { XCTAssertEqual($0, tooLarge) }
        // The headers alone decide: cut right after the SOS header (FF DA, length 12 for
        // three components), where jpeg_read_header returns, and no scan data is needed.
        let sos = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA })
        assertThrows(Array(jpeg.prefix(sos + 14))) { XCTAssertEqual($0, tooLarge) }

        var png = try ImageEncoder.png(image)
        putBigEndian(60000, into: &png, at: 16)
        putBigEndian(60000, into: &png, at: 20)
        fixPNGChunkCRCs(&png)
        assertThrows(png) { error in
            XCTAssertEqual(error, tooLarge)
            XCTAssertEqual(error.code, "image_too_large")
            XCTAssertEqual(error.description, "image too large: 60000x60000 = 3600000000 pixels "
                + "exceeds the limit of 40000000 pixels")
        }
        // Signature (8) + IHDR (25) + the first IDAT's length and type (8): png_read_info stops
        // there, so no image data is needed to refuse.
        assertThrows(Array(png.prefix(41))) { XCTAssertEqual($0, tooLarge) }
    }

    func testMaxPixelsIsInclusive() throws {
        for bytes in [try ImageEncoder.png(image), try ImageEncoder.jpeg(image)] {
            XCTAssertEqual(try ImageDecoder.decode(bytes, maxPixels: 45 * 29).width, 45)
            assertThrows(bytes, maxPixels: 45 * 29 - 1) {
                XCTAssertEqual($0, .tooLarge(width: 45, height: 29, limit: 45 * 29 - 1))
            }
        }
    }

    /// Valid files of kinds libjpeg-turbo does not decode are `unsupportedVariant`, not corrupt.
    func testTwelveBitAndLosslessJPEGsAreUnsupportedVariants() throws {
        let jpeg = try ImageEncoder.jpeg(image)
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        var twelveBit = jpeg
        twelveBit[sof + 4] = 12
        assertThrows(twelveBit) { error in
            guard case .unsupportedVariant(.jpeg, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("12"), message)
            XCTAssertEqual(error.code, "unsupported_image_variant")
        }
        var lossless = jpeg
        lossless[sof + 1] = 0xC3
        assertThrows(lossless) { error in
            guard case .unsupportedVariant(.jpeg, _) = error else { return XCTFail("\(error)") }
        }
    }

    /// A progressive JPEG whose last scan is repeated: every scan is a pass over the whole
    /// coefficient buffer, so the decoder refuses more than ICODEC_JPEG_MAX_SCANS (256).
    func testProgressiveScanBombIsRefused() throws {
        let jpeg = try ImageEncoder.jpeg(syntheticImage(width: 64, height: 48), quality: 80, progressive: true)
        // FF DA only occurs as the SOS marker: entropy-coded FF bytes are stuffed as FF 00.
        let lastScan = try XCTUnwrap((0..<(jpeg.count - 1)).last { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA })
        let scan = jpeg[lastScan..<(jpeg.count - 2)]
        func repeated(_ times: Int) -> [UInt8] {
            var bytes = Array(jpeg.dropLast(2))
            for _ in 0..<times { bytes += scan }
            return bytes + [0xFF, 0xD9]
        }
        XCTAssertEqual(try ImageDecoder.decode(repeated(200)).width, 64)  // 10 + 200 scans: fine
        assertThrows(repeated(300)) {
            XCTAssertEqual($0, .corrupt(format: .jpeg, message: "progressive JPEG has more than 256 scans"))
        }
    }
}
