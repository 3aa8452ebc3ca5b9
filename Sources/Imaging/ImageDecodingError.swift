/// Why bytes could not be turned into an `RGBImage`. Every case is a client-side problem (the
/// bytes), except `outOfMemory`.
///
/// `code` is a stable machine-readable identifier for JSON error bodies; `description` is a
/// sentence for people.
public enum ImageDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Zero bytes.
    case empty
    /// The magic bytes are neither JPEG nor PNG. Holds up to the first 16 bytes.
    case unsupportedFormat(leadingBytes: [UInt8])
    /// The data claims to be `format` but the library rejected it (truncated, bad CRC, bad
    /// Huffman table, ...). `message` is the library's words, e.g. "IDAT: CRC error" or
    /// "premature end of JPEG data (truncated file)".
    case corrupt(format: ImageFormat, message: String)
    /// A valid file of a kind not decoded here: 12-bit or lossless JPEG, or a JPEG colour space
    /// other than grey, YCbCr, RGB, CMYK and YCCK.
    case unsupportedVariant(format: ImageFormat, message: String)
    /// The header declares `width * height` pixels, more than `limit`. Detected from the header
    /// alone, before any pixel memory is allocated (decompression-bomb guard).
    case tooLarge(width: Int, height: Int, limit: Int)
    /// An allocation failed while decoding.
    case outOfMemory(format: ImageFormat, message: String)

    /// `empty_image`, `unsupported_image_format`, `corrupt_image`, `unsupported_image_variant`,
    /// `image_too_large` or `out_of_memory`.
    public var code: String {
        switch self {
        case .empty: return "empty_image"
        case .unsupportedFormat: return "unsupported_image_format"
        case .corrupt: return "corrupt_image"
        case .unsupportedVariant: return "unsupported_image_variant"
        case .tooLarge: return "image_too_large"
        case .outOfMemory: return "out_of_memory"
        }
    }

    public var description: String {
        switch self {
        case .empty:
            return "image data is empty (0 bytes)"
        case .unsupportedFormat(let head):
            let kind = ImageFormat.guessKind(head).map { ", which looks like \($0)" } ?? ""
            return "unsupported image format: expected JPEG or PNG, but the data starts with "
                + ImageFormat.describeLeadingBytes(head) + kind
        case .corrupt(let format, let message):
            return "corrupt \(format) image: \(message)"
        case .unsupportedVariant(let format, let message):
            return "unsupported \(format) variant: \(message)"
        case .tooLarge(let width, let height, let limit):
            return "image too large: \(width)x\(height) = \(width * height) pixels exceeds the "
                + "limit of \(limit) pixels"
        case .outOfMemory(let format, let message):
            return "out of memory decoding \(format) image: \(message)"
        }
    }
}

/// Why an `RGBImage` could not be encoded: an argument out of range (zero size, JPEG side over
/// 65500, quality outside 1...100) or an allocation failure. `message` says which.
public struct ImageEncodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public let format: ImageFormat
    public let message: String

    public init(format: ImageFormat, message: String) {
        self.format = format
        self.message = message
    }

    public var description: String { "cannot encode \(format): \(message)" }
}
