import CImageCodec
import Foundation

/// A decoded image with what the file said about it.
public struct DecodedImage: Sendable, Equatable {
    /// The pixels, as stored in the file (EXIF orientation applied only if it was asked for).
    public var image: RGBImage
    /// The format sniffed from the magic bytes.
    public let format: ImageFormat
    /// The EXIF Orientation tag (JPEG APP1 "Exif" or PNG eXIf), nil when absent or invalid.
    public let exifOrientation: EXIFOrientation?
    /// Whether `exifOrientation` has been applied to `image`.
    public let orientationApplied: Bool
    /// Channels stored in the file: 1 grey, 2 grey+alpha, 3 colour, 4 RGBA/CMYK/YCCK
    /// (palette PNGs count as 3, or 4 with transparency).
    public let sourceChannels: Int
}

/// Decodes JPEG and PNG bytes into `RGBImage`s (libjpeg-turbo and libpng, through CImageCodec).
///
/// Semantics match PIL's `Image.open(...).convert("RGB")` and torchvision's
/// `read_image(..., ImageReadMode.RGB)`: alpha is dropped (not composited; with a `background`,
/// composited over it as Pillow's `Image.alpha_composite` does), greyscale is
/// replicated, 16-bit PNG samples keep their high byte, CMYK/YCCK JPEGs are read with the
/// Adobe (inverted) convention, and EXIF orientation is *not* applied unless asked for
/// (`applyEXIFOrientation: true`; torchvision's detection references never rotate).
/// Truncated files are errors, not grey-padded images.
///
/// Thread-safety: stateless; call from any thread concurrently.
public enum ImageDecoder {
    /// Default cap on `width * height`: 40 megapixels (about 120 MB of RGB8).
    public static let defaultMaxPixels = 40_000_000

    /// Decodes `bytes` (`[UInt8]`, `Data`, ...) into RGB8.
    ///
    /// - Parameters:
    ///   - maxPixels: largest accepted `width * height`; checked against the header before
    ///     any pixel memory is allocated.
    ///   - applyEXIFOrientation: rotate/flip to the EXIF Orientation tag, like PIL's
    ///     `ImageOps.exif_transpose`.
    /// - Throws: `ImageDecodingError`.
    public static func decode<Bytes: ContiguousBytes>(
        _ bytes: Bytes, maxPixels: Int = defaultMaxPixels, applyEXIFOrientation: Bool = false
    ) throws -> RGBImage {
        try decodeWithInfo(bytes, maxPixels: maxPixels, applyEXIFOrientation: applyEXIFOrientation)
            .image
    }

    /// As `decode`, and also reports the format, the EXIF orientation and the stored channels.
    /// - Parameter background: when set, a PNG's transparency (alpha channel or tRNS) is
    ///   composited over this colour instead of dropped (JPEGs have none).
    public static func decodeWithInfo<Bytes: ContiguousBytes>(
        _ bytes: Bytes, maxPixels: Int = defaultMaxPixels, applyEXIFOrientation: Bool = false,
        background: RGBColor? = nil
    ) throws -> DecodedImage {
        precondition(maxPixels >= 0, "maxPixels must not be negative")
        var decoded = try bytes.withUnsafeBytes { buffer in
            try decodeBuffer(buffer, maxPixels: maxPixels, background: background)
        }
        if applyEXIFOrientation, let orientation = decoded.exifOrientation,
           orientation != .identity {
            decoded = DecodedImage(
                image: decoded.image.applying(orientation), format: decoded.format,
                exifOrientation: orientation, orientationApplied: true,
                sourceChannels: decoded.sourceChannels)
        }
        return decoded
    }

    /// Reads the header for the size, then decodes straight into the image's own array: one copy
    /// of the pixels at any time (a 40-megapixel image peaks at 120 MB, not 240).
    private static func decodeBuffer(_ buffer: UnsafeRawBufferPointer, maxPixels: Int, background: RGBColor?) throws
        -> DecodedImage
    {
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            throw ImageDecodingError.empty
        }
        guard let format = ImageFormat.sniff(buffer) else {
            throw ImageDecodingError.unsupportedFormat(leadingBytes: Array(buffer.prefix(16)))
        }
        var header = icodec_image()
        var message = [CChar](repeating: 0, count: Int(ICODEC_MESSAGE_CAPACITY))
        let data = base.assumingMemoryBound(to: UInt8.self)
        let probed: Int32 = message.withUnsafeMutableBufferPointer { text in
            switch format {
            case .jpeg:
                return icodec_probe_jpeg(data, buffer.count, UInt64(maxPixels), &header, text.baseAddress, text.count)
            case .png:
                return icodec_probe_png(data, buffer.count, UInt64(maxPixels), &header, text.baseAddress, text.count)
            }
        }
        try check(probed, header, format, message, maxPixels: maxPixels)
        let width = Int(header.width), height = Int(header.height)
        guard width > 0, height > 0 else {
            throw ImageDecodingError.corrupt(format: format, message: "image has no pixels")
        }
        let count = width * height * 3
        var image = icodec_image()
        var status: Int32 = ICODEC_ERR_ARGUMENT
        let pixels = [UInt8](unsafeUninitializedCapacity: count) { target, initialized in
            status = message.withUnsafeMutableBufferPointer { text in
                switch format {
                case .jpeg:
                    return icodec_decode_jpeg_into(data, buffer.count, UInt64(maxPixels), target.baseAddress, count,
                                                   &image, text.baseAddress, text.count)
                case .png:
                    guard let background else {
                        return icodec_decode_png_into(data, buffer.count, UInt64(maxPixels), target.baseAddress, count,
                                                      &image, text.baseAddress, text.count)
                    }
                    let rgb = [background.red, background.green, background.blue]
                    return icodec_decode_png_over(data, buffer.count, UInt64(maxPixels), target.baseAddress, count,
                                                  rgb, &image, text.baseAddress, text.count)
                }
            }
            initialized = status == ICODEC_OK ? count : 0
        }
        try check(status, image, format, message, maxPixels: maxPixels)
        guard Int(image.width) == width, Int(image.height) == height else {
            throw ImageDecodingError.corrupt(format: format, message: "image size changed between header and pixels")
        }
        return DecodedImage(
            image: RGBImage(width: width, height: height, pixels: pixels), format: format,
            exifOrientation: EXIFOrientation(rawValue: Int(image.exif_orientation)),
            orientationApplied: false, sourceChannels: Int(image.source_channels))
    }

    /// Turns a codec status into the matching error; returns for `ICODEC_OK`.
    private static func check(_ status: Int32, _ image: icodec_image, _ format: ImageFormat, _ message: [CChar],
                              maxPixels: Int) throws {
        let text = cMessage(message)
        switch status {
        case ICODEC_OK:
            return
        case ICODEC_ERR_TOO_LARGE:
            throw ImageDecodingError.tooLarge(
                width: Int(image.width), height: Int(image.height), limit: maxPixels)
        case ICODEC_ERR_UNSUPPORTED:
            throw ImageDecodingError.unsupportedVariant(format: format, message: text)
        case ICODEC_ERR_NO_MEMORY:
            throw ImageDecodingError.outOfMemory(format: format, message: text)
        default:
            throw ImageDecodingError.corrupt(format: format, message: text)
        }
    }
}

/// The NUL-terminated UTF-8 text in a C message buffer (invalid UTF-8 is repaired, not fatal).
func cMessage(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
