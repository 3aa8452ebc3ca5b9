import Foundation
import Imaging

/// The colour spaces of selective search's diversification (Uijlings et al. 2013, section 3.3).
/// Channels follow OpenCV's 8-bit conversions (the peer we are measured against), so that one
/// `k` and one 25-bin histogram range over 0...255 serve every space.
public enum SelectiveSearchColorSpace: String, Sendable, CaseIterable {
    /// R, G, B as stored.
    case rgb
    /// Hue in degrees / 2 (0...180, OpenCV's 8-bit hue), saturation and value (0...1 scaled to
    /// 0...255). The halved hue range also damps hue noise in unsaturated pixels.
    case hsv
    /// CIE L*a*b* (D65, sRGB): L* * 255 / 100, a* + 128, b* + 128 (OpenCV's 8-bit convention).
    case lab

    /// `image` converted to this space, planar.
    public func convert(_ image: RGBImage) -> SelectiveSearchPlanarImage {
        switch self {
        case .rgb: return SelectiveSearchPlanarImage(image)
        case .hsv: return Self.hsv(image)
        case .lab: return Self.lab(image)
        }
    }

    static func hsv(_ image: RGBImage) -> SelectiveSearchPlanarImage {
        let n = image.width * image.height
        var out = [Float](repeating: 0, count: 3 * n)
        image.pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { o in
                for p in 0..<n {
                    let r = Float(px[3 * p]), g = Float(px[3 * p + 1]), b = Float(px[3 * p + 2])
                    let mx = max(r, g, b), mn = min(r, g, b), delta = mx - mn
                    var hue: Float = 0
                    if delta > 0 {
                        if mx == r { hue = (g - b) / delta }
                        else if mx == g { hue = 2 + (b - r) / delta }
                        else { hue = 4 + (r - g) / delta }
                        hue *= 60
                        if hue < 0 { hue += 360 }
                    }
                    o[p] = hue * (180 / 360)
                    o[n + p] = mx > 0 ? 255 * delta / mx : 0
                    o[2 * n + p] = mx
                }
            }
        }
        return SelectiveSearchPlanarImage(width: image.width, height: image.height, channels: 3, values: out)
    }

    static let srgbToLinear: [Float] = (0..<256).map { i in
        let c = Double(i) / 255
        return Float(c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4))
    }

    static func lab(_ image: RGBImage) -> SelectiveSearchPlanarImage {
        let n = image.width * image.height
        var out = [Float](repeating: 0, count: 3 * n)
        let lut = srgbToLinear
        @inline(__always) func f(_ t: Float) -> Float {
            t > 0.008856 ? Float(cbrt(Double(t))) : 7.787 * t + 16.0 / 116.0
        }
        image.pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { o in
                for p in 0..<n {
                    let r = lut[Int(px[3 * p])], g = lut[Int(px[3 * p + 1])], b = lut[Int(px[3 * p + 2])]
                    // sRGB -> XYZ (D65), normalised by the white point.
                    let x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.950456
                    let y = 0.212671 * r + 0.715160 * g + 0.072169 * b
                    let z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.088754
                    let fx = f(x), fy = f(y), fz = f(z)
                    let l = y > 0.008856 ? 116 * fy - 16 : 903.3 * y
                    o[p] = l * 255 / 100
                    o[n + p] = 500 * (fx - fy) + 128
                    o[2 * n + p] = 200 * (fy - fz) + 128
                }
            }
        }
        return SelectiveSearchPlanarImage(width: image.width, height: image.height, channels: 3, values: out)
    }
}
