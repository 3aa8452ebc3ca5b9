import TestSupport
import XCTest

import Imaging

/// Drawing golden values, worked out by hand in the comments.
final class DrawingTests: XCTestCase {
    private let ink = RGBColor(red: 10, green: 200, blue: 30)

    /// The set of (x, y) whose colour is `color`.
    private func pixels(of image: RGBImage, equalTo color: RGBColor) -> Set<[Int]> {
        var found = Set<[Int]>()
        for y in 0..<image.height { for x in 0..<image.width where image[x, y] == color { found.insert([x, y]) } }
        return found
    }

    func testStrokeRectangleSetsExactlyTheOutline() {
        var canvas = RGBImage(width: 10, height: 8)
        canvas.strokeRectangle(x0: 2, y0: 1, x1: 8, y1: 6, color: ink, thickness: 1)
        // Half-open [2, 8) x [1, 6): outline columns 2 and 7, rows 1 and 5.
        var expected = Set<[Int]>()
        for y in 1..<6 { for x in 2..<8 where x == 2 || x == 7 || y == 1 || y == 5 { expected.insert([x, y]) } }
        XCTAssertEqual(pixels(of: canvas, equalTo: ink), expected)
        XCTAssertEqual(expected.count, 2 * 6 + 2 * 3)
        XCTAssertEqual(pixels(of: canvas, equalTo: .black).count, 80 - expected.count)

        var thick = RGBImage(width: 10, height: 8)
        thick.strokeRectangle(x0: 2, y0: 1, x1: 8, y1: 6, color: ink, thickness: 2)
        // Only the inside [4, 6) x [3, 4) stays black within the rectangle.
        var inner = Set<[Int]>()
        for y in 1..<6 { for x in 2..<8 where !(4..<6).contains(x) || y != 3 { inner.insert([x, y]) } }
        XCTAssertEqual(pixels(of: thick, equalTo: ink), inner)
    }

    func testRectanglesAreClippedToTheImage() {
        var canvas = RGBImage(width: 6, height: 5)
        canvas.strokeRectangle(x0: -3, y0: -2, x1: 3, y1: 2, color: ink, thickness: 1)
        // Visible part: the right edge at x = 2 (rows 0, 1) and the bottom edge at y = 1 (x 0...2).
        XCTAssertEqual(pixels(of: canvas, equalTo: ink), [[2, 0], [2, 1], [0, 1], [1, 1]])
        var untouched = RGBImage(width: 6, height: 5)
        untouched.strokeRectangle(x0: 10, y0: 10, x1: 20, y1: 20, color: ink)
        untouched.strokeRectangle(x0: 3, y0: 3, x1: 3, y1: 9, color: ink)  // empty
        untouched.fillRectangle(x0: -5, y0: 0, x1: 0, y1: 5, color: ink)  // ends at column 0
        XCTAssertEqual(untouched, RGBImage(width: 6, height: 5))
        var filled = RGBImage(width: 6, height: 5)
        filled.fillRectangle(x0: -100, y0: -100, x1: 100, y1: 100, color: ink)
        XCTAssertEqual(filled, RGBImage(width: 6, height: 5, fill: ink))
    }

    func testStrokeBoxRoundsContinuousCoordinates() {
        var canvas = RGBImage(width: 10, height: 10)
        // [1.4, 2.6, 5.5, 7.49] rounds to [1, 3, 6, 7]: pixels x 1...5, y 3...6.
        canvas.strokeBox(x1: Float(1.4), y1: 2.6, x2: 5.5, y2: 7.49, color: ink, thickness: 1)
        var reference = RGBImage(width: 10, height: 10)
        reference.strokeRectangle(x0: 1, y0: 3, x1: 6, y1: 7, color: ink, thickness: 1)
        XCTAssertEqual(canvas, reference)
        canvas.strokeBox(x1: Double.nan, y1: 0, x2: 5, y2: 5, color: .white)
        canvas.strokeBox(x1: -Double.infinity, y1: 0, x2: 5, y2: 5, color: .white)
        canvas.strokeBox(x1: -1e300, y1: -1e300, x2: 1e300, y2: 1e300, color: ink, thickness: 1)
        XCTAssertEqual(pixels(of: canvas, equalTo: .white), [])
    }

