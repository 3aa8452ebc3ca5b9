import CKernels
import Tensor
import TestSupport
import XCTest

/// Optimised kernels against the naive references on random shapes (the torch comparisons live in
/// ParityTests). Tolerance: float32 GEMM accumulation vs a double-precision naive sum, relative 1e-5
/// of the largest magnitude plus 1e-5 absolute.
final class ConvolutionTests: XCTestCase {
    var rng = SplitMix64(seed: 7)

    func random(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    func assertClose(_ a: Tensor, _ b: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        let scale = max(1, b.data.map(abs).max() ?? 1)
        XCTAssertLessThanOrEqual(a.maxAbsDifference(b), 1e-5 * scale + 1e-5, what, file: file, line: line)
    }

    func testConv2dMatchesNaiveAcrossShapes() {
        // (n, cin, h, w, cout, k, stride, pad, dilation, groups)
        let cases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
            (1, 3, 9, 11, 4, 3, 1, 1, 1, 1),
            (2, 4, 8, 7, 6, 3, 2, 1, 1, 1),
            (1, 5, 6, 6, 3, 1, 1, 0, 1, 1),
            (1, 6, 9, 8, 4, 1, 2, 0, 1, 1),
            (1, 3, 15, 13, 5, 7, 2, 3, 1, 1),
            (1, 4, 10, 9, 4, 3, 1, 2, 2, 1),
            (1, 8, 7, 9, 12, 3, 1, 1, 1, 4),
            (1, 8, 9, 9, 8, 3, 1, 1, 1, 8),     // depthwise
            (1, 6, 11, 10, 6, 5, 2, 2, 1, 6),   // depthwise 5x5 stride 2
            (1, 4, 5, 5, 4, 3, 1, 0, 1, 2),
            (1, 2, 3, 3, 3, 3, 1, 1, 1, 1),
            // Strided lowering: padding wider than the stride, columns with no valid input.
            (1, 2, 4, 5, 3, 7, 3, 4, 1, 1),
            (1, 3, 6, 17, 2, 3, 3, 2, 2, 1),
            (1, 3, 20, 33, 4, 3, 2, 1, 1, 1),
            // Batches of small maps take the single-GEMM path (as the RoI heads do).
            (5, 6, 7, 7, 8, 3, 1, 1, 1, 1),
            (4, 5, 6, 5, 3, 1, 1, 0, 1, 1),
            (3, 4, 9, 9, 4, 3, 2, 1, 2, 1),
        ]
        for (i, c) in cases.enumerated() {
            let (n, cin, h, w, cout, k, s, p, d, g) = c
            let x = random([n, cin, h, w]), wt = random([cout, cin / g, k, k])
            let bias: [Float]? = i % 2 == 0 ? random([cout]).data : nil
            let conv = Conv2d(weight: wt, bias: bias, stride: s, padding: p, dilation: d, groups: g)
            assertClose(conv(x), Naive.conv2d(x, wt, bias, stride: s, padding: p, dilation: d, groups: g), "case \(i): \(c)")
        }
    }

