import Foundation

/// Decodes box regression deltas `(dx, dy, dw, dh)` against reference boxes (Girshick et al., R-CNN
/// appendix C), exactly as torchvision's `BoxCoder.decode_single`: deltas divided by `weights`,
/// `dw`/`dh` clamped at `log(1000 / 16)`, float32 arithmetic in torchvision's order.
public struct BoxCoder: Sendable {
    public let weights: (Float, Float, Float, Float)
    public let clip: Float

    /// RPN: weights (1, 1, 1, 1); box head: (10, 10, 5, 5).
    public init(weights: (Float, Float, Float, Float), clip: Float = Float(log(1000.0 / 16))) {
        self.weights = weights
        self.clip = clip
    }

    @inlinable
    public func decode(_ d: UnsafePointer<Float>, reference r: Box) -> Box {
        let width = r.x2 - r.x1, height = r.y2 - r.y1
        let cx = r.x1 + 0.5 * width, cy = r.y1 + 0.5 * height
        let dx = d[0] / weights.0, dy = d[1] / weights.1
        let dw = min(d[2] / weights.2, clip), dh = min(d[3] / weights.3, clip)
        let px = dx * width + cx, py = dy * height + cy
        let pw = expf(dw) * width, ph = expf(dh) * height
        let hw = 0.5 * pw, hh = 0.5 * ph
        return Box(px - hw, py - hh, px + hw, py + hh)
    }

    public func decode(_ deltas: [Float], reference: Box) -> Box {
        precondition(deltas.count == 4)
        return deltas.withUnsafeBufferPointer { decode($0.baseAddress!, reference: reference) }
    }
}
