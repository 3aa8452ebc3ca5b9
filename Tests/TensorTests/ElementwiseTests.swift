import Tensor
import XCTest
import TestSupport

/// Residual joins, channel scaling and average pooling, which run in parallel chunks and lanes,
/// against plain loops (sizes cross the chunk and lane boundaries).
final class ElementwiseTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = SplitMix64(seed: seed)
        var t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = Float.random(in: -1..<1, using: &g) }
        return t
    }

    func testAddAndAddReLUMatchPlainLoops() {
        let shape = [1, 3, 257, 259]   // 199,713 elements: three full chunks of 64 Ki and a partial one
        let a = random(shape, seed: 1), b = random(shape, seed: 2)
        var sum = a
        sum.add(b)
        var joined = a
        joined.addReLU(b)
        for i in 0..<a.count {
            XCTAssertEqual(sum.data[i], a.data[i] + b.data[i])
            XCTAssertEqual(joined.data[i], max(a.data[i] + b.data[i], 0))
        }
    }

    func testScaleChannelsScalesEachPlane() {
        let x = random([2, 37, 11, 13], seed: 3)
        let scale = (0..<74).map { Float($0) * 0.25 - 3 }
        var y = x
        y.scaleChannels(scale)
        let plane = 11 * 13
        for i in 0..<x.count { XCTAssertEqual(y.data[i], x.data[i] * scale[i / plane]) }
    }

    func testAveragePoolingMatchesADoublePrecisionMean() {
        for (h, w, oh, ow) in [(100, 136, 1, 1), (7, 5, 1, 1), (13, 17, 3, 4), (1, 1, 1, 1), (9, 31, 2, 5)] {
            let x = random([1, 6, h, w], seed: UInt64(h * w))
            let y = Pooling.adaptiveAvgPool2d(x, outH: oh, outW: ow)
            for c in 0..<6 { for oy in 0..<oh { for ox in 0..<ow {
                let y0 = oy * h / oh, y1 = ((oy + 1) * h + oh - 1) / oh
                let x0 = ox * w / ow, x1 = ((ox + 1) * w + ow - 1) / ow
                var s = 0.0
                for iy in y0..<y1 { for ix in x0..<x1 { s += Double(x[0, c, iy, ix]) } }
                let mean = s / Double((y1 - y0) * (x1 - x0))
                XCTAssertEqual(Double(y[0, c, oy, ox]), mean, accuracy: 1e-6, "\(h)x\(w) -> \(oh)x\(ow) channel \(c)")
            }}}
        }
    }
}