    func testMaskBlendGoldenValues() {
        var canvas = RGBImage(width: 3, height: 2, fill: RGBColor(red: 100, green: 50, blue: 200))
        let mask: [Bool] = [true, false, false,
                            false, false, true]
        canvas.blendMask(mask, color: .red, alpha: 0.5)
        // a = round(0.5 * 255) = 128. R: (100 * 127 + 255 * 128 + 127) / 255 = 45467 / 255 = 178;
        // G: (50 * 127 + 127) / 255 = 25; B: (200 * 127 + 127) / 255 = 100.
        let blended = RGBColor(red: 178, green: 25, blue: 100)
        XCTAssertEqual(canvas[0, 0], blended)
        XCTAssertEqual(canvas[2, 1], blended)
        XCTAssertEqual(canvas[1, 0], RGBColor(red: 100, green: 50, blue: 200))
        XCTAssertEqual(RGBImage.blendWeight(alpha: 0.5), 128)

        var bytes = RGBImage(width: 3, height: 2, fill: RGBColor(red: 100, green: 50, blue: 200))
        bytes.blendMask([255, 127, 0, 0, 3, 128], color: .red, alpha: 0.5, threshold: 128)
        XCTAssertEqual(bytes, canvas)

        var opaque = RGBImage(width: 2, height: 1, fill: .white)
        opaque.blendMask([true, false], color: ink, alpha: 1)
        XCTAssertEqual(opaque[0, 0], ink)
        opaque.blendMask([false, true], color: ink, alpha: 0)
        XCTAssertEqual(opaque[1, 0], .white)
        opaque.blendMask([UInt8](arrayLiteral: 0, 1), color: .black, alpha: 0.25)
        // a = round(63.75) = 64: (255 * 191 + 0 + 127) / 255 = 191.
        XCTAssertEqual(opaque[1, 0], RGBColor(red: 191, green: 191, blue: 191))
    }

    /// A rectangle's mask blends exactly as the same mask spread over the whole image, including
    /// rectangles that hang over the image's edges (their outside part is skipped).
    func testRegionMaskBlendEqualsWholeImageBlend() {
        var g = SplitMix64(seed: 7)
        let base = RGBImage(width: 9, height: 7, pixels: (0..<(9 * 7 * 3)).map { _ in UInt8.random(in: 0...255, using: &g) })
        for (x, y, w, h) in [(0, 0, 9, 7), (2, 3, 4, 2), (-2, -1, 5, 4), (6, 5, 6, 6), (3, 2, 0, 3), (9, 0, 2, 2)] {
            let region = (0..<(w * h)).map { _ in UInt8.random(in: 0...1, using: &g) * UInt8.random(in: 1...255, using: &g) }
            var full = [UInt8](repeating: 0, count: 9 * 7)
            for ry in 0..<h { for rx in 0..<w where (0..<9).contains(x + rx) && (0..<7).contains(y + ry) {
                full[(y + ry) * 9 + x + rx] = region[ry * w + rx]
            }}
            var expected = base, ours = base
            expected.blendMask(full, color: ink, alpha: 0.6)
            ours.blendMask(region, x: x, y: y, regionWidth: w, regionHeight: h, color: ink, alpha: 0.6)
            XCTAssertEqual(ours, expected, "rectangle \(x),\(y) \(w)x\(h)")
            if full.contains(where: { $0 != 0 }) { XCTAssertNotEqual(ours, base, "rectangle \(x),\(y) \(w)x\(h) drew nothing") }
        }
    }

    func testTextMatchesTheFontTable() {
        var canvas = RGBImage(width: 20, height: 12)
        canvas.drawText("Hi", x: 1, y: 2, color: .white)
        for y in 0..<12 {
            for x in 0..<20 {
                let (gx, gy) = (x - 1, y - 2)
                var set = false
                if (0..<7).contains(gy) {
                    if (0..<5).contains(gx) { set = BitmapFont.isSet("H", column: gx, row: gy) }
                    if (6..<11).contains(gx) { set = BitmapFont.isSet("i", column: gx - 6, row: gy) }
                }
                XCTAssertEqual(canvas[x, y], set ? .white : .black, "(\(x), \(y))")
            }
        }
        // "H" is two full columns joined by a bar on the middle row.
        XCTAssertTrue((0..<7).allSatisfy { BitmapFont.isSet("H", column: 0, row: $0) })
        XCTAssertTrue(BitmapFont.isSet("H", column: 2, row: 3))
        XCTAssertFalse(BitmapFont.isSet("H", column: 2, row: 2))
        XCTAssertEqual(BitmapFont.size(of: "AB").width, 11)
        XCTAssertEqual(BitmapFont.size(of: "AB", scale: 3).height, 21)
        for column in 0..<5 { for row in 0..<7 {
            XCTAssertEqual(BitmapFont.isSet("é", column: column, row: row),
                           BitmapFont.isSet("?", column: column, row: row))
        } }
    }

