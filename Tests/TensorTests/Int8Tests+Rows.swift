import XCTest
@testable import Tensor

/// The pass that keeps an int8 layer's float output as pixel rows and quantizes it for the next
/// layer (`callAsFunction(_:activation:rowsQuantizedFor:)`, what an int8 FPN's output layers
/// run), and the RPN-style head that starts from those levels (`Conv2d.sequence(_:levels:heads:)`).
extension Int8Tests {
    private func bytes(_ l: QuantizedActivations) -> [UInt8] {
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
}
