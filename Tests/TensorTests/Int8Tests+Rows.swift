import XCTest
@testable import Tensor

/// The pass that keeps an int8 layer's float output as pixel rows and quantizes it for the next
/// layer (`callAsFunction(_:activation:rowsQuantizedFor:)`, what an int8 FPN's output layers
/// run), and the RPN-style head that starts from those levels (`Conv2d.sequence(_:levels:heads:)`).
extension Int8Tests {
    /// Every level, in storage order.
    func bytes(_ l: QuantizedActivations) -> [UInt8] {
        l.withLevels { Array(UnsafeBufferPointer(start: $0, count: l.n * l.h * l.w * l.c)) }
    }

    /// Rows and levels against the NCHW output and its quantization, on every path, for each
    /// requantizable activation and a channel count with a remainder after the 16-wide loop.
    func testRowsAndLevelsGiveTheNCHWOutputsBitsAndItsQuantization() {
        var g = Geometry(n: 1, c: 20, o: 37, h: 9, w: 13, kh: 3, kw: 3)
        g.padding = (1, 1)
        let x = input(g, -1...2)
        for activation in [Activation.identity, .relu, .hardswish] {
            let conv8 = makeConv(g, activation: activation).quantized(input: ActivationQuantization(lower: -1, upper: 2)).int8!
            let next = ActivationQuantization(lower: -0.7, upper: 1.9)
            for path in paths {
                Int8Kernels.path = path
                let levels = conv8.quantize(x)
                let nchw = conv8(levels, activation: activation)
                let (rows, out) = conv8(levels, activation: activation, rowsQuantizedFor: next)
                XCTAssertEqual(rows.shape, [1, 9, 13, 37])
                XCTAssertEqual(rows.data.map(\.bitPattern), nchw.channelsLast().data.map(\.bitPattern), "\(activation) on \(path): rows")
                XCTAssertEqual(rows.channelsFirst().data.map(\.bitPattern), nchw.data.map(\.bitPattern), "\(activation) on \(path): back to NCHW")
                XCTAssertEqual([out.n, out.h, out.w, out.c], [1, 9, 13, 37])
                XCTAssertEqual(out.quantization, next)
                XCTAssertEqual(bytes(out), bytes(QuantizedActivations(quantizing: nchw, as: next)), "\(activation) on \(path): levels")
                XCTAssertGreaterThan(Set(bytes(out)).count, 40, "levels spread over the range")
            }
        }
    }

    /// An RPN-style head on levels quantized ahead (as an int8 FPN stores them) gives the bits of
    /// the same head on the float map; `levelsInput` names the quantization only where the head
    /// runs on levels.
    func testSequenceOnStoredLevelsGivesTheBitsOfTheFloatInput() {
        var g = Geometry(n: 1, c: 24, o: 24, h: 11, w: 15, kh: 3, kw: 3)
        g.padding = (1, 1)
        let x = input(Geometry(n: 1, c: 24, o: 0, h: 11, w: 15, kh: 1, kw: 1), -1...1.5)
        let conv8 = makeConv(g, activation: .relu).quantized(input: ActivationQuantization(lower: -1, upper: 1.5))
        let q = ActivationQuantization(lower: 0, upper: 1.2)
        var hg = Geometry(n: 1, c: 24, o: 3, h: 1, w: 1, kh: 1, kw: 1)
        let cls = makeConv(hg).quantized(input: q)
        hg.o = 12
        let box = makeConv(hg)
        let heads = [cls, box.quantized(input: q)]
        for path in paths {
            Int8Kernels.path = path
            XCTAssertEqual(Conv2d.levelsInput([conv8], heads: heads), conv8.int8!.input)
            let expected = Conv2d.sequence([conv8], x, heads: heads).map { $0.data.map(\.bitPattern) }
            let got = Conv2d.sequence([conv8], levels: conv8.int8!.quantize(x), heads: heads)
            XCTAssertEqual(got.map { $0.data.map(\.bitPattern) }, expected, "on \(path)")
            XCTAssertEqual(got.map(\.shape), [[1, 3, 11, 15], [1, 12, 11, 15]])
            // Without shared layers the heads read the stored levels themselves.
            XCTAssertEqual(Conv2d.levelsInput([], heads: heads), q)
            XCTAssertEqual(Conv2d.sequence([], levels: QuantizedActivations(quantizing: x, as: q), heads: heads).map { $0.data.map(\.bitPattern) },
                           heads.map { $0(x).data.map(\.bitPattern) }, "no shared layers on \(path)")
        }
        XCTAssertNil(Conv2d.levelsInput([conv8], heads: [cls, box]), "a float head")
        XCTAssertNil(Conv2d.levelsInput([conv8], heads: [cls, box.quantized(input: ActivationQuantization(lower: 0, upper: 2))]),
                     "two quantizations")
        XCTAssertNil(Conv2d.levelsInput([makeConv(g, activation: .relu)], heads: heads), "a float first layer")
        Conv2d.int8ChainsEnabled = false
        XCTAssertNil(Conv2d.levelsInput([conv8], heads: heads), "chains off")
        Conv2d.int8ChainsEnabled = true
    }

