import Tensor
import TestSupport
import XCTest

/// The resampling, pooling, pointwise and normalisation ops against their naive references
/// (`NaiveOps+Pointwise.swift`) on seeded random shapes and values in [-1, 1] (the torch comparisons
/// of the same ops are in ParityTests.OpParityTests). Each tolerance is stated where it is used,
/// with the float32 rounding it allows for; every wrong index, tap, weight or divisor moves the
/// results by 1e-2 or more.
final class NaiveReferenceTests: XCTestCase {
    var rng = SplitMix64(seed: 2026)

    func random(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
    }

    func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }

    func assertClose(_ a: Tensor, _ b: Tensor, _ tolerance: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        guard a.shape == b.shape else { return }
        XCTAssertLessThanOrEqual(a.maxAbsDifference(b), tolerance, what, file: file, line: line)
    }

    /// Sums of at most 25 float32 values of magnitude <= 1, divided by kernel²: the rounding of
    /// the float sum is below 25 · 25 · 2^-24 / 25 ~ 1.5e-6.
    func testAveragePoolingMatchesNaive() {
        for _ in 0..<16 {
            let kernel = int(1...5), stride = int(1...3), padding = int(0...(kernel / 2))
            let h = int(kernel...19), w = int(kernel...19)
            let x = random([int(1...2), int(1...5), h, w])
            assertClose(Pooling.avgPool2d(x, kernel: kernel, stride: stride, padding: padding),
                        Naive.avgPool(x, kernel: kernel, stride: stride, padding: padding), 1e-5,
                        "avg_pool2d \(x.shape) k\(kernel) s\(stride) p\(padding)")
        }
    }

    /// Means of up to 40 x 40 values: the implementation's eight-lane float sum differs from the
    /// double sum by about sqrt(n) · 2^-24 relative; 1e-5 on means of magnitude <= 1 holds with room.
    func testAdaptiveAveragePoolingMatchesNaive() {
        for _ in 0..<16 {
            let h = int(1...40), w = int(1...40)
            let outH = int(1...min(h, 7)), outW = int(1...min(w, 7))
            let x = random([1, int(1...6), h, w])
            assertClose(Pooling.adaptiveAvgPool2d(x, outH: outH, outW: outW), Naive.adaptiveAvgPool(x, outH: outH, outW: outW), 1e-5,
                        "adaptive_avg_pool2d \(x.shape) -> \(outH)x\(outW)")
        }
    }

    /// Nearest neighbour copies values: exact. Includes the equal-size and exact-2x cases the
    /// implementation shortcuts.
    func testNearestInterpolationMatchesNaiveExactly() {
        var sizes: [(Int, Int, Int, Int)] = [(8, 8, 8, 8), (7, 5, 14, 10), (25, 34, 50, 68)]
        for _ in 0..<13 { sizes.append((int(1...30), int(1...30), int(1...64), int(1...64))) }
        for (h, w, outH, outW) in sizes {
            let x = random([1, 3, h, w])
            let got = Interpolation.nearest(x, outH: outH, outW: outW), want = Naive.nearest(x, outH: outH, outW: outW)
            XCTAssertEqual(got.shape, want.shape)
            XCTAssertEqual(got.data, want.data, "nearest \(h)x\(w) -> \(outH)x\(outW)")
        }
    }

    /// The implementation follows PyTorch's float32 scale and weights; the reference computes the
    /// position in double. The scale's rounding moves a source position by at most in · 2^-24
    /// (< 4e-6 for in <= 64) and each weight by 2^-24; with neighbours differing by at most 2 that
    /// is < 2e-5. A wrong tap or weight is off by 0.1 or more.
    func testBilinearInterpolationMatchesNaive() {
        var sizes: [(Int, Int, Int, Int)] = [(8, 8, 8, 8), (1, 1, 5, 3), (7, 5, 14, 10), (50, 34, 25, 17)]
        for _ in 0..<12 { sizes.append((int(1...64), int(1...64), int(1...64), int(1...64))) }
        for (h, w, outH, outW) in sizes {
            let x = random([int(1...2), 3, h, w])
            assertClose(Interpolation.bilinear(x, outH: outH, outW: outW), Naive.bilinear(x, outH: outH, outW: outW), 3e-5,
                        "bilinear \(h)x\(w) -> \(outH)x\(outW)")
        }
    }

    /// Each activation is a handful of float32 operations (expf within 1 ulp): within 1e-6 of the
    /// double definition, relative to max(1, |value|). Covers the kinks (-3, 0, 3), large
    /// magnitudes and NaN (ReLU passes it on, as PyTorch does).
    func testActivationsMatchTheirDefinitions() {
        var values: [Float] = [-100, -6, -3, -2.5, -1e-8, 0, -0.0, 1e-8, 2.5, 3, 6, 100]
        for _ in 0..<500 { values.append(Float.random(in: -8...8, using: &rng)) }
        let x = Tensor(shape: [1, 1, 1, values.count], data: values)
        for activation in [Activation.identity, .relu, .hardswish, .hardsigmoid, .sigmoid] {
            let y = activation(x)
            for (i, v) in values.enumerated() {
                let want = Naive.activation(activation, v)
                XCTAssertEqual(Double(y.data[i]), want, accuracy: 1e-6 * max(1, abs(want)), "\(activation)(\(v))")
            }
        }
        let nan = Activation.relu(Tensor(shape: [1, 1, 1, 1], data: [.nan]))
        XCTAssertTrue(nan.data[0].isNaN, "relu(NaN) is NaN in PyTorch")
    }

    /// Softmax rows of up to 91 classes with logits up to +-20: float32 exp and sum, within 1e-6
    /// relative (plus 1e-9 absolute for the tiny probabilities) of the double definition; every
    /// row sums to 1 within 1e-5.
    func testSoftmaxMatchesNaive() {
        for _ in 0..<8 {
            let rows = int(1...40), cols = int(1...91)
            let scale = Float(int(1...20))
            let x = Tensor(shape: [rows, cols], data: (0..<(rows * cols)).map { _ in Float.random(in: -1...1, using: &rng) * scale })
            let y = Softmax.lastDim(x), want = Naive.softmax(x)
            for i in 0..<y.count {
                XCTAssertEqual(Double(y.data[i]), want[i], accuracy: 1e-6 * want[i] + 1e-9, "softmax [\(rows), \(cols)] at \(i)")
            }
            for r in 0..<rows {
                XCTAssertEqual(y.data[(r * cols)..<((r + 1) * cols)].reduce(0, +), 1, accuracy: 1e-5)
            }
        }
    }

    /// Batch norm runs as x · scale + shift with float32 scale = gamma / sqrt(var + eps) and
    /// shift = beta - mean · scale; with |x|, |mean| <= 1, gamma <= 2 and var >= 0.05 every term
    /// is below 10, so rounding stays below 10 · 4 · 2^-24 ~ 2.4e-6. Tolerance 1e-5.
    func testBatchNormMatchesNaive() {
        for _ in 0..<6 {
            let c = int(1...16)
            let bn = BatchNorm(gamma: (0..<c).map { _ in Float.random(in: 0.25...2, using: &rng) },
                               beta: (0..<c).map { _ in Float.random(in: -1...1, using: &rng) },
                               mean: (0..<c).map { _ in Float.random(in: -1...1, using: &rng) },
                               variance: (0..<c).map { _ in Float.random(in: 0.05...2, using: &rng) })
            let x = random([int(1...2), c, int(1...9), int(1...9)])
            let y = bn(x), want = Naive.batchNorm(x, bn)
            for i in 0..<y.count { XCTAssertEqual(Double(y.data[i]), want[i], accuracy: 1e-5, "batch norm \(x.shape) at \(i)") }
        }
    }
}
