import XCTest
@testable import Tensor

/// The residual join on pixel rows (`QuantizedConv2d.callAsFunction(_:joining:quantizedFor:keepValues:)`),
/// on every path: with the float input or the downsampling layer as the shortcut it gives the
/// levels and values of the float32 join; with the input's levels as the shortcut (int8 joins),
/// those of the block run layer by layer on the values its levels stand for.
extension Int8Tests {
    struct JoinCase {
        var name: String
        var c: Int, planes: Int, out: Int
        var h: Int, w: Int
        var stride: Int
        var basic: Bool       // two 3x3 layers (ResNet-18/34) instead of the bottleneck's 1x1 -> 3x3 -> 1x1
        var downsample: Bool
    }

    func testJoinOnPixelRowsGivesTheFloatJoinsBits() throws {
        let cases = [
            JoinCase(name: "identity bottleneck", c: 48, planes: 16, out: 48, h: 13, w: 11, stride: 1, basic: false, downsample: false),
            JoinCase(name: "stride-1 downsample read in place", c: 24, planes: 16, out: 40, h: 9, w: 14, stride: 1, basic: false, downsample: true),
            JoinCase(name: "stride-2 downsample lowered", c: 24, planes: 16, out: 40, h: 15, w: 12, stride: 2, basic: false, downsample: true),
            JoinCase(name: "channels not in 4s, lowered 1x1", c: 22, planes: 12, out: 22, h: 7, w: 9, stride: 1, basic: false, downsample: false),
            JoinCase(name: "basic block, 3x3 last layer", c: 20, planes: 20, out: 20, h: 10, w: 8, stride: 1, basic: true, downsample: false),
            JoinCase(name: "basic block, stride 2", c: 16, planes: 36, out: 36, h: 11, w: 11, stride: 2, basic: true, downsample: true),
        ]
        for jc in cases {
            let g1 = Geometry(n: 1, c: 1, o: 1, h: 1, w: 1, kh: 1, kw: 1)
            func conv(_ c: Int, _ o: Int, _ k: Int, stride s: Int, _ activation: Activation) -> Conv2d {
                var g = g1
                (g.c, g.o, g.kh, g.kw, g.stride, g.padding) = (c, o, k, k, (s, s), (k / 2, k / 2))
                return makeConv(g, activation: activation)
            }
            var floats = jc.basic
                ? [conv(jc.c, jc.planes, 3, stride: jc.stride, .relu), conv(jc.planes, jc.out, 3, stride: 1, .identity)]
                : [conv(jc.c, jc.planes, 1, stride: 1, .relu), conv(jc.planes, jc.planes, 3, stride: jc.stride, .relu),
                   conv(jc.planes, jc.out, 1, stride: 1, .identity)]
            let down = jc.downsample ? conv(jc.c, jc.out, 1, stride: jc.stride, .identity) : nil
            let xq = ActivationQuantization(lower: -0.4, upper: 1.6)
            let x = input(Geometry(n: 2, c: jc.c, o: 0, h: jc.h, w: jc.w, kh: 1, kw: 1), -0.4...1.6)
            // Ranges from a float run, as calibration records them; the next layer's from the output.
            var ranges = [xq]
            var t = x
            for (i, layer) in floats.enumerated() {
                t = layer(t)
                if i + 1 < floats.count { ranges.append(ActivationQuantization(lower: min(t.data.min()!, -0.2), upper: t.data.max()!)) }
            }
            t.addReLU(down.map { $0(x) } ?? x)
            let next = ActivationQuantization(lower: 0, upper: t.data.max()! * 0.8)  // some outputs clip at the top
            floats = floats.enumerated().map { i, layer in layer.quantized(input: ranges[i]) }
            let d8 = down?.quantized(input: xq)
            var gn = g1
            (gn.c, gn.o) = (jc.out, 8)
            let reader = makeConv(gn).quantized(input: next).int8!  // the layer the output goes to
            let levels = floats[0].int8!.quantize(x)
            let values = levels.dequantized()
            assertSameLevels(QuantizedActivations(quantizing: values, as: levels.quantization), levels, "the values quantize back to the levels")
            for path in paths {
                Int8Kernels.path = path
                var l = levels
                for i in 0..<(floats.count - 1) {
                    l = floats[i].int8!(l, activation: floats[i].activation, quantizedFor: floats[i + 1].int8!.input)
                }
                let last = floats[floats.count - 1].int8!
                // On pixel rows, with the float input (or the downsampling layer) as the shortcut: the
                // bits of the float32 join (NCHW, tested against the layers run one by one).
                let (y, expectedLevels) = Conv2d.sequenceAddingReLU(floats, x, levels: nil, residual: d8.map { $0(x) } ?? x, next: reader)
                XCTAssertGreaterThan(y.data.filter { $0 == 0 }.count, y.count / 20, "\(jc.name): the ReLU clips")
                XCTAssertGreaterThan(y.data.filter { $0 > next.value(next.maxLevel) }.count, 0,
                                     "\(jc.name): some outputs clip at the top level")
                let exact: Int8Shortcut = d8.map { .downsample($0.int8!, levels) } ?? .values(x.channelsLast())
                for keep in [true, false] {
                    let (joined, kept) = last(l, joining: exact, quantizedFor: next, keepValues: keep)
                    XCTAssertEqual(joined.quantization, next)
                    assertSameLevels(joined, try XCTUnwrap(expectedLevels), "\(jc.name) on \(path), float shortcut")
                    if keep {
                        XCTAssertEqual(kept?.data.map(\.bitPattern), y.channelsLast().data.map(\.bitPattern), "\(jc.name) on \(path): values")
                    } else {
                        XCTAssertNil(kept)
                    }
                }
                guard d8 == nil else { continue }
                // On levels (int8 joins): the float32 join of the layers run one by one on the
                // levels' values, with float32 in between, quantized.
                Conv2d.int8ChainsEnabled = false
                var reference = Conv2d.sequence(floats, values)
                reference.addReLU(values)
                Conv2d.int8ChainsEnabled = true
                let (joined, none) = last(l, joining: .levels(levels), quantizedFor: next, keepValues: false)
                XCTAssertNil(none)
                assertSameLevels(joined, QuantizedActivations(quantizing: reference, as: next), "\(jc.name) on \(path), levels shortcut")
            }
        }
    }

