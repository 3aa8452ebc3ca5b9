import CImageCodec

/// Encodes `RGBImage`s as PNG or JPEG bytes (libpng and libjpeg-turbo, through CImageCodec).
///
/// Thread-safety: stateless; call from any thread concurrently.
public enum ImageEncoder {
    /// 8-bit RGB PNG, not interlaced, no metadata. Lossless: decoding gives back `image`.
    ///
    /// - Parameter compressionLevel: zlib level 0...9 (6 is zlib's default; 1 is several times
    ///   faster for annotated output at a modestly larger size).
    public static func png(_ image: RGBImage, compressionLevel: Int = 6) throws -> [UInt8] {
        try run(.png, image) { pixels, out, size, text, capacity in
            icodec_encode_png(pixels, UInt32(image.width), UInt32(image.height),
                              Int32(compressionLevel), out, size, text, capacity)
        }
    }

    /// Baseline (or progressive) JFIF JPEG, YCbCr 4:2:0, standard IJG quantisation tables
    /// scaled by `quality` (1...100, as libjpeg's `cjpeg -quality`).
    public static func jpeg(_ image: RGBImage, quality: Int = 90, progressive: Bool = false) throws
        -> [UInt8]
    {
        guard (1...100).contains(quality) else {
            throw ImageEncodingError(format: .jpeg, message: "quality must be 1...100, got \(quality)")
        }
        return try run(.jpeg, image) { pixels, out, size, text, capacity in
            icodec_encode_jpeg(pixels, UInt32(image.width), UInt32(image.height), Int32(quality),
                               progressive ? 1 : 0, out, size, text, capacity)
        }
    }

    /// `png(image)` or `jpeg(image)` with default settings.
    public static func encode(_ image: RGBImage, as format: ImageFormat) throws -> [UInt8] {
        switch format {
        case .png: return try png(image)
        case .jpeg: return try jpeg(image)
        }
    }

    private typealias CEncoder = (
        UnsafePointer<UInt8>, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
        UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>, Int
    ) -> Int32

    private static func run(_ format: ImageFormat, _ image: RGBImage, _ encode: CEncoder) throws
        -> [UInt8]
    {
        guard image.width > 0, image.height > 0, image.width <= Int(UInt32.max) / 3,
              image.height <= Int(UInt32.max)
        else {
            throw ImageEncodingError(
                format: format, message: "image size \(image.width)x\(image.height) is out of range")
        }
        var output: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: Int(ICODEC_MESSAGE_CAPACITY))
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            message.withUnsafeMutableBufferPointer { text in
                encode(pixels.baseAddress!, &output, &size, text.baseAddress!, text.count)
            }
        }
        defer { icodec_free(output) }
        guard status == ICODEC_OK, let output else {
            throw ImageEncodingError(format: format, message: cMessage(message))
        }
        return [UInt8](UnsafeBufferPointer(start: output, count: size))
    }
}
