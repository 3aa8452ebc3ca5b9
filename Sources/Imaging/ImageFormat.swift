/// The encoded image formats this module reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case jpeg
    case png

    /// The format announced by the first bytes of `bytes`, or nil when neither matches.
    ///
    /// JPEG: the SOI marker `FF D8` (libjpeg requires it first). PNG: `89 50 4E 47` ("\x89PNG",
    /// the first half of the 8-byte signature; the decoder checks all 8). Only magic bytes are
    /// looked at, never a file name or a Content-Type.
    public static func sniff<Bytes: Collection>(_ bytes: Bytes) -> ImageFormat?
    where Bytes.Element == UInt8 {
        var iterator = bytes.makeIterator()
        var head: [UInt8] = []
        while head.count < 4, let byte = iterator.next() { head.append(byte) }
        if head.count >= 2 && head[0] == 0xFF && head[1] == 0xD8 { return .jpeg }
        if head == [0x89, 0x50, 0x4E, 0x47] { return .png }
        return nil
    }

    /// The media type for HTTP: `image/jpeg` or `image/png`.
    public var mimeType: String { self == .jpeg ? "image/jpeg" : "image/png" }

    /// The usual file name extension, without the dot.
    public var fileExtension: String { self == .jpeg ? "jpg" : "png" }

    /// `JPEG` or `PNG`.
    public var description: String { rawValue.uppercased() }

    /// A short guess at what unrecognised data is, from its magic bytes: "GIF", "BMP", "WebP",
    /// "TIFF", "HEIF/AVIF", "PDF", "PNM", "ICO", "text", or nil when nothing matches.
    public static func guessKind(_ head: [UInt8]) -> String? {
        func starts(_ prefix: String) -> Bool { head.starts(with: Array(prefix.utf8)) }
        if starts("GIF87a") || starts("GIF89a") { return "GIF" }
        if starts("BM") { return "BMP" }
        if starts("RIFF") && head.count >= 12 && Array(head[8..<12]) == Array("WEBP".utf8) {
            return "WebP"
        }
        if starts("II*\u{0}") || starts("MM\u{0}*") { return "TIFF" }
        if head.count >= 12 && Array(head[4..<8]) == Array("ftyp".utf8) { return "HEIF/AVIF" }
        if starts("%PDF") { return "PDF" }
        if head.count >= 2 && head[0] == UInt8(ascii: "P") && (0x31...0x36).contains(head[1]) {
            return "PNM"
        }
        if head.starts(with: [0, 0, 1, 0]) { return "ICO" }
        let printable = head.allSatisfy { (0x20...0x7E).contains($0) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        if !head.isEmpty && printable { return "text" }
        return nil
    }

    /// Renders up to the first 16 bytes as hex plus printable ASCII, e.g.
    /// `47 49 46 38 39 61 ("GIF89a")`, for error messages.
    public static func describeLeadingBytes(_ head: [UInt8]) -> String {
        let shown = head.prefix(16)
        let hexDigits = shown.map { byte -> String in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }
        let ascii = String(shown.map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." })
        return hexDigits.joined(separator: " ") + " (\"" + ascii + "\")"
    }
}