    func testDepthwiseMatchesNaiveAtEveryEdge() {
        // The depthwise kernel computes each row's valid column span per tap; these cases put the
        // span's ends everywhere: (c, h, w, k, stride, pad, dilation).
        let cases: [(Int, Int, Int, Int, Int, Int, Int)] = [
            (3, 8, 9, 3, 1, 1, 1), (3, 9, 8, 3, 2, 1, 1), (2, 7, 7, 5, 1, 2, 1), (2, 11, 13, 5, 2, 2, 1),
            (2, 3, 3, 5, 1, 2, 1),   // filter larger than the image
            (2, 10, 9, 3, 1, 2, 2),  // dilated
            (2, 10, 11, 3, 3, 1, 1), // stride 3
            (2, 6, 7, 3, 1, 0, 1),   // no padding
            (2, 1, 17, 3, 2, 1, 1),  // one row
            // wide rows: interior blocks of 16 columns and their remainders
            (2, 5, 70, 3, 1, 1, 1), (2, 6, 71, 3, 2, 1, 1), (2, 5, 83, 5, 1, 2, 1), (2, 7, 90, 5, 2, 2, 1),
            (2, 4, 64, 3, 1, 2, 2), (2, 4, 50, 3, 3, 0, 1), (2, 6, 77, 3, 2, 2, 2),
        ]
        for (i, c) in cases.enumerated() {
            let (ch, h, w, k, s, p, d) = c
            let x = random([1, ch, h, w]), wt = random([ch, 1, k, k]), bias = random([ch]).data
            let conv = Conv2d(weight: wt, bias: bias, stride: s, padding: p, dilation: d, groups: ch, activation: .hardswish)
            let ref = Activation.hardswish(Naive.conv2d(x, wt, bias, stride: s, padding: p, dilation: d, groups: ch))
            assertClose(conv(x), ref, "depthwise case \(i): \(c)")
            // Bit for bit the documented order: valid taps in row-major order from zero, then the bias.
            let oh = (h + 2 * p - d * (k - 1) - 1) / s + 1, ow = (w + 2 * p - d * (k - 1) - 1) / s + 1
            var exact = Tensor(shape: [1, ch, oh, ow])
            for cc in 0..<ch { for oy in 0..<oh { for ox in 0..<ow {
                var acc: Float = 0
                for ki in 0..<k { for kj in 0..<k {
                    let iy = oy * s - p + ki * d, ix = ox * s - p + kj * d
                    if iy >= 0 && iy < h && ix >= 0 && ix < w { acc += x[0, cc, iy, ix] * wt[cc, 0, ki, kj] }
                }}
                exact[0, cc, oy, ox] = acc + bias[cc]
            }}}
            XCTAssertEqual(conv(x).data, Activation.hardswish(exact).data, "depthwise case \(i) summation order: \(c)")
        }
    }

    /// Stem-like layers (at most 4 input channels) run as direct convolutions: bit for bit the
    /// documented order (valid taps in (channel, ki, kj) order from zero, then the bias), at every
    /// edge, in the vector blocks of 16 columns and their remainders, channel counts that leave a
    /// partial block of 8, strides 1 and 2 (and 3 down the rows), and within float rounding of the
    /// lowered GEMM path they replace. Each step is one fused multiply-add on CPUs with FMA. On
    /// every variant this CPU runs (portable, AVX2 + FMA, AVX-512).
    func testStemConvolutionsRunDirectAndMatch() {
        defer { _ = rcnn_conv_direct_use(-1) }
        var ran = 0
        for level: Int32 in [0, 1, 2] where rcnn_conv_direct_use(level) == 0 {
            checkDirectConvolutions()
            ran += 1
        }
        XCTAssertGreaterThanOrEqual(ran, 1, "the portable variant runs everywhere")
        XCTAssertEqual(rcnn_conv_direct_use(9), -1)
    }

