import Foundation

/// Per-pixel texture bins for selective search's texture similarity (Uijlings et al. 2013,
/// section 3.2): for every channel, Gaussian derivatives (sigma = 1) in 8 orientations, each
/// half-wave rectified (orientation theta and theta + 180 degrees are separate), binned into 10
/// bins over `[0, max response in the image]`. First derivatives of a Gaussian are steerable, so
/// the 8 oriented responses are `cos(theta) * Gx + sin(theta) * Gy` of the smoothed channel.
struct SelectiveSearchTexture {
    static let orientations = 8
    static let bins = 10

    /// `pixels * channels * 8` bin indices, pixel-major.
    let bins: [UInt8]
    let featuresPerPixel: Int

    /// No texture (for strategies without the texture similarity).
    static let empty = SelectiveSearchTexture(bins: [], featuresPerPixel: 0)

    private init(bins: [UInt8], featuresPerPixel: Int) {
        self.bins = bins
        self.featuresPerPixel = featuresPerPixel
    }

    init(_ image: SelectiveSearchPlanarImage) {
        let w = image.width, h = image.height, n = w * h, channels = image.channels
        let per = channels * Self.orientations
        featuresPerPixel = per
        var bins = [UInt8](repeating: 0, count: n * per)
        let smooth = image.gaussianSmoothed(sigma: 1)
        var gx = [Float](repeating: 0, count: n)
        var gy = [Float](repeating: 0, count: n)
        let cosines: [Float] = (0..<Self.orientations).map { Float(cos(Double($0) * .pi / 4)) }
        let sines: [Float] = (0..<Self.orientations).map { Float(sin(Double($0) * .pi / 4)) }
        smooth.values.withUnsafeBufferPointer { v in
            for c in 0..<channels {
                let s = v.baseAddress! + c * n
                for y in 0..<h {
                    let up = max(y - 1, 0), down = min(y + 1, h - 1)
                    for x in 0..<w {
                        let left = max(x - 1, 0), right = min(x + 1, w - 1)
                        gx[y * w + x] = 0.5 * (s[y * w + right] - s[y * w + left])
                        gy[y * w + x] = 0.5 * (s[down * w + x] - s[up * w + x])
                    }
                }
                for o in 0..<Self.orientations {
                    let co = cosines[o], si = sines[o]
                    var top: Float = 0
                    for p in 0..<n { top = max(top, co * gx[p] + si * gy[p]) }
                    let scale: Float = top > 0 ? Float(Self.bins) / top : 0
                    let slot = c * Self.orientations + o
                    for p in 0..<n {
                        let r = max(0, co * gx[p] + si * gy[p]) * scale
                        bins[p * per + slot] = UInt8(min(Int(r), Self.bins - 1))
                    }
                }
            }
        }
        self.bins = bins
    }
}
