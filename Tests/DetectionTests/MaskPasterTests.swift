import COCO
import Detection
import Foundation
import Tensor
import TestSupport
import XCTest

/// The row-by-row, box-local paster against the whole-image paster it replaced (resize the padded
/// mask to the whole expanded box with `Interpolation.bilinear`, copy into an image-sized buffer),
/// and everything built on a `BoxMask` (RLE, polygons) against its whole-image counterpart.
final class MaskPasterTests: XCTestCase {
    /// The previous implementation, kept here as the reference: full image, full box tensor.
    func referencePaste(_ mask: [Float], box: Box, imageH: Int, imageW: Int, threshold: Float = 0.5) -> [UInt8] {
        let m = 28, padded = 30
        var pm = Tensor(shape: [1, 1, padded, padded])
        for y in 0..<m { for x in 0..<m { pm.data[(y + 1) * padded + x + 1] = mask[y * m + x] } }
        let scale = Float(Double(padded) / Double(m))
        let wh = (box.x2 - box.x1) * 0.5 * scale, hh = (box.y2 - box.y1) * 0.5 * scale
        let cx = (box.x2 + box.x1) * 0.5, cy = (box.y2 + box.y1) * 0.5
        let bx0 = Int(cx - wh), by0 = Int(cy - hh), bx1 = Int(cx + wh), by1 = Int(cy + hh)
        let w = max(bx1 - bx0 + 1, 1), h = max(by1 - by0 + 1, 1)
        var out = [UInt8](repeating: 0, count: imageH * imageW)
        let x0 = max(bx0, 0), x1 = min(bx1 + 1, imageW), y0 = max(by0, 0), y1 = min(by1 + 1, imageH)
        guard x1 > x0, y1 > y0 else { return out }
        let resized = Interpolation.bilinear(pm, outH: h, outW: w)
        for y in y0..<y1 { for x in x0..<x1 where resized.data[(y - by0) * w + x - bx0] > threshold { out[y * imageW + x] = 1 } }
        return out
    }

    /// Random 28x28 probabilities with structure (a blob around a random centre plus noise), so
    /// masks have interiors, edges and holes rather than salt and pepper only.
    func randomMask(_ g: inout SplitMix64) -> [Float] {
        let cx = Float.random(in: 4...24, using: &g), cy = Float.random(in: 4...24, using: &g)
        let r = Float.random(in: 3...14, using: &g)
        return (0..<(28 * 28)).map { i in
            let dx = Float(i % 28) - cx, dy = Float(i / 28) - cy
            let blob = max(0, 1 - (dx * dx + dy * dy).squareRoot() / r)
            return min(1, max(0, blob + Float.random(in: -0.3...0.3, using: &g)))
        }
    }

    /// Boxes inside, across every edge, covering the whole image, tiny, and entirely outside.
    func randomBox(_ g: inout SplitMix64, imageW: Int, imageH: Int, trial: Int) -> Box {
        let W = Float(imageW), H = Float(imageH)
        switch trial % 6 {
        case 0: return Box(0, 0, W, H)
        case 1: return Box(-Float.random(in: 0...20, using: &g), -Float.random(in: 0...20, using: &g),
                           Float.random(in: 1...W, using: &g), Float.random(in: 1...H, using: &g))
        case 2: return Box(Float.random(in: 0..<W, using: &g), Float.random(in: 0..<H, using: &g),
                           W + Float.random(in: 0...20, using: &g), H + Float.random(in: 0...20, using: &g))
        case 3: let x = Float.random(in: 0..<W, using: &g), y = Float.random(in: 0..<H, using: &g)
            return Box(x, y, x + Float.random(in: 0...2, using: &g), y + Float.random(in: 0...2, using: &g))
        case 4: return Box(W + 5, 3, W + 40, 20)
        default:
            let x1 = Float.random(in: 0..<W, using: &g), y1 = Float.random(in: 0..<H, using: &g)
            return Box(x1, y1, Float.random(in: x1...W, using: &g), Float.random(in: y1...H, using: &g))
        }
    }