    func checkDirectConvolutions() {
        defer { Conv2d.directEnabled = true }
        let fused = rcnn_conv_direct_fused() != 0
        // (n, cin, h, w, cout, k, stride (h, w), pad, activation)
        let cases: [(Int, Int, Int, Int, Int, Int, (Int, Int), Int, Activation)] = [
            (1, 3, 40, 70, 64, 7, (2, 2), 3, .relu),      // the ResNet stem
            (1, 3, 21, 90, 12, 7, (2, 2), 3, .identity),  // a whole block of 8 channels and a partial one
            (1, 3, 33, 50, 16, 3, (2, 2), 1, .hardswish), // the MobileNetV3 stem
            (2, 3, 20, 37, 8, 3, (1, 1), 1, .identity),
            (1, 1, 9, 40, 5, 3, (1, 1), 0, .relu),        // one input channel, 5 outputs
            (1, 4, 15, 53, 6, 5, (2, 2), 2, .identity),
            (1, 3, 5, 6, 4, 7, (2, 2), 3, .relu),         // no column has every tap inside
            (1, 2, 8, 40, 7, 3, (2, 2), 0, .identity),
            (1, 3, 20, 48, 4, 3, (3, 2), 1, .relu),
        ]
        for (i, c) in cases.enumerated() {
            let (n, cin, h, w, cout, k, s, p, act) = c
            let x = random([n, cin, h, w]), wt = random([cout, cin, k, k])
            let bias: [Float]? = i % 3 == 2 ? nil : random([cout]).data
            let conv = Conv2d(weight: wt, bias: bias, stride: s, padding: (p, p), dilation: (1, 1), groups: 1, activation: act)
            XCTAssertTrue(conv.directApplies, "case \(i)")
            Conv2d.directEnabled = true
            let y = conv(x)
            let oh = (h + 2 * p - k) / s.0 + 1, ow = (w + 2 * p - k) / s.1 + 1
            var exact = Tensor(shape: [n, cout, oh, ow])
            for b in 0..<n { for o in 0..<cout { for oy in 0..<oh { for ox in 0..<ow {
                var acc: Float = 0
                for ch in 0..<cin { for ki in 0..<k { for kj in 0..<k {
                    let iy = oy * s.0 - p + ki, ix = ox * s.1 - p + kj
                    guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                    acc = fused ? acc.addingProduct(x[b, ch, iy, ix], wt[o, ch, ki, kj]) : acc + x[b, ch, iy, ix] * wt[o, ch, ki, kj]
                }}}
                exact[b, o, oy, ox] = acc + (bias?[o] ?? 0)
            }}}}
            XCTAssertEqual(y.data.map(\.bitPattern), act(exact).data.map(\.bitPattern), "case \(i) summation order (fused \(fused)): \(c)")
            Conv2d.directEnabled = false
            assertClose(y, conv(x), "case \(i) against the lowered path: \(c)")
        }
        // Dilated, strided along rows by 3, or many channels: not direct.
        XCTAssertFalse(Conv2d(weight: random([4, 3, 3, 3]), bias: nil, stride: (1, 1), padding: (2, 2), dilation: (2, 2), groups: 1,
                              activation: .identity).directApplies)
        XCTAssertFalse(Conv2d(weight: random([4, 3, 3, 3]), bias: nil, stride: (1, 3), padding: (1, 1), dilation: (1, 1), groups: 1,
                              activation: .identity).directApplies)
        XCTAssertFalse(Conv2d(weight: random([4, 8, 3, 3]), bias: nil, padding: 1).directApplies)
    }

    func testConvFusedActivationsMatchSeparateOps() {
        for n in [1, 3] { checkFusedActivations(batch: n) }
    }

    func checkFusedActivations(batch: Int) {
        let x = random([batch, 3, 8, 8]), wt = random([5, 3, 3, 3]), b = random([5]).data
        for act in [Activation.relu, .hardswish, .hardsigmoid, .sigmoid] {
            let fused = Conv2d(weight: wt, bias: b, padding: 1, activation: act)(x)
            let separate = act(Conv2d(weight: wt, bias: b, padding: 1)(x))
            XCTAssertEqual(fused, separate, "\(act)")
        }
    }

    func testBatchNormFoldingEqualsConvThenNorm() {
        let x = random([1, 4, 6, 6]), wt = random([3, 4, 3, 3])
        let bn = BatchNorm(gamma: [1.5, -0.5, 2], beta: [0.1, 0.2, -0.3], mean: [0.3, -0.2, 0.05], variance: [0.5, 2, 0.01])
        let conv = Conv2d(weight: wt, bias: [0.2, -0.1, 0.0], padding: 1)
        assertClose(bn.folded(into: conv)(x), bn(conv(x)), "folded batch norm")
    }

    func testLargeConvUsesBandsAndStillMatches() {
        // A scratch limit small enough that im2col is split into several bands of rows (3 rows of
        // 13 columns x 36 rows of the lowered matrix per band), including a short last band.
        let saved = Conv2d.scratchLimit
        Conv2d.scratchLimit = 36 * 13 * 3
        defer { Conv2d.scratchLimit = saved }
        let x = random([1, 4, 11, 13]), wt = random([5, 4, 3, 3])
        let conv = Conv2d(weight: wt, bias: nil, padding: 1)
        let y = conv(x)
        let ref = Naive.conv2d(x, wt, nil, stride: 1, padding: 1, dilation: 1, groups: 1)
        assertClose(y, ref, "banded im2col")
    }

