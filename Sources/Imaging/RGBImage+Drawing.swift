/// Drawing primitives for annotated output: rectangles and translucent masks.
///
/// Coordinates are pixels, x right, y down, (0, 0) the top-left pixel. Integer rectangles are
/// half-open: `(x0, y0, x1, y1)` covers columns `x0..<x1` and rows `y0..<y1`, which is also how
/// a detection box `[x1, y1, x2, y2]` in continuous pixel coordinates covers pixels (pixel i
/// spans [i, i+1)). Everything is clipped to the image; drawing outside it is a no-op, never
/// a crash.
extension RGBImage {
    /// Sets every pixel of the half-open rectangle `[x0, x1) x [y0, y1)` (clipped) to `color`.
    public mutating func fillRectangle(x0: Int, y0: Int, x1: Int, y1: Int, color: RGBColor) {
        let left = max(x0, 0), right = min(x1, width)
        let top = max(y0, 0), bottom = min(y1, height)
        guard left < right, top < bottom else { return }
        pixels.withUnsafeMutableBufferPointer { buffer in
            for y in top..<bottom {
                var offset = (y * width + left) * 3
                for _ in left..<right {
                    buffer[offset] = color.red
                    buffer[offset + 1] = color.green
                    buffer[offset + 2] = color.blue
                    offset += 3
                }
            }
        }
    }

    /// Draws the outline of the half-open rectangle `[x0, x1) x [y0, y1)`: a band `thickness`
    /// pixels wide just inside its edges (so the outline never grows the box). A rectangle
    /// narrower than twice the thickness comes out filled. Clipped to the image.
    public mutating func strokeRectangle(
        x0: Int, y0: Int, x1: Int, y1: Int, color: RGBColor, thickness: Int = 2
    ) {
        guard x0 < x1, y0 < y1, thickness > 0 else { return }
        let t = thickness
        fillRectangle(x0: x0, y0: y0, x1: x1, y1: min(y0 + t, y1), color: color)  // top
        fillRectangle(x0: x0, y0: max(y1 - t, y0), x1: x1, y1: y1, color: color)  // bottom
        fillRectangle(x0: x0, y0: y0, x1: min(x0 + t, x1), y1: y1, color: color)  // left
        fillRectangle(x0: max(x1 - t, x0), y0: y0, x1: x1, y1: y1, color: color)  // right
    }

    /// Outlines a detection box given in continuous pixel coordinates `[x1, y1, x2, y2]`
    /// (torchvision's convention), rounding each edge to the nearest pixel boundary, then as
    /// `strokeRectangle`. Non-finite coordinates draw nothing.
    public mutating func strokeBox<F: BinaryFloatingPoint>(
        x1: F, y1: F, x2: F, y2: F, color: RGBColor, thickness: Int = 2
    ) {
        guard let rect = Self.pixelRectangle(x1: x1, y1: y1, x2: x2, y2: y2) else { return }
        strokeRectangle(x0: rect.x0, y0: rect.y0, x1: rect.x1, y1: rect.y1, color: color,
                        thickness: thickness)
    }

    /// Blends `color` into every pixel whose entry in `mask` is true:
    /// `out = (src * (255 - a) + color * a + 127) / 255` per channel, with
    /// `a = round(alpha * 255)` (alpha in 0...1, clamped), i.e. `src` blended toward `color`
    /// by `alpha` and rounded to nearest. `mask` is row-major `height * width`, the image's size.
    public mutating func blendMask(_ mask: [Bool], color: RGBColor, alpha: Double) {
        precondition(mask.count == width * height,
                     "mask has \(mask.count) entries, image \(width)x\(height) needs \(width * height)")
        mask.withUnsafeBufferPointer { bits in
            blend(color: color, alpha: alpha) { bits[$0] }
        }
    }

