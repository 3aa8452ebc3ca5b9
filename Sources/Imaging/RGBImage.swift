/// An 8-bit RGB image held in memory, the currency of the Imaging module.
///
/// Layout: `pixels` is row-major HWC, 3 bytes per pixel (R, G, B), rows stored top to bottom
/// with no padding, so pixel (x, y) starts at `(y * width + x) * 3`. Coordinates: x grows to the
/// right, y grows downward, pixel (0, 0) is the top-left corner. Sizes are in pixels.
///
/// A value type: copies are independent (copy-on-write through the array), and it is `Sendable`,
/// so decoded images may be handed between threads freely.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels (number of columns).
    public let width: Int
    /// Height in pixels (number of rows).
    public let height: Int
    /// `height * width * 3` bytes, HWC order (see the type's documentation).
    public var pixels: [UInt8]

    /// Wraps existing pixels. `pixels.count` must be exactly `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "image size must not be negative")
        precondition(pixels.count == width * height * 3,
                     "RGBImage \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image of the given size filled with one colour (black by default).
    public init(width: Int, height: Int, fill: RGBColor = .black) {
        precondition(width >= 0 && height >= 0, "image size must not be negative")
        self.width = width
        self.height = height
        if fill == .black {
            self.pixels = [UInt8](repeating: 0, count: width * height * 3)
        } else {
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for offset in stride(from: 0, to: pixels.count, by: 3) {
                pixels[offset] = fill.red
                pixels[offset + 1] = fill.green
                pixels[offset + 2] = fill.blue
            }
            self.pixels = pixels
        }
    }

    /// Number of pixels, `width * height`.
    public var pixelCount: Int { width * height }

    /// Whether (x, y) lies inside the image.
    @inlinable
    public func contains(x: Int, y: Int) -> Bool {
        x >= 0 && y >= 0 && x < width && y < height
    }

    /// The colour at column `x`, row `y`; both must be inside the image.
    public subscript(x: Int, y: Int) -> RGBColor {
        get {
            precondition(contains(x: x, y: y), "pixel (\(x), \(y)) outside \(width)x\(height)")
            let offset = (y * width + x) * 3
            return RGBColor(red: pixels[offset], green: pixels[offset + 1], blue: pixels[offset + 2])
        }
        set {
            precondition(contains(x: x, y: y), "pixel (\(x), \(y)) outside \(width)x\(height)")
            let offset = (y * width + x) * 3
            pixels[offset] = newValue.red
            pixels[offset + 1] = newValue.green
            pixels[offset + 2] = newValue.blue
        }
    }
}

extension RGBImage: CustomStringConvertible {
    public var description: String { "RGBImage(\(width)x\(height))" }
}
