/// Text and labels drawn with `BitmapFont` (5x7 ASCII), for annotated output.
///
/// Positions are the top-left pixel of what is drawn (x right, y down); sizes are in image
/// pixels; `scale` multiplies every font pixel into a `scale x scale` block. Everything is
/// clipped to the image.
extension RGBImage {
    /// Draws `text` on one line with its top-left glyph pixel at (x, y), font pixels in `color`,
    /// leaving the background untouched. Non-ASCII characters draw as "?"; newlines as spaces.
    public mutating func drawText(_ text: String, x: Int, y: Int, color: RGBColor, scale: Int = 1) {
        let scale = max(scale, 1)
        var left = x
        for character in text {
            if left >= width { break }
            if character != " " && !character.isNewline {
                drawGlyph(character, x: left, y: y, color: color, scale: scale)
            }
            left += BitmapFont.advance * scale
        }
    }

    /// Size in pixels of the label box `drawLabel` draws for `text`: the text plus `padding`
    /// pixels on every side.
    public static func labelSize(_ text: String, scale: Int = 1, padding: Int = 2)
        -> (width: Int, height: Int)
    {
        let text = BitmapFont.size(of: text, scale: max(scale, 1))
        let pad = max(padding, 0)
        return (text.width + 2 * pad, max(text.height, 1) + 2 * pad)
    }

    /// Draws `text` on a filled `background` rectangle whose top-left corner is (x, y); the text
    /// sits `padding` pixels inside. Returns the half-open rectangle covered (before clipping).
    @discardableResult
    public mutating func drawLabel(
        _ text: String, x: Int, y: Int, textColor: RGBColor? = nil, background: RGBColor,
        scale: Int = 1, padding: Int = 2
    ) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let size = Self.labelSize(text, scale: scale, padding: padding)
        fillRectangle(x0: x, y0: y, x1: x + size.width, y1: y + size.height, color: background)
        let pad = max(padding, 0)
        drawText(text, x: x + pad, y: y + pad,
                 color: textColor ?? background.contrastingTextColor, scale: scale)
        return (x, y, x + size.width, y + size.height)
    }

    /// Outlines a detection box (continuous coordinates `[x1, y1, x2, y2]`, see `strokeBox`) and
    /// labels it: the label sits on the box's top edge, outside (above) when there is room in
    /// the image and inside otherwise, and is shifted left to stay within the right edge.
    /// Returns the label's rectangle, or nil when the box is not finite.
    @discardableResult
    public mutating func drawDetection<F: BinaryFloatingPoint>(
        x1: F, y1: F, x2: F, y2: F, label: String, color: RGBColor, thickness: Int = 2,
        scale: Int = 1
    ) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
        guard let box = Self.pixelRectangle(x1: x1, y1: y1, x2: x2, y2: y2) else { return nil }
        strokeRectangle(x0: box.x0, y0: box.y0, x1: box.x1, y1: box.y1, color: color,
                        thickness: thickness)
        guard !label.isEmpty else { return (box.x0, box.y0, box.x0, box.y0) }
        let size = Self.labelSize(label, scale: scale)
        let top = box.y0 - size.height >= 0 ? box.y0 - size.height : max(box.y0, 0)
        let left = max(min(box.x0, width - size.width), 0)
        return drawLabel(label, x: left, y: top, background: color, scale: scale)
    }

    private mutating func drawGlyph(
        _ character: Character, x: Int, y: Int, color: RGBColor, scale: Int
    ) {
        let columns = BitmapFont.columns(for: character)
        for (column, bits) in columns.enumerated() where bits != 0 {
            for row in 0..<BitmapFont.glyphHeight where bits >> UInt8(row) & 1 == 1 {
                let px = x + column * scale, py = y + row * scale
                fillRectangle(x0: px, y0: py, x1: px + scale, y1: py + scale, color: color)
            }
        }
    }
}
