import CKernels
import Tensor
import TestSupport
import XCTest

/// The depthwise int8 convolution (MobileNetV3's one filter per channel) against a naive integer
/// reference (exact, on every path), against the float convolution (within the bound of the two
/// rounding steps), and inside chains (the bits of running the layers one by one).
extension Int8Tests {
    /// Depthwise geometries (`c` = `o` = groups): channel counts below, at and across the kernel's
    /// 64-channel register block, strides 1 and 2, 5x5, dilation, a rectangular kernel, padding on
    /// every side, and more output pixels than one task takes.
    var depthwiseGeometries: [Geometry] {
        [
            Geometry(n: 1, c: 16, o: 16, h: 9, w: 11, kh: 3, kw: 3, padding: (1, 1)),
            Geometry(n: 2, c: 72, o: 72, h: 10, w: 9, kh: 3, kw: 3, stride: (2, 2), padding: (1, 1)),
            Geometry(n: 1, c: 130, o: 130, h: 7, w: 6, kh: 5, kw: 5, padding: (2, 2)),
            Geometry(n: 1, c: 64, o: 64, h: 13, w: 12, kh: 5, kw: 5, stride: (2, 2), padding: (2, 2)),
            Geometry(n: 1, c: 24, o: 24, h: 12, w: 12, kh: 3, kw: 3, padding: (2, 2), dilation: (2, 2)),
            Geometry(n: 1, c: 8, o: 8, h: 6, w: 9, kh: 1, kw: 3, stride: (1, 2), padding: (0, 1)),
            Geometry(n: 1, c: 40, o: 40, h: 30, w: 27, kh: 3, kw: 3, padding: (1, 1)),             // many tasks
        ]
    }

    func makeDepthwise(_ g: Geometry, activation: Activation = .identity, bias: Bool = true) -> Conv2d {
        let fan = Float(g.kh * g.kw)
        let w = Tensor(shape: [g.c, 1, g.kh, g.kw],
                       data: (0..<(g.c * g.kh * g.kw)).map { _ in Float.random(in: -1...1, using: &rng) / fan.squareRoot() })
        let b: [Float]? = bias ? (0..<g.c).map { _ in Float.random(in: -0.5...0.5, using: &rng) } : nil
        return Conv2d(weight: w, bias: b, stride: g.stride, padding: g.padding, dilation: g.dilation, groups: g.c,
                      activation: activation)
    }

