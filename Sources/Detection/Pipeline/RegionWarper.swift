import Foundation
import Imaging
import Tensor

/// R-CNN's region warping (Girshick et al., 2014, appendix A): the proposal is dilated so that, once
/// warped to `size` x `size`, exactly `context` pixels of image surround it on every side; the dilated
/// box is resampled bilinearly and anisotropically to the square, and parts outside the image take
/// the dataset mean colour (zero after normalisation, as R-CNN's mean-subtracted padding).
public struct RegionWarper: Sendable {
    public let size: Int
    public let context: Int

    /// The paper: 227 x 227 with 16 pixels of context; 224 keeps the input a multiple of 32.
    public init(size: Int = 224, context: Int = 16) {
        precondition(size > 2 * context && context >= 0)
        self.size = size
        self.context = context
    }

    /// The dilated box in image coordinates whose warp puts `box` at `[context, size - context]`.
    public func dilated(_ box: Box) -> Box {
        let inner = Float(size - 2 * context)
        let sx = max(box.width, 1e-3) / inner, sy = max(box.height, 1e-3) / inner
        let pad = Float(context)
        return Box(box.x1 - pad * sx, box.y1 - pad * sy, box.x2 + pad * sx, box.y2 + pad * sy)
    }

    /// The normalised `[1, 3, size, size]` input for one region.
    public func warp(_ image: RGBImage, _ box: Box, mean: [Float], std: [Float]) -> Tensor {
        let d = dilated(box)
        let sx = d.width / Float(size), sy = d.height / Float(size)
        var out = Tensor.uninitialized([1, 3, size, size])
        let w = image.width, h = image.height
        image.pixels.withUnsafeBufferPointer { px in
            out.data.withUnsafeMutableBufferPointer { dst in
                for oy in 0..<size {
                    let y = d.y1 + (Float(oy) + 0.5) * sy - 0.5
                    for ox in 0..<size {
                        let x = d.x1 + (Float(ox) + 0.5) * sx - 0.5
                        // Bilinear; samples outside the image take the mean (normalised 0).
                        let x0 = Int(floorf(x)), y0 = Int(floorf(y))
                        let lx = x - Float(x0), ly = y - Float(y0)
                        let taps = [(x0, y0, (1 - lx) * (1 - ly)), (x0 + 1, y0, lx * (1 - ly)),
                                    (x0, y0 + 1, (1 - lx) * ly), (x0 + 1, y0 + 1, lx * ly)]
                        var acc: (Float, Float, Float) = (0, 0, 0)
                        for (xx, yy, wt) in taps where wt != 0 && xx >= 0 && xx < w && yy >= 0 && yy < h {
                            let o = (yy * w + xx) * 3
                            acc.0 += wt * ((Float(px[o]) / 255 - mean[0]) / std[0])
                            acc.1 += wt * ((Float(px[o + 1]) / 255 - mean[1]) / std[1])
                            acc.2 += wt * ((Float(px[o + 2]) / 255 - mean[2]) / std[2])
                        }
                        dst[oy * size + ox] = acc.0
                        dst[(size + oy) * size + ox] = acc.1
                        dst[(2 * size + oy) * size + ox] = acc.2
                    }
                }
            }
        }
        return out
    }
}
