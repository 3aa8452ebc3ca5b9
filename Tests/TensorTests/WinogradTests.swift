import Tensor
import XCTest
import TestSupport

/// Winograd F(4x4, 3x3) against the double-precision naive convolution and against the im2col +
/// GEMM path. Tolerance: the transforms' rounding grows with the reduction length; measured worst
/// cases are 5.1e-6 of the largest output magnitude on the small shapes (against the double-precision
/// sum) and 9.9e-6 on the 256-channel layer (against float32 GEMM), both printed by the checks;
/// 5e-5 relative is asserted, still ~1000x below what a wrong tap or a wrong tile edge does (~1e-1
/// of the scale).
final class WinogradTests: XCTestCase {
    var rng = SplitMix64(seed: 11)

    func random(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    @discardableResult
    func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, relative: Float = 5e-5,
                     file: StaticString = #filePath, line: UInt = #line) -> Float {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return .infinity }
        let scale = max(1, b.data.map(abs).max() ?? 1)
        let err = a.maxAbsDifference(b) / scale
        XCTAssertLessThanOrEqual(err, relative, what, file: file, line: line)
        return err
    }

    func testEligibility() {
        func conv(_ cin: Int, _ cout: Int, k: Int = 3, stride: Int = 1, dilation: Int = 1, groups: Int = 1) -> Conv2d {
            Conv2d(weight: Tensor(shape: [cout, cin / groups, k, k]), bias: nil, stride: stride,
                   padding: 1, dilation: dilation, groups: groups)
        }
        XCTAssertNotNil(conv(16, 16).winograd)
        XCTAssertNotNil(conv(256, 256).winograd)
        XCTAssertNil(conv(16, 16, stride: 2).winograd)
        XCTAssertNil(conv(16, 16, dilation: 2).winograd)
        XCTAssertNil(conv(16, 16, groups: 2).winograd)
        XCTAssertNil(conv(16, 16, groups: 16).winograd, "depthwise")
        XCTAssertNil(conv(16, 16, k: 1).winograd)
        XCTAssertNil(conv(16, 16, k: 5).winograd)
        XCTAssertNil(conv(3, 64).winograd, "too few input channels for the transforms to pay")
        // No transformed filters are made while Winograd is off.
        Conv2d.winogradEnabled = false
        XCTAssertNil(conv(16, 16).winograd)
        Conv2d.winogradEnabled = true
        // Re-fused copies keep the transformed filters.
        let c = conv(16, 16)
        XCTAssertTrue(c.with(activation: .relu).winograd === c.winograd)
    }

    func testMatchesNaiveAcrossShapes() {
        // (n, cin, h, w, cout, padding): sizes that are and are not multiples of the 4x4 tile,
        // maps smaller than one tile, no padding and padding 2, batches of small maps.
        let cases: [(Int, Int, Int, Int, Int, Int)] = [
            (1, 16, 9, 11, 16, 1),
            (1, 32, 8, 8, 24, 1),
            (1, 16, 5, 7, 16, 0),
            (1, 16, 6, 6, 20, 2),
            (1, 16, 1, 1, 16, 1),
            (1, 16, 17, 4, 16, 1),
            (2, 16, 14, 14, 32, 1),
            (3, 24, 7, 7, 16, 1),
        ]
        var worst: Float = 0
        for (i, c) in cases.enumerated() {
            let (n, cin, h, w, cout, p) = c
            let x = random([n, cin, h, w]), wt = random([cout, cin, 3, 3])
            let bias: [Float]? = i % 2 == 0 ? random([cout]).data : nil
            let conv = Conv2d(weight: wt, bias: bias, padding: p)
            XCTAssertNotNil(conv.winograd)
            let ref = Naive.conv2d(x, wt, bias, stride: 1, padding: p, dilation: 1, groups: 1)
            worst = max(worst, assertClose(conv(x), ref, "case \(i): \(c)"))
        }
        print("Winograd F(4x4,3x3) vs naive: worst error \(worst) of the output scale")
    }

    func testFusedActivationsMatchSeparateOps() {
        let x = random([2, 16, 9, 10]), wt = random([16, 16, 3, 3]), b = random([16]).data
        for act in [Activation.relu, .hardswish, .hardsigmoid, .sigmoid] {
            let fused = Conv2d(weight: wt, bias: b, padding: 1, activation: act)(x)
            let separate = act(Conv2d(weight: wt, bias: b, padding: 1)(x))
            XCTAssertEqual(fused, separate, "\(act)")
        }
    }

    func testBandsSpanningImagesStillMatch() {
        // A scratch limit of 5 tiles per band: bands end mid-row and mid-image (3 images of 3x3
        // tiles each), and the last band is short.
        let saved = Conv2d.scratchLimit
        Conv2d.scratchLimit = 36 * 24 * 5
        defer { Conv2d.scratchLimit = saved }
        let x = random([3, 16, 10, 9]), wt = random([24, 16, 3, 3]), b = random([24]).data
        let ref = Naive.conv2d(x, wt, b, stride: 1, padding: 1, dilation: 1, groups: 1)
        assertClose(Conv2d(weight: wt, bias: b, padding: 1)(x), ref, "banded Winograd")
    }

    func testAgreesWithGEMMPathOnAWideLayer() {
        // An FPN-sized layer (256 -> 256 channels on a 25 x 34 map) against im2col + GEMM.
        let x = random([1, 256, 25, 34]), wt = random([256, 256, 3, 3])
        let scaled = Tensor(shape: wt.shape, data: wt.data.map { $0 * 0.05 })
        let conv = Conv2d(weight: scaled, bias: random([256]).data, padding: 1, activation: .relu)
        let fast = conv(x)
        Conv2d.winogradEnabled = false
        defer { Conv2d.winogradEnabled = true }
        let gemm = conv(x)
        let err = assertClose(fast, gemm, "Winograd vs im2col + GEMM")
        print("Winograd vs im2col + GEMM, 256 -> 256 on 25x34: error \(err) of the output scale")
    }
}
