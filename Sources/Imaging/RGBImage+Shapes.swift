/// Lines and discs for drawing poses (keypoints and the skeleton joining them). Coordinates are
/// pixel positions as floats; anything outside the image, or not finite, is clipped or skipped,
/// never a trap.
extension RGBImage {
    /// Colours the pixels within `radius` of `(cx, cy)`.
    public mutating func fillDisc(cx: Float, cy: Float, radius: Float, color: RGBColor) {
        guard cx.isFinite, cy.isFinite, radius.isFinite, radius > 0 else { return }
        let r = min(radius, Float(max(width, height)))
        // Outside the image (which also bounds every value converted to Int below).
        guard cx + r >= 0, cy + r >= 0, cx - r <= Float(width), cy - r <= Float(height) else { return }
        let x0 = max(0, Int((cx - r).rounded(.down))), x1 = min(width - 1, Int((cx + r).rounded(.up)))
        let y0 = max(0, Int((cy - r).rounded(.down))), y1 = min(height - 1, Int((cy + r).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let dx = Float(x) + 0.5 - cx, dy = Float(y) + 0.5 - cy
                if dx * dx + dy * dy <= r * r { setPixel(x, y, color) }
            }
        }
    }

    /// A straight line from `(x0, y0)` to `(x1, y1)`, `thickness` pixels wide (discs stepped
    /// along it at most half a pixel apart).
    public mutating func drawLine(x0: Float, y0: Float, x1: Float, y1: Float, color: RGBColor, thickness: Float = 2) {
        guard x0.isFinite, y0.isFinite, x1.isFinite, y1.isFinite else { return }
        // Clip to a margin around the image so that a far-away end cannot make the loop long.
        let limit = Float(max(width, height)) * 2 + 16
        guard abs(x0) <= limit, abs(y0) <= limit, abs(x1) <= limit, abs(y1) <= limit else { return }
        let length = ((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)).squareRoot()
        let steps = max(1, Int((length * 2).rounded(.up)))
        for i in 0...steps {
            let t = Float(i) / Float(steps)
            fillDisc(cx: x0 + (x1 - x0) * t, cy: y0 + (y1 - y0) * t, radius: max(0.5, thickness / 2), color: color)
        }
    }

    private mutating func setPixel(_ x: Int, _ y: Int, _ c: RGBColor) {
        let i = (y * width + x) * 3
        pixels[i] = c.red
        pixels[i + 1] = c.green
        pixels[i + 2] = c.blue
    }
}
