import CKernels
@testable import Tensor
import TestSupport
import XCTest

/// The int8 transposed convolution (kernel == stride, Mask R-CNN's upsampling) against a naive
/// integer reference (exact, on every path) and against the float layer (within the rounding bound).
extension Int8Tests {
    /// (n, in, out, h, w, kernel = stride): channel counts with and without whole 4-byte groups (the
    /// latter lowered into padded rows), more input pixels than one task takes, a 3x3 kernel.
    var transposedGeometries: [(n: Int, c: Int, o: Int, h: Int, w: Int, k: Int)] {
        [(2, 16, 12, 5, 7, 2), (1, 6, 5, 4, 3, 2), (3, 32, 20, 14, 14, 2), (1, 8, 3, 3, 4, 3), (2, 20, 17, 1, 1, 2)]
    }

    func makeTransposed(_ g: (n: Int, c: Int, o: Int, h: Int, w: Int, k: Int), activation: Activation = .identity,
                        bias: Bool = true) -> ConvTranspose2d {
        let fan = Float(g.c)
        let w = Tensor(shape: [g.c, g.o, g.k, g.k],
                       data: (0..<(g.c * g.o * g.k * g.k)).map { _ in Float.random(in: -1...1, using: &rng) / fan.squareRoot() })
        let b: [Float]? = bias ? (0..<g.o).map { _ in Float.random(in: -0.5...0.5, using: &rng) } : nil
        return ConvTranspose2d(weight: w, bias: b, stride: g.k, activation: activation)
    }

    /// Weight levels and scales per output column (tap t, channel o): symmetric over the input
    /// channels, max |w| / 127 (or / 63 with 7-bit weights); levels[(t * o + oc) * c + ci].
    func transposedWeightLevels(_ layer: ConvTranspose2d, bits: Int) -> (levels: [Int32], scale: [Float]) {
        let c = layer.inChannels, o = layer.outChannels, taps = layer.weight.shape[2] * layer.weight.shape[3]
        let top: Float = bits == 7 ? 63 : 127
        var levels = [Int32](), scales = [Float]()
        for j in 0..<(taps * o) {
            let t = j / o, oc = j % o
            let column = (0..<c).map { layer.weight.data[($0 * o + oc) * taps + t] }
            let amax = column.map(abs).max() ?? 0
            let s = amax > 0 ? amax / top : 1
            scales.append(s)
            levels += column.map { Int32(max(-top, min(top, ($0 / s).rounded(.toNearestOrEven)))) }
        }
        return (levels, scales)
    }

    /// Naively: each output pixel (iy * k + a, ix * k + b) of channel o is input pixel (iy, ix)'s
    /// levels times column (tap, o)'s, minus the zero point's share, times both scales, plus the bias.
    func transposedReference(_ layer: ConvTranspose2d, _ q: ActivationQuantization, _ x: Tensor, _ act: Activation,
                             bits: Int) -> Tensor {
        let (levels, wscale) = transposedWeightLevels(layer, bits: bits)
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let o = layer.outChannels, k = layer.stride
        var y = Tensor(shape: [n, o, h * k, w * k])
        let xq = x.data.map { Int32(q.level($0)) }
        let zp = Int32(q.zeroPoint)
        for b in 0..<n { for oc in 0..<o { for a in 0..<k { for bb in 0..<k {
            let j = (a * k + bb) * o + oc
            let column = levels[(j * c)..<((j + 1) * c)]
            let lsum = column.reduce(0, +)
            for iy in 0..<h { for ix in 0..<w {
                var acc: Int32 = 0
                for ci in 0..<c { acc += xq[((b * c + ci) * h + iy) * w + ix] * column[j * c + ci] }
                var v = Float(acc - zp * lsum) * (q.scale * wscale[j]) + (layer.bias?[oc] ?? 0)
                if act == .relu && v < 0 { v = 0 }
                y.data[((b * o + oc) * h * k + iy * k + a) * w * k + ix * k + bb] = v
            }}
        }}}}
        if act != .relu { y = act(y) }
        return y
    }

    /// Bit for bit the naive integer reference, on every path, for every geometry and activation,
    /// with 8-bit and 7-bit weights and a zero point inside the input range.
    func testTransposedConvolutionMatchesIntegerReferenceOnEveryPath() {
        for bits in [8, 7] {
            for (i, g) in transposedGeometries.enumerated() {
                let act: Activation = [.identity, .relu, .hardswish][i % 3]
                let layer = makeTransposed(g, activation: act, bias: i != 1)
                XCTAssertTrue(layer.quantizable)
                let x = Tensor(shape: [g.n, g.c, g.h, g.w], data: (0..<(g.n * g.c * g.h * g.w)).map { _ in
                    Float.random(in: i % 2 == 0 ? -2...3 : 0...4, using: &rng)
                })
                let q = ActivationQuantization(lower: x.data.min()!, upper: x.data.max()!)
                let int8 = layer.quantized(input: q, weightBits: bits)
                XCTAssertNotNil(int8.int8)
                let expected = transposedReference(layer, q, x, act, bits: bits)
                for path in paths {
                    Int8Kernels.path = path
                    let y = int8(x)
                    XCTAssertEqual(y.shape, expected.shape)
                    let wrong = zip(y.data, expected.data).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(wrong, 0, "\(bits)-bit weights, transposed geometry \(i) on \(path): \(wrong) of \(y.count) differ")
                }
            }
        }
    }

