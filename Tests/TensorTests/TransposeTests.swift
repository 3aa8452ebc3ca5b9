import CKernels
import TestSupport
import XCTest

/// `rcnn_transpose` (RoIAlign's channels-last copy, the Winograd filter layout): every element
/// lands bit for bit where the naive loop puts it, for shapes with and without whole 8 x 8 tiles
/// and 32 x 32 blocks, leading dimensions wider than the matrix, and nothing outside it written.
final class TransposeTests: XCTestCase {
    func testTransposeMatchesTheNaiveLoopBitForBit() {
        var rng = SplitMix64(seed: 52)
        for (rows, cols) in [(1, 1), (8, 8), (9, 17), (32, 33), (67, 256), (256, 67), (7, 40), (40, 7)] {
            let srcLd = cols + 3, dstLd = rows + 5
            // Random bit patterns: negative zeros, NaN payloads and subnormals must come through as they are.
            let src = (0..<(rows * srcLd)).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
            let sentinel = Float(bitPattern: 0x7FC0_1234)
            var dst = [Float](repeating: sentinel, count: cols * dstLd)
            src.withUnsafeBufferPointer { s in
                dst.withUnsafeMutableBufferPointer { d in
                    rcnn_transpose(s.baseAddress!, Int32(rows), Int32(cols), srcLd, d.baseAddress!, dstLd)
                }
            }
            var wrong = 0, touched = 0
            for j in 0..<cols {
                for i in 0..<dstLd {
                    let got = dst[j * dstLd + i].bitPattern
                    if i < rows {
                        if got != src[i * srcLd + j].bitPattern { wrong += 1 }
                    } else if got != sentinel.bitPattern {
                        touched += 1
                    }
                }
            }
            XCTAssertEqual(wrong, 0, "\(rows) x \(cols): \(wrong) elements differ")
            XCTAssertEqual(touched, 0, "\(rows) x \(cols): \(touched) elements outside the matrix written")
        }
    }
}