    /// As the `[Bool]` version, with a mask entry counting as set when it is `>= threshold`
    /// (default 1: any non-zero byte; use 128 for a 0...255 probability map thresholded at 0.5,
    /// as torchvision's Mask R-CNN postprocessing does).
    public mutating func blendMask(
        _ mask: [UInt8], color: RGBColor, alpha: Double, threshold: UInt8 = 1
    ) {
        precondition(mask.count == width * height,
                     "mask has \(mask.count) entries, image \(width)x\(height) needs \(width * height)")
        let limit = max(threshold, 1)
        mask.withUnsafeBufferPointer { bytes in
            blend(color: color, alpha: alpha) { bytes[$0] >= limit }
        }
    }

    /// As the `[UInt8]` version for a mask that is zero outside one rectangle: `region` is row-major
    /// `regionWidth * regionHeight` for the pixels `x ..< x + regionWidth`, `y ..< y + regionHeight`
    /// (any non-zero byte is set). Parts of the rectangle outside the image are skipped. Time and
    /// memory follow the rectangle, not the image.
    public mutating func blendMask(
        _ region: [UInt8], x: Int, y: Int, regionWidth: Int, regionHeight: Int, color: RGBColor, alpha: Double
    ) {
        precondition(regionWidth >= 0 && regionHeight >= 0 && region.count == regionWidth * regionHeight,
                     "region has \(region.count) entries, \(regionWidth)x\(regionHeight) needs \(regionWidth * regionHeight)")
        let weight = Self.blendWeight(alpha: alpha)
        let cx0 = max(x, 0), cx1 = min(x + regionWidth, width), cy0 = max(y, 0), cy1 = min(y + regionHeight, height)
        guard weight > 0, cx1 > cx0, cy1 > cy0 else { return }
        let imageWidth = width
        region.withUnsafeBufferPointer { bits in
            pixels.withUnsafeMutableBufferPointer { buffer in
                for py in cy0..<cy1 {
                    let line = (py - y) * regionWidth - x
                    for px in cx0..<cx1 where bits[line + px] != 0 {
                        let offset = (py * imageWidth + px) * 3
                        buffer[offset] = Self.blendChannel(buffer[offset], color.red, weight: weight)
                        buffer[offset + 1] = Self.blendChannel(buffer[offset + 1], color.green, weight: weight)
                        buffer[offset + 2] = Self.blendChannel(buffer[offset + 2], color.blue, weight: weight)
                    }
                }
            }
        }
    }

    /// The blend weight `round(alpha * 255)` in 0...255 used by `blendMask`.
    public static func blendWeight(alpha: Double) -> Int {
        guard alpha.isFinite else { return alpha > 0 ? 255 : 0 }
        return Int((min(max(alpha, 0), 1) * 255).rounded())
    }

    /// One channel of `blendMask`: `(source * (255 - weight) + target * weight + 127) / 255`.
    @inlinable
    public static func blendChannel(_ source: UInt8, _ target: UInt8, weight: Int) -> UInt8 {
        UInt8((Int(source) * (255 - weight) + Int(target) * weight + 127) / 255)
    }

    private mutating func blend(color: RGBColor, alpha: Double, isSet: (Int) -> Bool) {
        let weight = Self.blendWeight(alpha: alpha)
        guard weight > 0 else { return }
        let count = width * height
        pixels.withUnsafeMutableBufferPointer { buffer in
            for index in 0..<count where isSet(index) {
                let offset = index * 3
                buffer[offset] = Self.blendChannel(buffer[offset], color.red, weight: weight)
                buffer[offset + 1] = Self.blendChannel(buffer[offset + 1], color.green, weight: weight)
                buffer[offset + 2] = Self.blendChannel(buffer[offset + 2], color.blue, weight: weight)
            }
        }
    }

    /// Rounds a continuous box to a half-open integer rectangle, or nil for non-finite input.
    /// Coordinates are clamped to ±2^30 first so absurd values cannot overflow `Int`.
    static func pixelRectangle<F: BinaryFloatingPoint>(x1: F, y1: F, x2: F, y2: F)
        -> (x0: Int, y0: Int, x1: Int, y1: Int)?
    {
        let values = [x1, y1, x2, y2].map(Double.init)
        guard values.allSatisfy(\.isFinite) else { return nil }
        let r = values.map { Int(min(max($0, -1_073_741_824), 1_073_741_824).rounded()) }
        return (min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3]))
    }
}