    func testConvTransposeMatchesNaive() {
        for (k, s, p, op) in [(2, 2, 0, 0), (3, 2, 1, 1), (3, 1, 1, 0)] {
            let x = random([2, 4, 5, 6]), wt = random([4, 3, k, k]), b = random([3]).data
            let ct = ConvTranspose2d(weight: wt, bias: b, stride: s, padding: p, outputPadding: op)
            assertClose(ct(x), Naive.convTranspose2d(x, wt, b, stride: s, padding: p, outputPadding: op), "k\(k) s\(s) p\(p)")
        }
    }

    func testConvTransposeBatchesInChunks() {
        // Five images, a scratch limit that fits the lowered columns of two: chunks of 2, 2 and 1.
        let saved = Conv2d.scratchLimit
        Conv2d.scratchLimit = 3 * 2 * 2 * 4 * 5 * 2
        defer { Conv2d.scratchLimit = saved }
        let x = random([5, 4, 4, 5]), wt = random([4, 3, 2, 2]), b = random([3]).data
        let ct = ConvTranspose2d(weight: wt, bias: b, stride: 2, activation: .relu)
        assertClose(ct(x), Activation.relu(Naive.convTranspose2d(x, wt, b, stride: 2, padding: 0, outputPadding: 0)), "chunked")
    }

    func testLinearMatchesNaive() {
        let x = random([7, 30]), wt = random([11, 30]), b = random([11]).data
        assertClose(Linear(weight: wt, bias: b)(x), Naive.linear(x, wt, b), "linear")
        XCTAssertEqual(Linear(weight: wt, bias: b)(Tensor(shape: [0, 30])).shape, [0, 11])
    }

    /// ResNet's 3x3 stride-2 pooling (a C kernel) on every variant this CPU has, on widths around its
    /// eight-output vector block, against the pooling loop's own rule (visit the clipped window row by
    /// row, take v when v > m or v is NaN): equal +0 and -0 keep the first seen, a NaN the last.
    func testStemMaxPoolKeepsTheLoopsBitsOnEveryVariant() {
        var rng = SplitMix64(seed: 5)
        let specials: [Float] = [0, -0, .nan, Float(bitPattern: 0x7FC0_0001), -.infinity, 3]
        for (h, w) in [(9, 10), (20, 37), (33, 64), (7, 18), (5, 17), (6, 16), (1, 40), (40, 1)] {
            let count = 2 * 3 * h * w
            let data = (0..<count).map { i -> Float in
                i % 7 == 3 ? specials[Int(rng.next() % UInt64(specials.count))] : Float(Int(rng.next() % 9) - 4) * 0.5
            }
            let x = Tensor(shape: [2, 3, h, w], data: data)
            let oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1
            var expected = [UInt32]()
            for p in 0..<6 { for oy in 0..<oh { for ox in 0..<ow {
                var m = -Float.infinity
                for y in max(0, 2 * oy - 1)..<min(h, 2 * oy + 2) { for xx in max(0, 2 * ox - 1)..<min(w, 2 * ox + 2) {
                    let v = data[(p * h + y) * w + xx]
                    if v > m || v.isNaN { m = v }
                }}
                expected.append(m.bitPattern)
            }}}
            for vector in [false, true] {
                Pooling.vectorMaxPool = vector
                let y = Pooling.maxPool2d(x, kernel: 3, stride: 2, padding: 1)
                XCTAssertEqual(y.shape, [2, 3, oh, ow])
                XCTAssertEqual(y.data.map(\.bitPattern), expected, "\(h) x \(w), vector \(vector)")
            }
            Pooling.vectorMaxPool = true
        }
    }

    func testMaxPoolMatchesNaive() {
        let x = random([1, 3, 9, 10])
        for (k, s, p) in [(3, 2, 1), (1, 2, 0), (2, 2, 0)] {
            XCTAssertEqual(Pooling.maxPool2d(x, kernel: k, stride: s, padding: p), Naive.maxPool(x, kernel: k, stride: s, padding: p))
        }
    }
}