    /// Against the float layer: each output's error is at most what rounding its input pixel's
    /// channels and its column's weights allows, and small against the output's spread.
    func testTransposedConvolutionWithinQuantizationErrorOfFloat() {
        for (i, g) in transposedGeometries.enumerated() {
            let layer = makeTransposed(g)
            let x = Tensor(shape: [g.n, g.c, g.h, g.w], data: (0..<(g.n * g.c * g.h * g.w)).map { _ in
                Float.random(in: i % 2 == 0 ? -1...2 : 0...3, using: &rng)
            })
            let q = ActivationQuantization(lower: x.data.min()!, upper: x.data.max()!)
            let y = layer.quantized(input: q)(x), f = layer(x)
            let (_, wscale) = transposedWeightLevels(layer, bits: 8)
            let o = g.o, k = g.k, taps = k * k
            for b in 0..<g.n { for oc in 0..<o { for a in 0..<k { for bb in 0..<k {
                let j = (a * k + bb) * o + oc
                for iy in 0..<g.h { for ix in 0..<g.w {
                    var bound: Float = 0
                    for ci in 0..<g.c {
                        let xv = abs(x.data[((b * g.c + ci) * g.h + iy) * g.w + ix])
                        let wv = abs(layer.weight.data[(ci * o + oc) * taps + a * k + bb])
                        bound += xv * wscale[j] / 2 + (wv + wscale[j] / 2) * q.scale / 2
                    }
                    let idx = ((b * o + oc) * g.h * k + iy * k + a) * g.w * k + ix * k + bb
                    XCTAssertLessThanOrEqual(abs(y.data[idx] - f.data[idx]), bound * 1.001 + 1e-5, "transposed geometry \(i) output \(idx)")
                }}
            }}}}
            XCTAssertLessThan(y.maxAbsDifference(f), 0.05 * f.data.map(abs).max()!, "transposed geometry \(i)")
        }
    }

    /// Only a kernel equal to the stride without padding (no overlapping taps) has an int8 precision.
    func testOnlyNonOverlappingTransposedConvolutionsAreQuantizable() {
        let w2 = Tensor(shape: [4, 3, 2, 2], repeating: 0.1), w4 = Tensor(shape: [4, 3, 4, 4], repeating: 0.1)
        XCTAssertTrue(ConvTranspose2d(weight: w2, bias: nil, stride: 2).quantizable)
        XCTAssertFalse(ConvTranspose2d(weight: w4, bias: nil, stride: 2, padding: 1).quantizable, "keypoint logits: 4x4 stride 2")
        XCTAssertFalse(ConvTranspose2d(weight: w2, bias: nil, stride: 1).quantizable)
        XCTAssertFalse(ConvTranspose2d(weight: w2, bias: nil, stride: 2, outputPadding: 1).quantizable)
    }

    /// Levels out: every geometry (tasks that end inside a row, 3x3 taps, a 1x1 input) and
    /// activation gives, on every path, the levels of quantizing the float output for the next
    /// layer; and `Conv2d.sequence(_:_:levelsFor:)` hands the upsampling the levels of quantizing
    /// the float sequence's output.
    func testTransposedConvolutionLevelsAreTheQuantizedFloatOutput() {
        for (i, g) in transposedGeometries.enumerated() {
            for act in [Activation.identity, .relu, .hardswish] {
                let layer = makeTransposed(g, activation: act)
                let x = Tensor(shape: [g.n, g.c, g.h, g.w], data: (0..<(g.n * g.c * g.h * g.w)).map { _ in
                    Float.random(in: -2...3, using: &rng)
                })
                let int8 = layer.quantized(input: ActivationQuantization(lower: -2, upper: 3)).int8!
                let next = ActivationQuantization(lower: -0.5, upper: 1.5)
                for path in paths {
                    Int8Kernels.path = path
                    let levels = QuantizedActivations(quantizing: x, as: int8.input)
                    let float = int8(levels, activation: act)
                    let got = int8(levels, activation: act, quantizedFor: next)
                    XCTAssertEqual([got.n, got.h, got.w, got.c], [g.n, g.h * g.k, g.w * g.k, g.o])
                    let want = bytes(QuantizedActivations(quantizing: float, as: next))
                    XCTAssertEqual(bytes(got), want, "geometry \(i), \(act) on \(path)")
                    XCTAssertGreaterThan(Set(want).count, 10, "levels spread over the range")
                }
            }
        }
        // A ReLU conv chain into the upsampling, as the mask head runs it.
        var cg = Geometry(n: 3, c: 12, o: 16, h: 6, w: 5, kh: 3, kw: 3)
        cg.padding = (1, 1)
        let conv = makeConv(cg, activation: .relu).quantized(input: ActivationQuantization(lower: -1, upper: 1))
        var g2 = cg
        g2.c = 16
        let conv2 = makeConv(g2, activation: .relu).quantized(input: ActivationQuantization(lower: 0, upper: 0.8))
        let up = makeTransposed((3, 16, 8, 6, 5, 2), activation: .relu)
            .quantized(input: ActivationQuantization(lower: 0, upper: 1.2)).int8!
        let x = input(Geometry(n: 3, c: 12, o: 0, h: 6, w: 5, kh: 1, kw: 1), -1...1)
        for path in paths {
            Int8Kernels.path = path
            let chained = Conv2d.sequence([conv, conv2], x, levelsFor: up.input)
            let unchained = Conv2d.sequence([conv, conv2], x)
            XCTAssertEqual(chained.map(bytes), bytes(QuantizedActivations(quantizing: unchained, as: up.input)), "on \(path)")
        }
        Conv2d.int8ChainsEnabled = false
        XCTAssertNil(Conv2d.sequence([conv], x, levelsFor: up.input), "chains off: the caller runs the float sequence")
        Conv2d.int8ChainsEnabled = true
    }
}
