import Foundation

extension Interpolation {
    /// Bilinear resize (align_corners=False, PyTorch's sampling as `bilinear(_:outH:outW:)`) straight
    /// from an interleaved 8-bit image (`src[(y * width + x) * channels + c]`) into the top-left
    /// `outH x outW` corner of each channel plane of `dst` (`[1, channels, H >= outH, W >= outW]`).
    ///
    /// Every source sample is first mapped through `lookup[c][byte]` (a per-channel table of 256
    /// floats, e.g. `(byte / 255 - mean) / std`), then the four taps are weighted with exactly the
    /// float32 expression and the coordinates (`taps`) of the tensor version. The result is therefore
    /// bit-identical to mapping the whole image to floats first and resizing that tensor, while only
    /// the output is ever held in float: a 40-megapixel image never becomes a 480 MB tensor.
    /// Equal sizes copy the mapped samples unchanged.
    ///
    /// Reads `src` and writes only `dst`'s corner; safe to call concurrently on distinct outputs.
    public static func bilinear(interleaved src: UnsafeBufferPointer<UInt8>, height h: Int, width w: Int,
                                channels: Int, lookup: [[Float]], outH: Int, outW: Int, into dst: inout Tensor) {
        precondition(h > 0 && w > 0 && outH > 0 && outW > 0 && channels > 0, "empty resize")
        precondition(src.count == h * w * channels, "source has \(src.count) bytes, expected \(h)x\(w)x\(channels)")
        precondition(lookup.count == channels && lookup.allSatisfy { $0.count == 256 }, "one 256-entry table per channel")
        precondition(dst.shape.count == 4 && dst.shape[0] == 1 && dst.shape[1] == channels
                     && dst.shape[2] >= outH && dst.shape[3] >= outW, "destination \(dst.shape) too small")
        let planeH = dst.shape[2], planeW = dst.shape[3]
        let same = outH == h && outW == w
        let ty = same ? [] : taps(input: h, output: outH), tx = same ? [] : taps(input: w, output: outW)
        let table = lookup.flatMap { $0 }
        table.withUnsafeBufferPointer { lut in
            dst.data.withUnsafeMutableBufferPointer { out in
                let s = src.baseAddress!, l = lut.baseAddress!, d = out.baseAddress!
                parallelFor(channels * outH, minimumPerTask: 16) { job in
                    let c = job / outH, oy = job % outH
                    let map = l + c * 256
                    let line = d + (c * planeH + oy) * planeW
                    if same {
                        let row = s + oy * w * channels + c
                        for ox in 0..<outW { line[ox] = map[Int(row[ox * channels])] }
                        return
                    }
                    let (y0, y1, ly0, ly1) = ty[oy]
                    let r0 = s + y0 * w * channels + c, r1 = s + y1 * w * channels + c
                    for ox in 0..<outW {
                        let (x0, x1, lx0, lx1) = tx[ox]
                        let a = map[Int(r0[x0 * channels])], b = map[Int(r0[x1 * channels])]
                        let e = map[Int(r1[x0 * channels])], f = map[Int(r1[x1 * channels])]
                        line[ox] = ly0 * (lx0 * a + lx1 * b) + ly1 * (lx0 * e + lx1 * f)
                    }
                }
            }
        }
    }
}