    /// An RPN-style head (shared 3x3 + ReLU, then two 1x1 layers) through
    /// `Conv2d.sequence(_:_:heads:)`: the heads' outputs have the bits of running each on the float
    /// shared output, on every path, with the heads sharing one quantization (levels handed on),
    /// quantized differently or one of them float32 (the float path), and with chains off.
    func testSequenceWithHeadsGivesTheBitsOfEachHeadOnTheSharedOutput() {
        var g = Geometry(n: 1, c: 24, o: 24, h: 13, w: 17, kh: 3, kw: 3)
        g.padding = (1, 1)
        let shared = makeConv(g, activation: .relu)
        let x = input(Geometry(n: 1, c: 24, o: 0, h: 13, w: 17, kh: 1, kw: 1), -1...1.5)
        let y = shared(x)
        let q = ActivationQuantization(lower: 0, upper: y.data.max()! * 0.9)
        var hg = Geometry(n: 1, c: 24, o: 3, h: 1, w: 1, kh: 1, kw: 1)
        let cls = makeConv(hg)
        hg.o = 12
        let box = makeConv(hg)
        let conv8 = shared.quantized(input: ActivationQuantization(lower: -1, upper: 1.5))
        let cases: [(String, [Conv2d])] = [
            ("one quantization", [cls.quantized(input: q), box.quantized(input: q)]),
            ("two quantizations", [cls.quantized(input: q), box.quantized(input: ActivationQuantization(lower: -0.1, upper: 2))]),
            ("a float head", [cls.quantized(input: q), box]),
        ]
        for path in paths {
            Int8Kernels.path = path
            for (name, heads) in cases {
                for chains in [true, false] {
                    Conv2d.int8ChainsEnabled = chains
                    let t = Conv2d.sequence([conv8], x)
                    let expected = heads.map { $0(t).data.map(\.bitPattern) }
                    let got = Conv2d.sequence([conv8], x, heads: heads)
                    XCTAssertEqual(got.map { $0.data.map(\.bitPattern) }, expected, "\(name) on \(path), chains \(chains)")
                    XCTAssertEqual(got.map(\.shape), [[1, 3, 13, 17], [1, 12, 13, 17]])
                }
                Conv2d.int8ChainsEnabled = true
            }
            // No shared layers: the input itself quantized once for both heads.
            let heads = cases[0].1
            XCTAssertEqual(Conv2d.sequence([], y, heads: heads).map { $0.data.map(\.bitPattern) },
                           heads.map { $0(y).data.map(\.bitPattern) })
        }
    }
}
