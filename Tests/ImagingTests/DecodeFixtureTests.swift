import CImageCodec
import Foundation
import XCTest

import Imaging
import TestSupport

/// Every variant from `Tools/make_image_fixtures.py`, decoded here and by PIL, compared.
///
/// Lossless formats (PNG) must match PIL's `convert("RGB")` exactly. JPEGs must match exactly
/// too: PIL (Debian's python3-pil) links the same system libjpeg-turbo, and both of us use its
/// defaults (islow IDCT, fancy upsampling), so the arithmetic is identical; CMYK/YCCK goes
/// through the same integer formula as PIL's cmyk2rgb. A different libjpeg build (a PIL wheel
/// bundling its own libjpeg-turbo) could differ by a level or so; the failure message shows
/// the largest difference.
final class DecodeFixtureTests: XCTestCase {
    func testEveryVariantMatchesPIL() throws {
        let fixtures = try Fixtures.require()
        XCTAssertGreaterThanOrEqual(fixtures.entries.count, 45)
        for entry in fixtures.entries {
            let decoded = try ImageDecoder.decodeWithInfo(try fixtures.bytes(entry.file))
            let expected = try fixtures.bytes(entry.expected)
            XCTAssertEqual(decoded.format, entry.file.hasSuffix(".png") ? .png : .jpeg, entry.name)
            XCTAssertEqual(decoded.image.width, entry.width, entry.name)
            XCTAssertEqual(decoded.image.height, entry.height, entry.name)
            guard decoded.image.pixels.count == expected.count else {
                XCTFail("\(entry.name): \(decoded.image.pixels.count) bytes, PIL \(expected.count)")
                continue
            }
            let difference = pixelDifference(decoded.image.pixels, expected)
            XCTAssertEqual(difference.differing, 0,
                           "\(entry.name): \(difference.differing) bytes differ from PIL, "
                           + "by up to \(difference.maximum)")
        }
    }

    func testVariantsCoverEveryKind() throws {
        let names = Set(try Fixtures.require().entries.map(\.name))
        for required in [
            "jpeg_baseline_420", "jpeg_progressive", "jpeg_grey", "jpeg_cmyk", "png_rgb",
            "png_rgba", "png_grey", "png_grey_alpha", "png_palette", "png_palette_trns",
            "png_rgb_16", "png_grey_16", "png_interlaced_rgb", "png_grey_1bit", "png_bilevel",
            "png_grey_2bit", "png_grey_4bit", "png_palette_1bit", "png_palette_4bit",
        ] {
            XCTAssertTrue(names.contains(required), "fixture \(required) missing")
        }
    }

    func testSourceChannelsAreReported() throws {
        let fixtures = try Fixtures.require()
        let expected = [
            "jpeg_grey": 1, "jpeg_baseline_420": 3, "jpeg_cmyk": 4, "png_grey": 1,
            "png_grey_alpha": 2, "png_rgb": 3, "png_rgba": 4, "png_palette": 3,
            "png_palette_trns": 4,
        ]
        for (name, channels) in expected {
            let entry = try fixtures.entry(name)
            let decoded = try ImageDecoder.decodeWithInfo(try fixtures.bytes(entry.file))
            XCTAssertEqual(decoded.sourceChannels, channels, name)
        }
    }

    /// EXIF orientation is reported, not applied, by default (like PIL's open and torchvision's
    /// read_image); applied, it must equal PIL's ImageOps.exif_transpose for all 8 values.
    func testEXIFOrientationMatchesPILExifTranspose() throws {
        let fixtures = try Fixtures.require()
        let oriented = fixtures.entries.filter { $0.orientation != 0 }
        XCTAssertEqual(Set(oriented.map(\.orientation)), Set(1...8))
        for entry in oriented {
            let bytes = try fixtures.bytes(entry.file)
            let stored = try ImageDecoder.decodeWithInfo(bytes)
            XCTAssertEqual(stored.exifOrientation?.rawValue, entry.orientation, entry.name)
            XCTAssertFalse(stored.orientationApplied)
            XCTAssertTrue(stored.image.pixels == (try fixtures.bytes(entry.expected)), entry.name)

            let upright = try ImageDecoder.decodeWithInfo(bytes, applyEXIFOrientation: true)
            XCTAssertEqual(upright.image.width, entry.orientedWidth, entry.name)
            XCTAssertEqual(upright.image.height, entry.orientedHeight, entry.name)
            XCTAssertTrue(upright.image.pixels == (try fixtures.bytes(entry.oriented ?? "")),
                          "\(entry.name): differs from PIL's exif_transpose")
        }
        let plain = try fixtures.entry("jpeg_baseline_420")
        XCTAssertNil(try ImageDecoder.decodeWithInfo(try fixtures.bytes(plain.file)).exifOrientation)
    }

