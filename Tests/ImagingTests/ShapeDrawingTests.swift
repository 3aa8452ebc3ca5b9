import Imaging
import XCTest

/// Discs and lines (poses on the annotated image): the pixels they cover, clipping at the edges,
/// and no trap on coordinates far outside the image or not finite.
final class ShapeDrawingTests: XCTestCase {
    let red = RGBColor(red: 255, green: 0, blue: 0)

    func blank(_ w: Int, _ h: Int) -> RGBImage { RGBImage(width: w, height: h, pixels: [UInt8](repeating: 0, count: w * h * 3)) }

    func isRed(_ im: RGBImage, _ x: Int, _ y: Int) -> Bool {
        let i = (y * im.width + x) * 3
        return im.pixels[i] == 255 && im.pixels[i + 1] == 0 && im.pixels[i + 2] == 0
    }

    func testDiscCoversPixelCentresWithinTheRadius() {
        var im = blank(20, 20)
        im.fillDisc(cx: 10, cy: 10, radius: 3, color: red)
        var count = 0
        for y in 0..<20 {
            for x in 0..<20 {
                let dx = Float(x) + 0.5 - 10, dy = Float(y) + 0.5 - 10
                XCTAssertEqual(isRed(im, x, y), dx * dx + dy * dy <= 9, "(\(x), \(y))")
                if isRed(im, x, y) { count += 1 }
            }
        }
        XCTAssertEqual(count, 32)
    }

    func testLineJoinsItsEnds() {
        var im = blank(40, 20)
        im.drawLine(x0: 2.5, y0: 10.5, x1: 37.5, y1: 10.5, color: red, thickness: 1)
        for x in 2...37 { XCTAssertTrue(isRed(im, x, 10), "x \(x)") }
        XCTAssertFalse(isRed(im, 1, 10))
        XCTAssertFalse(isRed(im, 20, 12))
        var diagonal = blank(20, 20)
        diagonal.drawLine(x0: 0.5, y0: 0.5, x1: 19.5, y1: 19.5, color: red, thickness: 1)
        for i in 0..<20 { XCTAssertTrue(isRed(diagonal, i, i), "(\(i), \(i))") }
    }

    func testOutsideAndNonFiniteCoordinatesDrawNothingAndDoNotTrap() {
        var im = blank(16, 16)
        for v: Float in [.nan, .infinity, -.infinity, 1e30, -1e30, 3e9] {
            im.fillDisc(cx: v, cy: 8, radius: 4, color: red)
            im.fillDisc(cx: 8, cy: v, radius: 4, color: red)
            im.fillDisc(cx: 8, cy: 8, radius: v.isNaN || v < 0 ? v : -1, color: red)
            im.drawLine(x0: v, y0: 0, x1: 8, y1: 8, color: red)
            im.drawLine(x0: 0, y0: 0, x1: 8, y1: v, color: red, thickness: 3)
        }
        XCTAssertFalse(im.pixels.contains { $0 != 0 }, "something was drawn")
        // Partly outside: clipped, the inside part drawn.
        im.fillDisc(cx: -1, cy: 8, radius: 3, color: red)
        XCTAssertTrue(isRed(im, 0, 8))
        im.fillDisc(cx: 8, cy: 8, radius: 1e9, color: red)
        XCTAssertTrue((0..<16).allSatisfy { isRed(im, $0, 0) && isRed(im, $0, 15) }, "a huge disc fills the image")
    }
}