    func testBoxLocalPasteEqualsWholeImagePaste() {
        var g = SplitMix64(seed: 28)
        var nonEmpty = 0, clipped = 0
        for trial in 0..<400 {
            let imageW = Int.random(in: 1...160, using: &g), imageH = Int.random(in: 1...160, using: &g)
            let probs = randomMask(&g)
            let box = randomBox(&g, imageW: imageW, imageH: imageH, trial: trial)
            let reference = referencePaste(probs, box: box, imageH: imageH, imageW: imageW)
            let ours = probs.withUnsafeBufferPointer {
                MaskPaster.paste($0.baseAddress!, size: 28, box: box, imageH: imageH, imageW: imageW)
            }
            XCTAssertEqual(ours.fullImageMask(), reference, "trial \(trial): \(imageW)x\(imageH), box \(box.array)")
            XCTAssertEqual(ours.area, reference.reduce(0) { $0 + Int($1) })
            // The rectangle never exceeds the image nor the expanded box (about 30/28 of the box, +2).
            XCTAssertLessThanOrEqual(ours.width * ours.height, imageW * imageH)
            XCTAssertLessThanOrEqual(Float(ours.width), (box.x2 - box.x1) * 30 / 28 + 2)
            XCTAssertEqual(ours.rle(), RLE(rowMajorMask: reference, height: imageH, width: imageW), "trial \(trial)")
            XCTAssertEqual(MaskPolygons.polygons(ours).map { $0.count }, MaskPolygons.polygons(reference, width: imageW, height: imageH).map { $0.count })
            XCTAssertEqual(MaskPolygons.polygons(ours), MaskPolygons.polygons(reference, width: imageW, height: imageH), "trial \(trial)")
            if ours.area > 0 { nonEmpty += 1 }
            if ours.x0 == 0 || ours.y0 == 0 || ours.x0 + ours.width == imageW || ours.y0 + ours.height == imageH { clipped += 1 }
        }
        XCTAssertGreaterThan(nonEmpty, 200, "too few non-empty masks to mean anything")
        XCTAssertGreaterThan(clipped, 150, "too few masks at the image's edges")
    }

    /// The probabilities path (kept for parity tests) agrees with the binary path.
    func testProbabilitiesThresholdToTheBinaryMask() {
        var g = SplitMix64(seed: 5)
        for trial in 0..<60 {
            let imageW = Int.random(in: 1...90, using: &g), imageH = Int.random(in: 1...90, using: &g)
            let probs = randomMask(&g)
            let box = randomBox(&g, imageW: imageW, imageH: imageH, trial: trial)
            probs.withUnsafeBufferPointer { p in
                let full = MaskPaster.pasteProbabilities(p.baseAddress!, size: 28, box: box, imageH: imageH, imageW: imageW)
                let bits = MaskPaster.paste(p.baseAddress!, size: 28, box: box, imageH: imageH, imageW: imageW)
                XCTAssertEqual(full.map { $0 > 0.5 ? UInt8(1) : 0 }, bits.fullImageMask(), "trial \(trial)")
            }
        }
    }

    /// A box outside the image (or non-finite) has an empty mask with an all-zero RLE, no trap.
    func testBoxOutsideTheImageGivesAnEmptyMask() {
        let probs = [Float](repeating: 1, count: 28 * 28)
        for box in [Box(50, 50, 80, 90), Box(-40, -40, -10, -5), Box(.nan, 0, 3, 3), Box(0, 0, .infinity, 4)] {
            let m = probs.withUnsafeBufferPointer { MaskPaster.paste($0.baseAddress!, size: 28, box: box, imageH: 30, imageW: 40) }
            XCTAssertEqual(m.area, 0, "\(box.array)")
            XCTAssertEqual(m.rle(), RLE.zeros(height: 30, width: 40))
            XCTAssertEqual(MaskPolygons.polygons(m), [])
        }
    }
}
