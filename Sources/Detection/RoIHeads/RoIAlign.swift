import Foundation
import Tensor

/// RoIAlign (He et al., Mask R-CNN, section 3) with torchvision's `roi_align` semantics,
/// `aligned=False` by default: bins of `roi / output` cells, each averaging a grid of bilinear
/// samples (`samplingRatio` per side, or `ceil(roi / output)` when it is <= 0); samples more than one
/// pixel outside the map contribute zero.
public enum RoIAlign {
    /// Pools `boxes` (in image coordinates; multiplied by `spatialScale`) from one `[1, C, H, W]` map
    /// into `[boxes.count, C, outputH, outputW]`.
    public static func callAsFunction(_ feature: Tensor, boxes: [Box], outputH: Int, outputW: Int, spatialScale: Float,
                                      samplingRatio: Int, aligned: Bool = false) -> Tensor {
        var out = Tensor.uninitialized([boxes.count, feature.shape[1], outputH, outputW])
        pool(feature, boxes: boxes, outputH: outputH, outputW: outputW, spatialScale: spatialScale,
             samplingRatio: samplingRatio, aligned: aligned, into: &out, rows: Array(boxes.indices))
        return out
    }

    /// Square output.
    public static func callAsFunction(_ feature: Tensor, boxes: [Box], output: Int, spatialScale: Float,
                                      samplingRatio: Int, aligned: Bool = false) -> Tensor {
        callAsFunction(feature, boxes: boxes, outputH: output, outputW: output, spatialScale: spatialScale,
                       samplingRatio: samplingRatio, aligned: aligned)
    }

    /// Writes each box's pooled result into row `rows[i]` of `out` (shape `[R, C, outputH, outputW]`).
    static func pool(_ feature: Tensor, boxes: [Box], outputH: Int, outputW: Int, spatialScale: Float, samplingRatio: Int,
                     aligned: Bool, into out: inout Tensor, rows: [Int]) {
        let c = feature.shape[1], h = feature.shape[2], w = feature.shape[3]
        let offset: Float = aligned ? 0.5 : 0
        feature.data.withUnsafeBufferPointer { fb in
            out.data.withUnsafeMutableBufferPointer { ob in
                let f = fb.baseAddress!, o = ob.baseAddress!
                parallelFor(boxes.count) { bi in
                    let b = boxes[bi]
                    let x0 = b.x1 * spatialScale - offset, y0 = b.y1 * spatialScale - offset
                    let x1 = b.x2 * spatialScale - offset, y1 = b.y2 * spatialScale - offset
                    var rw = x1 - x0, rh = y1 - y0
                    if !aligned { rw = max(rw, 1); rh = max(rh, 1) }
                    let binH = rh / Float(outputH), binW = rw / Float(outputW)
                    let gh = samplingRatio > 0 ? samplingRatio : Int(ceilf(rh / Float(outputH)))
                    let gw = samplingRatio > 0 ? samplingRatio : Int(ceilf(rw / Float(outputW)))
                    let count = Float(max(gh * gw, 1))
                    // Precompute the four taps and weights of every sample of every bin.
                    var taps: [(Int, Int, Int, Int, Float, Float, Float, Float)] = []
                    taps.reserveCapacity(outputH * outputW * gh * gw)
                    for ph in 0..<outputH { for pw in 0..<outputW {
                        for iy in 0..<gh {
                            let yy = y0 + Float(ph) * binH + (Float(iy) + 0.5) * binH / Float(gh)
                            for ix in 0..<gw {
                                let xx = x0 + Float(pw) * binW + (Float(ix) + 0.5) * binW / Float(gw)
                                taps.append(bilinearTap(y: yy, x: xx, h: h, w: w))
                            }
                        }
                    }}
                    let per = gh * gw
                    let bins = outputH * outputW
                    let dst = o + rows[bi] * c * bins
                    for ch in 0..<c {
                        let plane = f + ch * h * w
                        let outPlane = dst + ch * bins
                        for bin in 0..<bins {
                            var acc: Float = 0
                            for t in taps[(bin * per)..<((bin + 1) * per)] {
                                acc += t.4 * plane[t.0] + t.5 * plane[t.1] + t.6 * plane[t.2] + t.7 * plane[t.3]
                            }
                            outPlane[bin] = acc / count
                        }
                    }
                }
            }
        }
    }

    /// Taps (offsets of the four neighbours) and weights of one bilinear sample, torchvision's rule.
    @inline(__always)
    static func bilinearTap(y yIn: Float, x xIn: Float, h: Int, w: Int) -> (Int, Int, Int, Int, Float, Float, Float, Float) {
        if yIn < -1 || yIn > Float(h) || xIn < -1 || xIn > Float(w) { return (0, 0, 0, 0, 0, 0, 0, 0) }
        var y = max(yIn, 0), x = max(xIn, 0)
        var yl = Int(y), xl = Int(x)
        let yh: Int, xh: Int
        if yl >= h - 1 { yl = h - 1; yh = h - 1; y = Float(yl) } else { yh = yl + 1 }
        if xl >= w - 1 { xl = w - 1; xh = w - 1; x = Float(xl) } else { xh = xl + 1 }
        let ly = y - Float(yl), lx = x - Float(xl)
        let hy = 1 - ly, hx = 1 - lx
        return (yl * w + xl, yl * w + xh, yh * w + xl, yh * w + xh, hy * hx, hy * lx, ly * hx, ly * lx)
    }
}
