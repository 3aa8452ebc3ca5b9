/// The EXIF Orientation tag (0x0112), named by the transform that turns the stored pixels
/// upright, i.e. what PIL's `ImageOps.exif_transpose` applies for each value.
///
/// "Clockwise" is as seen on screen (x right, y down).
public enum EXIFOrientation: Int, Sendable, CaseIterable {
    /// 1: stored upright.
    case identity = 1
    /// 2: mirror left-right.
    case flipHorizontal = 2
    /// 3: rotate 180°.
    case rotate180 = 3
    /// 4: mirror top-bottom.
    case flipVertical = 4
    /// 5: transpose (swap x and y: mirror about the main diagonal).
    case transpose = 5
    /// 6: rotate 90° clockwise (the usual value for a portrait photo from a phone camera).
    case rotate90Clockwise = 6
    /// 7: transverse (mirror about the anti-diagonal).
    case transverse = 7
    /// 8: rotate 90° counter-clockwise.
    case rotate90CounterClockwise = 8

    /// Whether applying this transform swaps width and height.
    public var swapsDimensions: Bool { rawValue >= 5 }
}

extension RGBImage {
    /// This image turned upright according to `orientation`; the result is `height x width`
    /// when `orientation.swapsDimensions`. Matches PIL's `ImageOps.exif_transpose` exactly
    /// (pure pixel moves, no resampling).
    public func applying(_ orientation: EXIFOrientation) -> RGBImage {
        if orientation == .identity { return self }
        let (w, h) = (width, height)
        let (outWidth, outHeight) = orientation.swapsDimensions ? (h, w) : (w, h)
        // For output pixel (x, y), the source pixel it comes from.
        let source: (Int, Int) -> (Int, Int)
        switch orientation {
        case .identity: source = { x, y in (x, y) }
        case .flipHorizontal: source = { x, y in (w - 1 - x, y) }
        case .rotate180: source = { x, y in (w - 1 - x, h - 1 - y) }
        case .flipVertical: source = { x, y in (x, h - 1 - y) }
        case .transpose: source = { x, y in (y, x) }
        case .rotate90Clockwise: source = { x, y in (y, h - 1 - x) }
        case .transverse: source = { x, y in (w - 1 - y, h - 1 - x) }
        case .rotate90CounterClockwise: source = { x, y in (w - 1 - y, x) }
        }
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                var target = 0
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let (sx, sy) = source(x, y)
                        let offset = (sy * w + sx) * 3
                        output[target] = input[offset]
                        output[target + 1] = input[offset + 1]
                        output[target + 2] = input[offset + 2]
                        target += 3
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }
}