    func testScaledTextAndLabel() {
        var scaled = RGBImage(width: 12, height: 16)
        scaled.drawText("I", x: 0, y: 0, color: .white, scale: 2)
        // "I" column 2 is a full vertical bar: at scale 2, x 4...5 and y 0...13 are all set.
        for y in 0..<14 { XCTAssertEqual(scaled[4, y], .white); XCTAssertEqual(scaled[5, y], .white) }
        XCTAssertEqual(scaled[4, 14], .black)

        var canvas = RGBImage(width: 30, height: 20)
        let rect = canvas.drawLabel("A1", x: 3, y: 4, background: .white, padding: 2)
        // Text 2 * 6 - 1 = 11 wide, 7 tall, plus 2 padding each side: 15 x 11.
        XCTAssertTrue(rect == (3, 4, 18, 15))
        XCTAssertTrue(RGBImage.labelSize("A1") == (15, 11))
        XCTAssertEqual(canvas[3, 4], .white)  // padding is background
        XCTAssertEqual(canvas[17, 14], .white)
        XCTAssertEqual(canvas[18, 15], .black)  // outside
        XCTAssertEqual(canvas[5 + 2, 6], .black)  // top of "A": column 2 row 0 set, text is black on white
    }

    func testDetectionLabelPlacement() {
        var canvas = RGBImage(width: 60, height: 40)
        // Room above: label ends on the box's top edge.
        let above = canvas.drawDetection(x1: 10, y1: 20, x2: 40, y2: 35, label: "dog", color: ink)
        XCTAssertTrue(above.map { $0 == (10, 9, 31, 20) } ?? false, "\(String(describing: above))")
        // No room above, and too close to the right edge: inside the top, shifted left.
        let inside = canvas.drawDetection(x1: 50, y1: 2, x2: 59, y2: 30, label: "cat", color: ink)
        XCTAssertTrue(inside.map { $0 == (39, 2, 60, 13) } ?? false, "\(String(describing: inside))")
        XCTAssertNil(canvas.drawDetection(x1: Float.nan, y1: 0, x2: 1, y2: 1, label: "x", color: ink))
    }

    func testPaletteIsDeterministicAndDistinct() {
        XCTAssertEqual(ColorPalette.color(forClass: 0), RGBColor(red: 128, green: 128, blue: 128))
        let colors = ColorPalette.colors(count: 91)  // COCO's category id range
        XCTAssertEqual(Set(colors).count, 91)
        XCTAssertEqual(colors[17], ColorPalette.color(forClass: 17))
        XCTAssertEqual(ColorPalette.color(forClass: -5), ColorPalette.color(forClass: 5))
        // Golden value: class 1 has hue 0.618 turns (sector 3, fraction 0.708), s 0.9, v 0.95:
        // (p, q, v) = (0.095, 0.345, 0.95) -> (24, 88, 242).
        XCTAssertEqual(ColorPalette.color(forClass: 1), RGBColor(red: 24, green: 88, blue: 242))
        XCTAssertEqual(RGBColor(hex: 0x18_58F2).description, "#1858F2")
        XCTAssertEqual(RGBColor.white.contrastingTextColor, .black)
        XCTAssertEqual(RGBColor(red: 24, green: 88, blue: 242).contrastingTextColor, .white)
    }

    func testOrientationTransformsByHand() {
        // 3 x 2 image whose red channel numbers the pixels: row 0 = 0 1 2, row 1 = 3 4 5.
        let source = RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [UInt8($0), 0, 0] })
        func reds(_ image: RGBImage) -> [UInt8] { stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] } }
        let expected: [EXIFOrientation: (Int, [UInt8])] = [
            .identity: (3, [0, 1, 2, 3, 4, 5]),
            .flipHorizontal: (3, [2, 1, 0, 5, 4, 3]),
            .rotate180: (3, [5, 4, 3, 2, 1, 0]),
            .flipVertical: (3, [3, 4, 5, 0, 1, 2]),
            .transpose: (2, [0, 3, 1, 4, 2, 5]),
            .rotate90Clockwise: (2, [3, 0, 4, 1, 5, 2]),
            .transverse: (2, [5, 2, 4, 1, 3, 0]),
            .rotate90CounterClockwise: (2, [2, 5, 1, 4, 0, 3]),
        ]
        for (orientation, (width, values)) in expected {
            let turned = source.applying(orientation)
            XCTAssertEqual(turned.width, width, "\(orientation)")
            XCTAssertEqual(reds(turned), values, "\(orientation)")
        }
    }
}
