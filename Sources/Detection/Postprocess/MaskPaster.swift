import Foundation
import Tensor

/// Pastes 28x28 mask probabilities into the image, as torchvision's `paste_masks_in_image`: the mask
/// is padded by one pixel of zeros, the box expanded by the same ratio (30/28) and truncated to
/// integers, the padded mask resized bilinearly to the integer box (+1 pixel) and copied into place.
/// Only the box's region is written; the result is a binary mask thresholded at `threshold`.
public enum MaskPaster {
    /// Binary mask (row-major `imageH * imageW`, 1 = inside) of one detection: the pasted
    /// probability is strictly above `threshold`.
    public static func paste(_ mask: UnsafePointer<Float>, size m: Int, box: Box, imageH: Int, imageW: Int,
                             threshold: Float = 0.5) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: imageH * imageW)
        paste(mask, size: m, box: box, imageH: imageH, imageW: imageW) { y, x, p in
            if p > threshold { out[y * imageW + x] = 1 }
        }
        return out
    }

    /// Pasted probabilities (row-major `imageH * imageW`, zero outside the box), as torchvision returns.
    public static func pasteProbabilities(_ mask: UnsafePointer<Float>, size m: Int, box: Box, imageH: Int, imageW: Int) -> [Float] {
        var out = [Float](repeating: 0, count: imageH * imageW)
        paste(mask, size: m, box: box, imageH: imageH, imageW: imageW) { y, x, p in out[y * imageW + x] = p }
        return out
    }

    /// Calls `write(y, x, probability)` for every image pixel inside the expanded, clipped box.
    static func paste(_ mask: UnsafePointer<Float>, size m: Int, box: Box, imageH: Int, imageW: Int,
                      write: (Int, Int, Float) -> Void) {
        let padded = m + 2
        let scale = Float(Double(padded) / Double(m))
        var pm = Tensor(shape: [1, 1, padded, padded])
        for y in 0..<m { for x in 0..<m { pm.data[(y + 1) * padded + x + 1] = mask[y * m + x] } }
        var wh = (box.x2 - box.x1) * 0.5, hh = (box.y2 - box.y1) * 0.5
        let cx = (box.x2 + box.x1) * 0.5, cy = (box.y2 + box.y1) * 0.5
        wh *= scale; hh *= scale
        // Truncation toward zero, as `.to(torch.int64)`.
        let bx0 = Int(cx - wh), by0 = Int(cy - hh), bx1 = Int(cx + wh), by1 = Int(cy + hh)
        let w = max(bx1 - bx0 + 1, 1), h = max(by1 - by0 + 1, 1)
        let x0 = max(bx0, 0), x1 = min(bx1 + 1, imageW), y0 = max(by0, 0), y1 = min(by1 + 1, imageH)
        guard x1 > x0, y1 > y0 else { return }
        let resized = Interpolation.bilinear(pm, outH: h, outW: w)
        resized.data.withUnsafeBufferPointer { r in
            for y in y0..<y1 {
                let row = (y - by0) * w - bx0
                for x in x0..<x1 { write(y, x, r[row + x]) }
            }
        }
    }
}