    /// The FPN's top-down merge on rows against the NCHW ops (nearest upsampling, add, quantize),
    /// on every path: 2x, non-integer and equal size ratios, two images, and channel counts with a
    /// remainder after the 16-wide loop; and the lateral layer's rows against its NCHW output.
    func testTopDownMergeOnRowsGivesTheNCHWSumsAndTheirLevels() {
        let q = ActivationQuantization(lower: -1.5, upper: 2.5)
        for (n, c, h, w, th, tw) in [(1, 37, 12, 10, 6, 5), (2, 16, 13, 11, 5, 7), (1, 5, 4, 4, 4, 4)] {
            let lateral = input(Geometry(n: n, c: c, o: 0, h: h, w: w, kh: 1, kw: 1), -1...1)
            let top = input(Geometry(n: n, c: c, o: 0, h: th, w: tw, kh: 1, kw: 1), -1...1)
            var sum = lateral
            sum.add(Interpolation.nearest(top, outH: h, outW: w))
            for path in paths {
                Int8Kernels.path = path
                var rows = lateral.channelsLast()
                let levels = QuantizedActivations.mergingTopDown(&rows, top.channelsLast(), as: q)
                XCTAssertEqual(rows.data.map(\.bitPattern), sum.channelsLast().data.map(\.bitPattern), "\(h)x\(w) from \(th)x\(tw) on \(path)")
                XCTAssertEqual(bytes(levels), bytes(QuantizedActivations(quantizing: sum, as: q)), "\(h)x\(w) levels on \(path)")
            }
        }
        var g = Geometry(n: 2, c: 20, o: 37, h: 7, w: 9, kh: 1, kw: 1)
        g.stride = (1, 1)
        for activation in [Activation.identity, .relu] {
            let conv8 = makeConv(g, activation: activation).quantized(input: ActivationQuantization(lower: -1, upper: 2)).int8!
            let x = conv8.quantize(input(g, -1...2))
            for path in paths {
                Int8Kernels.path = path
                XCTAssertEqual(conv8.rows(x, activation: activation).data.map(\.bitPattern),
                               conv8(x, activation: activation).channelsLast().data.map(\.bitPattern), "\(activation) on \(path)")
            }
        }
    }