    /// The depthwise int8 convolution computed naively: each channel's levels times its own weight
    /// levels over the taps, padding at the zero point, then (sum - zp * sum of levels) * (input scale
    /// * weight scale) + bias.
    func depthwiseReference(_ conv: Conv2d, _ q: ActivationQuantization, _ x: Tensor, _ act: Activation,
                            bits: Int = 8) -> Tensor {
        let (levels, wscale) = weightLevels(conv, bits: bits)
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let (kh, kw) = conv.kernel
        let (oh, ow) = conv.outputSize(h: h, w: w)
        var y = Tensor(shape: [n, c, oh, ow])
        let xq = x.data.map { Int32(q.level($0)) }
        let zp = Int32(q.zeroPoint)
        for b in 0..<n {
            for ch in 0..<c {
                let taps = levels[(ch * kh * kw)..<((ch + 1) * kh * kw)]
                let lsum = taps.reduce(0, +)
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc: Int32 = 0
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                let iy = oy * conv.stride.h - conv.padding.h + ki * conv.dilation.h
                                let ix = ox * conv.stride.w - conv.padding.w + kj * conv.dilation.w
                                let v = (iy < 0 || iy >= h || ix < 0 || ix >= w) ? zp : xq[((b * c + ch) * h + iy) * w + ix]
                                acc += v * levels[(ch * kh + ki) * kw + kj]
                            }
                        }
                        var v = Float(acc - zp * lsum) * (q.scale * wscale[ch]) + (conv.bias?[ch] ?? 0)
                        if act == .relu && v < 0 { v = 0 }
                        y.data[((b * c + ch) * oh + oy) * ow + ox] = v
                    }
                }
            }
        }
        if act != .relu { y = act(y) }
        return y
    }

    /// Bit for bit the naive integer reference, on every path, for every geometry and activation,
    /// with 8-bit and 7-bit weights and inputs whose zero point is inside the range (so padding is
    /// not level 0).
    func testDepthwiseMatchesIntegerReferenceOnEveryPath() {
        for bits in [8, 7] {
            for (i, g) in depthwiseGeometries.enumerated() {
                let act: Activation = [.identity, .relu, .hardswish][i % 3]
                let conv = makeDepthwise(g, activation: act, bias: i != 3)
                XCTAssertTrue(conv.quantizable)
                let x = input(g, i % 2 == 0 ? -2...3 : 0...4)
                let q = ActivationQuantization(lower: x.data.min()!, upper: x.data.max()!)
                let int8 = conv.quantized(input: q, weightBits: bits)
                XCTAssertEqual(int8.int8?.isDepthwise, true)
                XCTAssertEqual(int8.int8?.inChannels, g.c)
                assertEqualOnEveryPath(int8, x, depthwiseReference(conv, q, x, act, bits: bits),
                                       "\(bits)-bit weights, depthwise geometry \(i)")
            }
        }
    }

    /// Against the float depthwise convolution: each output's error is at most what rounding the
    /// input and the weights allows, sum over its in-image taps of |x| * weight step / 2 + (|w| +
    /// weight step / 2) * input step / 2 (padding is an exact 0), and small against the output's
    /// spread.
    func testDepthwiseWithinQuantizationErrorOfFloat() {
        for bits in [8, 7] {
            for (i, g) in depthwiseGeometries.enumerated() {
                let conv = makeDepthwise(g)
                let x = input(g, i % 2 == 0 ? -1...2 : 0...3)
                let q = ActivationQuantization(lower: x.data.min()!, upper: x.data.max()!)
                let y = conv.quantized(input: q, weightBits: bits)(x)
                let f = conv(x)
                let (_, wscale) = weightLevels(conv, bits: bits)
                let (kh, kw) = conv.kernel
                let (oh, ow) = conv.outputSize(h: g.h, w: g.w)
                var worstShare: Float = 0
                for b in 0..<g.n {
                    for ch in 0..<g.c {
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                var bound: Float = 0
                                for ki in 0..<kh {
                                    for kj in 0..<kw {
                                        let iy = oy * g.stride.h - g.padding.h + ki * g.dilation.h
                                        let ix = ox * g.stride.w - g.padding.w + kj * g.dilation.w
                                        guard iy >= 0, iy < g.h, ix >= 0, ix < g.w else { continue }
                                        let xv = abs(x.data[((b * g.c + ch) * g.h + iy) * g.w + ix])
                                        let wv = abs(conv.weight.data[(ch * kh + ki) * kw + kj])
                                        bound += xv * wscale[ch] / 2 + (wv + wscale[ch] / 2) * q.scale / 2
                                    }
                                }
                                let j = ((b * g.c + ch) * oh + oy) * ow + ox
                                let err = abs(y.data[j] - f.data[j])
                                worstShare = max(worstShare, err / max(bound, 1e-12))
                                XCTAssertLessThanOrEqual(err, bound * 1.001 + 1e-5, "\(bits)-bit weights, depthwise geometry \(i) output \(j)")
                            }
                        }
                    }
                }
                let spread = f.data.map(abs).max()!
                XCTAssertLessThan(y.maxAbsDifference(f), 0.05 * spread, "\(bits)-bit weights, depthwise geometry \(i)")
                print("int8 depthwise (\(bits)-bit weights) geometry \(i): worst error \(worstShare) of its bound")
            }
        }
    }

    /// An inverted residual block's convolutions (expand 1x1, depthwise, project 1x1) as one
    /// `Conv2d.sequence`: with ReLU the expand layer hands its levels to the depthwise one and that
    /// one to the projection, and the result has the bits of the layers run one by one; with
    /// hardswish (no requantizing store) the chain breaks around the depthwise layer, same bits.
    func testDepthwiseChainsGiveTheUnchainedBits() {
        for (stride, act) in [(1, Activation.relu), (2, .relu), (2, .hardswish)] {
            let c = 24, e = 72, o = 40
            let expand = makeConv(Geometry(n: 1, c: c, o: e, h: 1, w: 1, kh: 1, kw: 1), activation: act)
            let dw = makeDepthwise(Geometry(n: 1, c: e, o: e, h: 1, w: 1, kh: 3, kw: 3, stride: (stride, stride),
                                            padding: (1, 1)), activation: act)
            let project = makeConv(Geometry(n: 1, c: e, o: o, h: 1, w: 1, kh: 1, kw: 1))
            let x = input(Geometry(n: 2, c: c, o: 0, h: 19, w: 14, kh: 1, kw: 1), -1...2)
            var ranges: [ActivationQuantization] = []
            var t = x
            for conv in [expand, dw, project] {
                ranges.append(ActivationQuantization(lower: min(t.data.min()!, -0.3), upper: t.data.max()!))
                t = conv(t)
            }
            let int8 = zip([expand, dw, project], ranges).map { $0.quantized(input: $1) }
            for path in paths {
                Int8Kernels.path = path
                Conv2d.int8ChainsEnabled = false
                let oneByOne = Conv2d.sequence(int8, x)
                Conv2d.int8ChainsEnabled = true
                let chained = Conv2d.sequence(int8, x)
                XCTAssertEqual(chained.shape, [2, o, (19 - 1) / stride + 1, (14 - 1) / stride + 1])
                XCTAssertEqual(chained.data.map(\.bitPattern), oneByOne.data.map(\.bitPattern),
                               "stride \(stride), \(act) on \(path)")
                // The chain computed something close to the float block (int8 ran, not a copy).
                let spread = t.data.map(abs).max()!
                XCTAssertLessThan(chained.maxAbsDifference(t), 0.1 * spread)
                XCTAssertGreaterThan(chained.maxAbsDifference(t), 0)
            }
        }
    }

    /// Requantizing through hardswish (`rcnn_i8_requantize_rows`) gives the levels of storing,
    /// applying the float32 hardswish and quantizing again, on every path: a 1x1 layer close to the
    /// identity spreads its outputs over -8...8, so every region of hardswish (0 below -3, the
    /// quadratic part, x above 3) and the clamps of the next layer's range are crossed.
    func testHardswishRequantizingGivesTheUnchainedLevels() {
        let c = 40
        var weight = [Float](repeating: 0, count: c * c)
        for o in 0..<c {
            for i in 0..<c { weight[o * c + i] = o == i ? 1 : Float.random(in: -0.02...0.02, using: &rng) }
        }
        let conv = Conv2d(weight: Tensor(shape: [c, c, 1, 1], data: weight), bias: (0..<c).map { _ in Float.random(in: -0.3...0.3, using: &rng) },
                          stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1, activation: .hardswish)
        let x = input(Geometry(n: 1, c: c, o: c, h: 17, w: 13, kh: 1, kw: 1), -8...8)
        let int8 = conv.quantized(input: ActivationQuantization(lower: -8, upper: 8)).int8!
        // The next layer's range cuts the top off (hardswish reaches 8), so its clamp is crossed too.
        let next = ActivationQuantization(lower: -0.375, upper: 6)
        let float = conv(x)
        XCTAssertLessThan(float.data.min()!, -0.3)
        XCTAssertGreaterThan(float.data.max()!, 6.5)
        for path in paths {
            Int8Kernels.path = path
            let expected = QuantizedConv2d(conv.with(activation: .identity), input: next).quantize(int8(x, activation: .hardswish))
            let levels = int8(int8.quantize(x), activation: .hardswish, quantizedFor: next)
            let e = assertSameLevels(levels, expected, "hardswish levels on \(path)")
            XCTAssertGreaterThan(Set(e).count, 100, "levels spread over the range")
            XCTAssertTrue(e.contains(127), "the next layer's clamp")
        }
    }

    /// Only dense and depthwise convolutions have an int8 precision: other groupings (two groups, a
    /// depthwise layer with a channel multiplier) stay float32.
    func testOnlyDenseAndDepthwiseConvolutionsAreQuantizable() {
        let grouped = Conv2d(weight: Tensor(shape: [4, 2, 3, 3], repeating: 0.1), bias: nil, stride: (1, 1),
                             padding: (1, 1), dilation: (1, 1), groups: 2, activation: .identity)
        XCTAssertFalse(grouped.quantizable)
        let multiplier = Conv2d(weight: Tensor(shape: [8, 1, 3, 3], repeating: 0.1), bias: nil, stride: (1, 1),
                                padding: (1, 1), dilation: (1, 1), groups: 4, activation: .identity)
        XCTAssertEqual(multiplier.inChannels, 4)
        XCTAssertFalse(multiplier.quantizable)
        XCTAssertTrue(makeDepthwise(depthwiseGeometries[0]).quantizable)
        XCTAssertTrue(makeConv(geometries[0]).quantizable)
    }
}