    /// Transparency composited over a background equals PIL's `Image.alpha_composite` over that
    /// colour, pixel for pixel, for every transparent variant (alpha channels of 8 and 16 bits,
    /// grey + alpha, tRNS on RGB, grey and palettes, interlaced); images without transparency
    /// decode the same with or without a background.
    func testTransparencyCompositedOverABackgroundMatchesPIL() throws {
        let fixtures = try Fixtures.require()
        var composited = 0
        for entry in fixtures.entries {
            let bytes = try fixtures.bytes(entry.file)
            let plain = try ImageDecoder.decodeWithInfo(bytes)
            for background in ["ffffff", "3366cc"] {
                let colour = try XCTUnwrap(RGBColor(parsing: background))
                let over = try ImageDecoder.decodeWithInfo(bytes, background: colour)
                if let expected = entry.composited?[background] {
                    composited += 1
                    XCTAssertTrue(over.image.pixels == (try fixtures.bytes(expected)), "\(entry.name) over \(background): differs from PIL")
                    XCTAssertFalse(over.image.pixels == plain.image.pixels, "\(entry.name): compositing changed nothing")
                } else {
                    XCTAssertTrue(over.image.pixels == plain.image.pixels, "\(entry.name) has no transparency for PIL but changed over \(background)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(composited, 2 * 8, "too few transparent variants")
    }

    /// PIL cannot write YCCK, so CImageCodec's test hook writes it (and plain Adobe CMYK from
    /// the same samples), and PIL decodes both for the expected values.
    func testYCCKAndCMYKFromCImageCodecMatchPIL() throws {
        let fixtures = try Fixtures.require()
        let (width, height) = (37, 21)
        var cmyk = [UInt8](repeating: 0, count: width * height * 4)
        var generator = SplitMix64(seed: 42)
        for y in 0..<height {
            for x in 0..<width {
                let offset = (y * width + x) * 4
                cmyk[offset] = UInt8(x * 255 / (width - 1))
                cmyk[offset + 1] = UInt8(y * 255 / (height - 1))
                cmyk[offset + 2] = UInt8.random(in: 0...255, using: &generator)
                cmyk[offset + 3] = UInt8.random(in: 128...255, using: &generator)  // inverted K
            }
        }
        for ycck in [Int32(1), 0] {
            var output: UnsafeMutablePointer<UInt8>?
            var size = 0
            var message = [CChar](repeating: 0, count: Int(ICODEC_MESSAGE_CAPACITY))
            let status = icodec_encode_jpeg_cmyk(cmyk, UInt32(width), UInt32(height), 92, ycck,
                                                 &output, &size, &message, message.count)
            XCTAssertEqual(status, ICODEC_OK)
            let bytes = [UInt8](UnsafeBufferPointer(start: output, count: size))
            icodec_free(output)
            let file = fixtures.directory.appendingPathComponent("hook_ycck_\(ycck).jpg")
            try Data(bytes).write(to: file)

            let decoded = try ImageDecoder.decodeWithInfo(bytes)
            XCTAssertEqual(decoded.sourceChannels, 4)
            let expected = try fixtures.pilDecode(file)
            XCTAssertEqual(decoded.image.width, expected.width)
            XCTAssertEqual(decoded.image.height, expected.height)
            let difference = pixelDifference(decoded.image.pixels, expected.pixels)
            XCTAssertEqual(difference.differing, 0, "ycck=\(ycck): max diff \(difference.maximum)")
        }
    }

    func testDataAndArrayInputsAgree() throws {
        let fixtures = try Fixtures.require()
        let bytes = try fixtures.bytes(try fixtures.entry("png_palette_trns").file)
        XCTAssertTrue(try ImageDecoder.decode(bytes) == ImageDecoder.decode(Data(bytes)))
    }
}
