import CImageCodec
import Imaging
import TestSupport
import XCTest

/// The codec's header probe and decode-into-the-caller's-buffer entry points, which let
/// `ImageDecoder` hold one copy of the pixels instead of two, against the malloc'ing decoder.
final class DecodeIntoTests: XCTestCase {
    func testProbeAndDecodeIntoAgreeWithTheAllocatingDecoder() throws {
        var g = SplitMix64(seed: 40)
        let image = RGBImage(width: 37, height: 23, pixels: (0..<(37 * 23 * 3)).map { _ in UInt8.random(in: 0...255, using: &g) })
        for format in [ImageFormat.jpeg, .png] {
            let bytes = try ImageEncoder.encode(image, as: format)
            typealias Probe = (UnsafePointer<UInt8>?, Int, UInt64, UnsafeMutablePointer<icodec_image>?, UnsafeMutablePointer<CChar>?, Int) -> Int32
            typealias Into = (UnsafePointer<UInt8>?, Int, UInt64, UnsafeMutablePointer<UInt8>?, Int, UnsafeMutablePointer<icodec_image>?, UnsafeMutablePointer<CChar>?, Int) -> Int32
            let (probe, decodeInto, decode): (Probe, Into, Probe) = format == .jpeg
                ? (icodec_probe_jpeg, icodec_decode_jpeg_into, icodec_decode_jpeg)
                : (icodec_probe_png, icodec_decode_png_into, icodec_decode_png)
            var header = icodec_image()
            XCTAssertEqual(probe(bytes, bytes.count, 1 << 20, &header, nil, 0), ICODEC_OK)
            XCTAssertEqual([header.width, header.height], [37, 23], "\(format)")
            XCTAssertNil(header.pixels, "\(format): the probe allocated pixels")
            // Too large for the limit: the size is reported, as by the decoder.
            XCTAssertEqual(probe(bytes, bytes.count, 100, &header, nil, 0), ICODEC_ERR_TOO_LARGE)
            XCTAssertEqual([header.width, header.height], [37, 23])

            var reference = icodec_image()
            XCTAssertEqual(decode(bytes, bytes.count, 1 << 20, &reference, nil, 0), ICODEC_OK)
            defer { icodec_free(reference.pixels) }
            let expected = Array(UnsafeBufferPointer(start: reference.pixels, count: 37 * 23 * 3))
            var pixels = [UInt8](repeating: 7, count: 37 * 23 * 3)
            var out = icodec_image()
            let status = pixels.withUnsafeMutableBufferPointer { buffer in
                let s = decodeInto(bytes, bytes.count, 1 << 20, buffer.baseAddress, buffer.count, &out, nil, 0)
                XCTAssertEqual(out.pixels, buffer.baseAddress, "\(format): pixels not in the caller's buffer")
                return s
            }
            XCTAssertEqual(status, ICODEC_OK)
            XCTAssertEqual(pixels, expected, "\(format)")
            XCTAssertEqual([out.width, out.height], [37, 23])

            // A buffer one byte short is refused, and so is none.
            var message = [CChar](repeating: 0, count: Int(ICODEC_MESSAGE_CAPACITY))
            var short = [UInt8](repeating: 0, count: 37 * 23 * 3 - 1)
            let refused = short.withUnsafeMutableBufferPointer { buffer in
                decodeInto(bytes, bytes.count, 1 << 20, buffer.baseAddress, buffer.count, &out, &message, message.count)
            }
            XCTAssertEqual(refused, ICODEC_ERR_ARGUMENT, "\(format)")
            XCTAssertTrue(String(cString: message).contains("smaller than the image"), String(cString: message))
            XCTAssertNil(out.pixels)
            XCTAssertEqual(decodeInto(bytes, bytes.count, 1 << 20, nil, 0, &out, nil, 0), ICODEC_ERR_ARGUMENT)
        }
    }

    /// Through `ImageDecoder`: a truncated file is still an error after a successful header probe.
    func testTruncatedAfterTheHeaderIsCorrupt() throws {
        let image = RGBImage(width: 64, height: 48, fill: RGBColor(red: 30, green: 60, blue: 90))
        for format in [ImageFormat.jpeg, .png] {
            let bytes = try ImageEncoder.encode(image, as: format)
            XCTAssertEqual(try ImageDecoder.decode(bytes).width, 64)
            XCTAssertThrowsError(try ImageDecoder.decode(Array(bytes.prefix(bytes.count * 2 / 3))), "\(format)") { error in
                guard case ImageDecodingError.corrupt = error else { return XCTFail("\(format): \(error)") }
            }
        }
    }
}
