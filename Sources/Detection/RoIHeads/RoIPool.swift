import Foundation
import Tensor

/// RoI max pooling (Fast R-CNN, section 2.1; SPPnet) with torchvision's `roi_pool` semantics: the
/// box is scaled and rounded (half away from zero) to integer cells, its size is at least one cell,
/// each bin covers `floor(i * size / out) ..< ceil((i + 1) * size / out)` cells clamped to the map,
/// and an empty bin pools to 0.
public enum RoIPool {
    public static func callAsFunction(_ feature: Tensor, boxes: [Box], outputH: Int, outputW: Int, spatialScale: Float) -> Tensor {
        let c = feature.shape[1], h = feature.shape[2], w = feature.shape[3]
        var out = Tensor.uninitialized([boxes.count, c, outputH, outputW])
        feature.data.withUnsafeBufferPointer { fb in
            out.data.withUnsafeMutableBufferPointer { ob in
                let f = fb.baseAddress!, o = ob.baseAddress!
                parallelFor(boxes.count) { bi in
                    let b = boxes[bi]
                    let x0 = Int((b.x1 * spatialScale).rounded(.toNearestOrAwayFromZero))
                    let y0 = Int((b.y1 * spatialScale).rounded(.toNearestOrAwayFromZero))
                    let x1 = Int((b.x2 * spatialScale).rounded(.toNearestOrAwayFromZero))
                    let y1 = Int((b.y2 * spatialScale).rounded(.toNearestOrAwayFromZero))
                    let rw = max(x1 - x0 + 1, 1), rh = max(y1 - y0 + 1, 1)
                    let binH = Float(rh) / Float(outputH), binW = Float(rw) / Float(outputW)
                    for ph in 0..<outputH {
                        let hs = min(max(Int(floorf(Float(ph) * binH)) + y0, 0), h)
                        let he = min(max(Int(ceilf(Float(ph + 1) * binH)) + y0, 0), h)
                        for pw in 0..<outputW {
                            let ws = min(max(Int(floorf(Float(pw) * binW)) + x0, 0), w)
                            let we = min(max(Int(ceilf(Float(pw + 1) * binW)) + x0, 0), w)
                            let empty = he <= hs || we <= ws
                            for ch in 0..<c {
                                let plane = f + ch * h * w
                                var m: Float = empty ? 0 : -Float.greatestFiniteMagnitude
                                if !empty {
                                    for yy in hs..<he { for xx in ws..<we where plane[yy * w + xx] > m { m = plane[yy * w + xx] } }
                                }
                                o[((bi * c + ch) * outputH + ph) * outputW + pw] = m
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