    /// An int8 fully connected layer (the box head's) gives the same bits on every path (its
    /// row store is vectorized on AVX2) and stays within a few percent of the float32 layer.
    func testLinearGivesOneResultOnEveryPathNearTheFloatLayer() {
        let (o, k, m) = (37, 50, 23)
        let weight = Tensor(shape: [o, k], data: (0..<(o * k)).map { _ in Float.random(in: -1...1, using: &rng) / Float(k).squareRoot() })
        let bias = (0..<o).map { _ in Float.random(in: -0.3...0.3, using: &rng) }
        let x = Tensor(shape: [m, k], data: (0..<(m * k)).map { _ in Float.random(in: -1...2, using: &rng) })
        for activation in [Activation.identity, .relu] {
            let layer = Linear(weight: weight, bias: bias, activation: activation)
            let int8 = layer.quantized(input: ActivationQuantization(lower: -1, upper: 2))
            Int8Kernels.path = .baseline
            let reference = int8(x)
            for path in paths {
                Int8Kernels.path = path
                XCTAssertEqual(int8(x).data.map(\.bitPattern), reference.data.map(\.bitPattern), "\(activation) on \(path)")
            }
            let float = layer(x), top = float.data.map(abs).max()!
            let worst = zip(reference.data, float.data).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 0.03 * top, "\(activation): int8 within 3% of the largest output")
            XCTAssertGreaterThan(worst, 0, "the int8 layer ran")
        }
    }

    /// A layer over pooled features packed bins-major (`QuantizedLinear.pooled`) gives the plain
    /// layer's bits on every path, both from the float `[C, bins]` rows (transposed while quantized)
    /// and from levels quantized bins-major by the caller; a wrong permutation of the weights
    /// would change the sums.
    func testPooledLayerGivesThePlainLayersBits() throws {
        // 9 channels of 5 bins: k = 45, not a multiple of 4 (padded rows); more rows than a task.
        let (o, c, bins, m) = (21, 9, 5, 203)
        let k = c * bins
        let weight = Tensor(shape: [o, k], data: (0..<(o * k)).map { _ in Float.random(in: -1...1, using: &rng) })
        let bias = (0..<o).map { _ in Float.random(in: -0.3...0.3, using: &rng) }
        let x = Tensor(shape: [m, c, bins], data: (0..<(m * k)).map { _ in Float.random(in: -1...2, using: &rng) })
        let q = ActivationQuantization(lower: -1, upper: 2)
        let layer = Linear(weight: weight, bias: bias, activation: .relu)
        let plain = try XCTUnwrap(layer.quantized(input: q).int8)
        let pooled = try XCTUnwrap(layer.quantized(input: q, pooled: (c, bins)).int8)
        XCTAssertEqual(pooled.weights.offset, plain.weights.offset)
        XCTAssertNotEqual(pooled.weights.levels(), plain.weights.levels(), "the weights are permuted")
        Int8Kernels.path = .baseline
        let reference = plain(x, activation: .relu).data.map(\.bitPattern)
        XCTAssertGreaterThan(Set(reference).count, m, "distinct outputs")
        // The caller's levels: each row's [C, bins] transposed to [bins, C], quantized, padded.
        let kp = pooled.weights.paddedK
        var levels = [UInt8](repeating: 0, count: m * kp)
        for r in 0..<m { for bin in 0..<bins { for ch in 0..<c {
            levels[r * kp + bin * c + ch] = UInt8(q.level(x.data[r * k + ch * bins + bin]))
        } } }
        for path in paths {
            Int8Kernels.path = path
            XCTAssertEqual(pooled(x, activation: .relu).data.map(\.bitPattern), reference, "float rows on \(path)")
            let y = levels.withUnsafeBufferPointer { pooled(levels: $0.baseAddress!, rows: m, activation: .relu) }
            XCTAssertEqual(y.shape, [m, o])
            XCTAssertEqual(y.data.map(\.bitPattern), reference, "levels on \(path)")
        }
    }

    /// One output channel per image (Mask R-CNN's logits of each RoI's class) has the bits of that
    /// channel of the whole convolution on every path: a 1x1 layer multiplying only the panel of 16
    /// outputs holding it (identity and ReLU), channels in the first, a middle and the last, partial
    /// panel (91 outputs), and a 3x3 layer, which computes every channel and keeps the asked ones.
    func testOneChannelPerImageGivesTheWholeLayersBits() throws {
        for (g, activation) in [(Geometry(n: 7, c: 32, o: 91, h: 5, w: 6, kh: 1, kw: 1), Activation.identity),
                                (Geometry(n: 7, c: 32, o: 91, h: 5, w: 6, kh: 1, kw: 1), .relu),
                                (Geometry(n: 7, c: 8, o: 91, h: 5, w: 6, kh: 3, kw: 3, padding: (1, 1)), .relu)] {
            let conv = makeConv(g, activation: activation)
            let x = input(g, -1...2)
            let int8 = try XCTUnwrap(conv.quantized(input: ActivationQuantization(lower: -1, upper: 2)).int8)
            let levels = int8.quantize(x)
            let channels = [90, 0, 17, 80, 15, 16, 90]
            let plane = g.h * g.w
            for path in paths {
                Int8Kernels.path = path
                let all = int8(levels, activation: activation)
                let picked = int8.channels(levels, perImage: channels, activation: activation)
                XCTAssertEqual(picked.shape, [g.n, 1, g.h, g.w])
                for (i, ch) in channels.enumerated() {
                    let base = (i * g.o + ch) * plane
                    XCTAssertEqual(picked.data[i * plane..<(i + 1) * plane].map(\.bitPattern),
                                   all.data[base..<base + plane].map(\.bitPattern), "\(g.kh)x\(g.kw), image \(i), channel \(ch) on \(path)")
                }
                XCTAssertGreaterThan(Set(picked.data).count, plane, "distinct values")
            }
        }
    }
}
