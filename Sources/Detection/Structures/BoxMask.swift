import COCO

/// A binary instance mask stored over its box only: `bits` is row-major `width * height`
/// (`bits[y * width + x]`, 0 or 1) for image pixels `x0 ..< x0 + width`, `y0 ..< y0 + height`; every
/// pixel of the `imageWidth x imageHeight` image outside that rectangle is 0. Coordinates are
/// original-image pixels, x right, y down. A 40-megapixel image's mask costs its box's bytes, not
/// 40 MB.
///
/// A value type; safe to share between threads.
public struct BoxMask: Sendable, Equatable {
    /// Left column and top row of the stored rectangle, in image pixels (`>= 0`).
    public let x0: Int
    public let y0: Int
    /// Size of the stored rectangle, in pixels (`x0 + width <= imageWidth`, `y0 + height <= imageHeight`).
    public let width: Int
    public let height: Int
    /// Size of the whole image the mask belongs to, in pixels.
    public let imageWidth: Int
    public let imageHeight: Int
    /// Row-major `width * height` bytes, 1 inside the mask.
    public let bits: [UInt8]

    /// Wraps a rectangle's bits; the rectangle must lie inside the image (a programming error otherwise).
    public init(x0: Int, y0: Int, width: Int, height: Int, imageWidth: Int, imageHeight: Int, bits: [UInt8]) {
        precondition(x0 >= 0 && y0 >= 0 && width >= 0 && height >= 0 && x0 + width <= imageWidth
                     && y0 + height <= imageHeight && bits.count == width * height,
                     "mask rectangle \(x0),\(y0) \(width)x\(height) (\(bits.count) bytes) outside image \(imageWidth)x\(imageHeight)")
        self.x0 = x0
        self.y0 = y0
        self.width = width
        self.height = height
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
        self.bits = bits
    }

    /// An empty mask of an image (nothing stored).
    public static func empty(imageWidth: Int, imageHeight: Int) -> BoxMask {
        BoxMask(x0: 0, y0: 0, width: 0, height: 0, imageWidth: imageWidth, imageHeight: imageHeight, bits: [])
    }

    /// Number of pixels inside the mask.
    public var area: Int { bits.reduce(0) { $0 + Int($1 != 0 ? 1 : 0) } }

    /// The COCO RLE of the whole-image mask, encoded from the rectangle without building the image
    /// (equal to `RLE(rowMajorMask: fullImageMask(), ...)`).
    public func rle() -> RLE {
        RLE(rowMajorRegion: bits, x: x0, y: y0, width: width, height: height, imageHeight: imageHeight, imageWidth: imageWidth)
    }

    /// The whole-image mask, row-major `imageHeight * imageWidth` (allocates the full image: for tests
    /// and small images only).
    public func fullImageMask() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: imageWidth * imageHeight)
        for y in 0..<height { for x in 0..<width { out[(y0 + y) * imageWidth + x0 + x] = bits[y * width + x] } }
        return out
    }
}
