import CKernels
import Tensor
import TestSupport
import XCTest

/// 1x1 layers that read int8 levels with float32 weights (`FloatWeightsOnLevels`): the float32
/// convolution of the levels' values, on both of the layer's entry points and as an RPN head.
extension Int8Tests {
    /// The output is the float32 convolution of the dequantized levels (to float32 rounding),
    /// across pixel bands (a plane larger than one band), images, signed and unsigned levels, ReLU
    /// and identity, channel counts with and without a tail past 8-channel lanes, more than 8 outputs;
    /// every kernel path gives the same bits; the float-tensor entry point gives the levels entry
    /// point's bits; and the result is not the integer multiply's (whose weight rounding it avoids).
    func testFloatWeightsOnLevelsAreTheFloatConvolutionOfTheLevelsValues() {
        let cases: [(g: Geometry, range: ClosedRange<Float>, activation: Activation)] = [
            (Geometry(n: 2, c: 256, o: 12, h: 37, w: 31, kh: 1, kw: 1), 0...6, .identity),   // 1147 pixels: two bands
            (Geometry(n: 1, c: 256, o: 3, h: 20, w: 24, kh: 1, kw: 1), -1...2, .identity),
            (Geometry(n: 3, c: 6, o: 5, h: 5, w: 7, kh: 1, kw: 1), -2...1, .relu),
            (Geometry(n: 1, c: 37, o: 17, h: 23, w: 19, kh: 1, kw: 1), 0...3, .identity),      // 8-lane and tail channels, three output groups
        ]
        for (g, range, activation) in cases {
            let conv = makeConv(g, activation: activation)
            let x = input(g, range)
            let q = ActivationQuantization(lower: range.lowerBound, upper: range.upperBound, bits: 8)
            let levels = QuantizedActivations(quantizing: x, as: q)
            let layer = conv.quantized(input: q, floatWeights: true)
            let int8 = try! XCTUnwrap(layer.int8)
            XCTAssertNotNil(int8.floatWeights)
            let got = int8(levels, activation: activation)
            // Every path (the portable code and AVX2 + FMA) gives the same bits.
            for path in paths {
                Int8Kernels.path = path
                XCTAssertEqual(int8(levels, activation: activation).data, got.data, "\(path) \(g)")
            }
            Int8Kernels.path = Int8Kernels.Path(rawValue: rcnn_i8_best_isa()) ?? .baseline
            let expected = conv(levels.dequantized())
            XCTAssertEqual(got.shape, expected.shape)
            var worst: Float = 0
            for (a, b) in zip(got.data, expected.data) { worst = max(worst, abs(a - b) / (1 + abs(b))) }
            XCTAssertLessThan(worst, 1e-5, "\(g) \(activation)")
            XCTAssertEqual(layer(x).data, got.data, "the float input is quantized as the levels were")
            // The integer multiply rounds the weights; this layer does not.
            let integer = conv.quantized(input: q).int8!(levels, activation: activation)
            var integerWorst: Float = 0
            for (a, b) in zip(integer.data, expected.data) { integerWorst = max(integerWorst, abs(a - b)) }
            XCTAssertGreaterThan(integerWorst, 1e-4, "\(g): the integer path differs by its weight rounding")
        }
    }

    /// RPN-like heads, two with float32 weights and one integer, on an int8 3x3 layer: with chains
    /// the 3x3 layer's store writes levels that every head reads (the two float32-weight heads from
    /// one dequantized copy); without, each head quantizes the float output on its own. Same bits
    /// either way.
    func testFloatWeightHeadsShareTheChainsLevels() {
        let g = Geometry(n: 1, c: 32, o: 32, h: 14, w: 18, kh: 3, kw: 3, padding: (1, 1))
        let x = input(g, -1...1)
        let qIn = ActivationQuantization(lower: -1, upper: 1, bits: 8)
        let qShared = ActivationQuantization(lower: 0, upper: 3, bits: 8)
        let shared = makeConv(g, activation: .relu).quantized(input: qIn)
        let head = Geometry(n: 1, c: 32, o: 3, h: 14, w: 18, kh: 1, kw: 1)
        let objectness = makeConv(head).quantized(input: qShared, floatWeights: true)
        let deltas = makeConv(Geometry(n: 1, c: 32, o: 12, h: 14, w: 18, kh: 1, kw: 1), activation: .relu)
            .quantized(input: qShared, floatWeights: true)
        let integer = makeConv(Geometry(n: 1, c: 32, o: 5, h: 14, w: 18, kh: 1, kw: 1)).quantized(input: qShared)
        let heads = [objectness, integer, deltas]
        Conv2d.int8ChainsEnabled = true
        XCTAssertEqual(Conv2d.levelsInput([shared], heads: heads), qIn, "the heads share one input quantization")
        let chained = Conv2d.sequence([shared], x, heads: heads)
        Conv2d.int8ChainsEnabled = false
        let separate = Conv2d.sequence([shared], x, heads: heads)
        XCTAssertEqual(chained.map(\.shape), [[1, 3, 14, 18], [1, 5, 14, 18], [1, 12, 14, 18]])
        XCTAssertTrue(chained[2].data.contains(0) && chained[2].data.allSatisfy { $0 >= 0 }, "the ReLU head's activation ran")
        for (a, b) in zip(chained, separate) {
            XCTAssertEqual(a.shape, b.shape)
            XCTAssertEqual(a.data, b.data)
        }
    }
}
