import Foundation
import Tensor

/// Pastes 28x28 mask probabilities into the image, as torchvision's `paste_masks_in_image`: the mask
/// is padded by one pixel of zeros, the box expanded by the same ratio (30/28) and truncated to
/// integers, the padded mask resized bilinearly to the integer box (+1 pixel) and copied into place.
///
/// Only the expanded box's part inside the image is ever computed, one row at a time (with
/// `Interpolation.taps`' coordinates and the float32 expression of `Interpolation.bilinear`, so the
/// values equal resizing the whole padded mask to the box): memory is the box's bytes plus one row
/// of floats, never an image- or box-sized float buffer. Stateless; safe to call from any thread.
public enum MaskPaster {
    /// Binary mask of one detection over its expanded, clipped box: the pasted probability is
    /// strictly above `threshold`. Empty (no rectangle) when the box lies outside the image.
    public static func paste(_ mask: UnsafePointer<Float>, size m: Int, box: Box, imageH: Int, imageW: Int,
                             threshold: Float = 0.5) -> BoxMask {
        guard let region = region(box: box, size: m, imageH: imageH, imageW: imageW) else {
            return .empty(imageWidth: imageW, imageHeight: imageH)
        }
        let width = region.x1 - region.x0, height = region.y1 - region.y0
        var bits = [UInt8](repeating: 0, count: width * height)
        bits.withUnsafeMutableBufferPointer { out in
            pasteRows(mask, size: m, region) { y, row in
                let line = out.baseAddress! + (y - region.y0) * width
                for x in 0..<width where row[x] > threshold { line[x] = 1 }
            }
        }
        return BoxMask(x0: region.x0, y0: region.y0, width: width, height: height,
                       imageWidth: imageW, imageHeight: imageH, bits: bits)
    }

    /// Pasted probabilities (row-major `imageH * imageW`, zero outside the box), as torchvision returns
    /// them. Allocates the whole image; for parity tests.
    public static func pasteProbabilities(_ mask: UnsafePointer<Float>, size m: Int, box: Box, imageH: Int, imageW: Int) -> [Float] {
        var out = [Float](repeating: 0, count: imageH * imageW)
        guard let region = region(box: box, size: m, imageH: imageH, imageW: imageW) else { return out }
        pasteRows(mask, size: m, region) { y, row in
            for x in region.x0..<region.x1 { out[y * imageW + x] = row[x - region.x0] }
        }
        return out
    }

    /// Where a box's mask lands: the integer expanded box (`bx0`, `by0`, `w x h`, torchvision's
    /// `expand_boxes` then `.to(int64)`) and its part inside the image, `[x0, x1) x [y0, y1)`.
    struct Region {
        var bx0, by0, w, h: Int
        var x0, x1, y0, y1: Int
    }

    /// The region of `box`, or nil when none of it lies inside the image.
    static func region(box: Box, size m: Int, imageH: Int, imageW: Int) -> Region? {
        let scale = Float(Double(m + 2) / Double(m))
        var wh = (box.x2 - box.x1) * 0.5, hh = (box.y2 - box.y1) * 0.5
        let cx = (box.x2 + box.x1) * 0.5, cy = (box.y2 + box.y1) * 0.5
        wh *= scale; hh *= scale
        // Truncation toward zero, as `.to(torch.int64)`; non-finite boxes have no region.
        let corners = [cx - wh, cy - hh, cx + wh, cy + hh]
        guard corners.allSatisfy({ $0.isFinite && abs($0) < 1e9 }) else { return nil }
        let bx0 = Int(corners[0]), by0 = Int(corners[1]), bx1 = Int(corners[2]), by1 = Int(corners[3])
        let r = Region(bx0: bx0, by0: by0, w: max(bx1 - bx0 + 1, 1), h: max(by1 - by0 + 1, 1),
                       x0: max(bx0, 0), x1: min(bx1 + 1, imageW), y0: max(by0, 0), y1: min(by1 + 1, imageH))
        return r.x1 > r.x0 && r.y1 > r.y0 ? r : nil
    }

    /// Calls `row(y, values)` for each image row `y` of the region, top to bottom, with the
    /// probabilities of its columns `x0 ..< x1` (`values[x - x0]`); the buffer is reused.
    static func pasteRows(_ mask: UnsafePointer<Float>, size m: Int, _ r: Region,
                          _ row: (Int, UnsafeBufferPointer<Float>) -> Void) {
        let padded = m + 2
        var pm = [Float](repeating: 0, count: padded * padded)
        for y in 0..<m { for x in 0..<m { pm[(y + 1) * padded + x + 1] = mask[y * m + x] } }
        // Only the taps of the rows and columns inside the image.
        let ty = Interpolation.taps(input: padded, output: r.h, outputs: (r.y0 - r.by0)..<(r.y1 - r.by0))
        let tx = Interpolation.taps(input: padded, output: r.w, outputs: (r.x0 - r.bx0)..<(r.x1 - r.bx0))
        var values = [Float](repeating: 0, count: tx.count)
        pm.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { out in
                for (i, (y0, y1, ly0, ly1)) in ty.enumerated() {
                    let r0 = src.baseAddress! + y0 * padded, r1 = src.baseAddress! + y1 * padded
                    for (j, (x0, x1, lx0, lx1)) in tx.enumerated() {
                        // The expression of `Interpolation.bilinear`, term for term.
                        out[j] = ly0 * (lx0 * r0[x0] + lx1 * r0[x1]) + ly1 * (lx0 * r1[x0] + lx1 * r1[x1])
                    }
                    row(r.y0 + i, UnsafeBufferPointer(out))
                }
            }
        }
    }
}
