import Foundation
import Imaging

/// A float image in planar (CHW) layout, the working format of Felzenszwalb segmentation and
/// selective search. Values are on the 0...255 scale of 8-bit images (see
/// `SelectiveSearchColorSpace` for what each channel holds).
///
/// A value type; `Sendable`.
public struct SelectiveSearchPlanarImage: Sendable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Number of channels.
    public let channels: Int
    /// `channels * height * width` values; channel `c`, pixel (x, y) is at
    /// `c * height * width + y * width + x`.
    public var values: [Float]

    public init(width: Int, height: Int, channels: Int, values: [Float]) {
        precondition(values.count == width * height * channels, "planar image size mismatch")
        self.width = width
        self.height = height
        self.channels = channels
        self.values = values
    }

    /// The RGB channels of `image`, unchanged in value (0...255).
    public init(_ image: RGBImage) {
        let count = image.width * image.height
        var values = [Float](repeating: 0, count: 3 * count)
        image.pixels.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                for p in 0..<count {
                    dst[p] = Float(src[3 * p])
                    dst[count + p] = Float(src[3 * p + 1])
                    dst[2 * count + p] = Float(src[3 * p + 2])
                }
            }
        }
        self.init(width: image.width, height: image.height, channels: 3, values: values)
    }

    /// Each channel smoothed by a Gaussian of standard deviation `sigma` pixels, separably, as
    /// `scipy.ndimage.gaussian_filter(mode="reflect", truncate=4.0)` does (this is what
    /// `skimage.segmentation.felzenszwalb` applies before building its graph): kernel radius
    /// `Int(4 * sigma + 0.5)`, borders mirrored about the edge (`d c b a | a b c d`).
    /// `sigma <= 0` returns the image unchanged.
    public func gaussianSmoothed(sigma: Float) -> SelectiveSearchPlanarImage {
        guard sigma > 0, width > 0, height > 0 else { return self }
        let radius = Int(4 * sigma + 0.5)
        var kernel = [Float](repeating: 0, count: 2 * radius + 1)
        var total: Float = 0
        for i in -radius...radius {
            let w = Float(exp(-0.5 * Double(i * i) / Double(sigma * sigma)))
            kernel[i + radius] = w
            total += w
        }
        for i in kernel.indices { kernel[i] /= total }
        let rowIndex = Self.reflectIndices(length: height, radius: radius)
        let colIndex = Self.reflectIndices(length: width, radius: radius)
        let plane = width * height
        var out = [Float](repeating: 0, count: values.count)
        var tmp = [Float](repeating: 0, count: plane)
        let (w, h, r) = (width, height, radius)
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                tmp.withUnsafeMutableBufferPointer { t in
                    kernel.withUnsafeBufferPointer { k in
                        for c in 0..<channels {
                            let s = src.baseAddress! + c * plane
                            let d = dst.baseAddress! + c * plane
                            // Along axis 0 (rows), as scipy does first.
                            for y in 0..<h {
                                let trow = t.baseAddress! + y * w
                                for x in 0..<w { trow[x] = 0 }
                                for j in 0...(2 * r) {
                                    let srow = s + rowIndex[y + j] * w
                                    let kj = k[j]
                                    for x in 0..<w { trow[x] += kj * srow[x] }
                                }
                            }
                            // Along axis 1 (columns).
                            for y in 0..<h {
                                let trow = t.baseAddress! + y * w
                                let drow = d + y * w
                                if w > 2 * r {
                                    for x in r..<(w - r) {
                                        var acc: Float = 0
                                        for j in 0...(2 * r) { acc += k[j] * trow[x - r + j] }
                                        drow[x] = acc
                                    }
                                }
                                for x in 0..<w where x < r || x >= w - r || w <= 2 * r {
                                    var acc: Float = 0
                                    for j in 0...(2 * r) { acc += k[j] * trow[colIndex[x + j]] }
                                    drow[x] = acc
                                }
                            }
                        }
                    }
                }
            }
        }
        return SelectiveSearchPlanarImage(width: width, height: height, channels: channels, values: out)
    }

    /// For output position `i`, `indices[i + j]` (j in 0...2r) is the source index of tap
    /// `j - r` under scipy's "reflect" boundary (period `2 * length`).
    static func reflectIndices(length: Int, radius: Int) -> [Int] {
        (-radius..<(length + radius)).map { i in
            let period = 2 * length
            var m = i % period
            if m < 0 { m += period }
            return m < length ? m : period - 1 - m
        }
    }
}
