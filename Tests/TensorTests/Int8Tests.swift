import CKernels
import Tensor
import TestSupport
import XCTest

/// The int8 multiply and convolution against a naive integer reference (exact, on every
/// instruction-set path this CPU runs) and against the float convolution (within a bound derived
/// from the quantization steps, per output element).
final class Int8Tests: XCTestCase {
    var rng = SplitMix64(seed: 18)

    var paths: [Int8Kernels.Path] { Int8Kernels.Path.allCases.filter(\.isSupported) }

    override func tearDown() {
        Int8Kernels.path = Int8Kernels.Path(rawValue: rcnn_i8_best_isa()) ?? .baseline
        Conv2d.int8ChainsEnabled = true
    }

    /// The packed multiply equals the integer sum for shapes that cross every block edge: rows not a
    /// multiple of any tile height and above the 192-row block, k not a multiple of 4 and above the
    /// 1152-byte block, n not a multiple of 16, lda wider than k.
    func testMultiplyIsExactOnEveryPath() {
        let shapes: [(m: Int, k: Int, n: Int)] = [(1, 1, 1), (5, 7, 3), (13, 36, 17), (24, 64, 32),
                                                  (200, 300, 40), (37, 2400, 33), (6, 1153, 16), (401, 96, 70)]
        print("int8 paths run on this CPU: \(paths.map(\.description).joined(separator: ", "))")
        XCTAssertTrue(paths.contains(.baseline))
        for path in paths {
            // Full u8 on the paths that take it; AVX2 is exact for 7-bit activations (its contract).
            let top: UInt8 = path == .avx2 ? 127 : 255
            for (m, k, n) in shapes {
                let kp = (k + 3) & ~3, lda = kp + 4
                var a = [UInt8](repeating: 0, count: m * lda)
                for i in 0..<m { for j in 0..<k { a[i * lda + j] = UInt8.random(in: 0...top, using: &rng) } }
                var w = [Int8](repeating: 0, count: n * k)
                for i in w.indices { w[i] = Int8.random(in: -128...127, using: &rng) }
                // Extreme corners: the largest products must not saturate.
                a[0] = top; w[0] = -128
                XCTAssertEqual(wrongSums(path, m: m, k: k, n: n, a: a, lda: lda, w: w, narrow: false), 0, "\(path) m \(m) k \(k) n \(n)")
            }
        }
    }

    /// With 8-bit activations (`RCNN_I8_WIDE_ACTIVATIONS`) the multiply is exact on every path, with
    /// 8-bit weights (AVX2's split kernel) and narrow ones (its plain kernel), on shapes that cross
    /// every block edge, with the extreme products in row 0; and the split kernel really runs on
    /// AVX2: without the flag the same product saturates.
    func testEightBitActivationsAreExactOnEveryPath() throws {
        let shapes: [(m: Int, k: Int, n: Int)] = [(1, 4, 1), (5, 7, 3), (13, 36, 17), (200, 300, 40), (37, 2400, 33),
                                                  (6, 1153, 16), (401, 96, 70)]
        for path in paths {
            for narrow in [false, true] {
                for (m, k, n) in shapes {
                    let kp = (k + 3) & ~3, lda = kp + 4
                    var a = [UInt8](repeating: 0, count: m * lda)
                    for i in 0..<m { for j in 0..<k { a[i * lda + j] = UInt8.random(in: 0...255, using: &rng) } }
                    let range: ClosedRange<Int8> = narrow ? Int8(RCNN_I8_NARROW_MIN)...Int8(RCNN_I8_NARROW_MAX) : -128...127
                    var w = [Int8](repeating: 0, count: n * k)
                    for i in w.indices { w[i] = Int8.random(in: range, using: &rng) }
                    for kk in 0..<min(k, 8) { a[kk] = 255; w[kk] = range.lowerBound }
                    let flags = RCNN_I8_WIDE_ACTIVATIONS | (narrow ? RCNN_I8_NARROW_WEIGHTS : 0)
                    XCTAssertEqual(wrongSums(path, m: m, k: k, n: n, a: a, lda: lda, w: w, flags: flags), 0,
                                   "8-bit activations, narrow \(narrow), \(path) m \(m) k \(k) n \(n)")
                }
            }
        }
        try Prerequisite.require(Int8Kernels.Path.avx2.isSupported, "an AVX2 CPU (this check runs the AVX2 kernel)",
                                 provides: "CI runs on x86-64 machines with AVX2")
        XCTAssertEqual(constantSum(.avx2, a: 255, w: -128, k: 8, flags: RCNN_I8_WIDE_ACTIVATIONS), 8 * 255 * -128)
        XCTAssertNotEqual(constantSum(.avx2, a: 255, w: -128, k: 8, flags: 0), 8 * 255 * -128, "without the flag it saturates")
    }

    /// How many of the multiply's m x n sums on `path` differ from the integer sum of a (rows of
    /// `lda` bytes) times w (n rows of k), counting any write past column n of the 3 padding columns.
    func wrongSums(_ path: Int8Kernels.Path, m: Int, k: Int, n: Int, a: [UInt8], lda: Int, w: [Int8], narrow: Bool) -> Int {
        wrongSums(path, m: m, k: k, n: n, a: a, lda: lda, w: w, flags: narrow ? RCNN_I8_NARROW_WEIGHTS : 0)
    }

    /// The same with the multiply's `flags`.
    func wrongSums(_ path: Int8Kernels.Path, m: Int, k: Int, n: Int, a: [UInt8], lda: Int, w: [Int8], flags: Int32) -> Int {
        var packed = [Int8](repeating: 0, count: rcnn_i8_packed_bytes(Int32(k), Int32(n)))
        rcnn_i8_pack(w, Int32(n), Int32(k), k, &packed)
        var c = [Int32](repeating: -1, count: m * (n + 3))
        XCTAssertEqual(rcnn_i8_gemm(path.rawValue, Int32(m), a, lda, packed, Int32(k), Int32(n), flags, &c, n + 3), 0)
        var wrong = 0
        for i in 0..<m {
            for j in 0..<n {
                var s: Int32 = 0
                for kk in 0..<k { s += Int32(a[i * lda + kk]) * Int32(w[j * k + kk]) }
                if c[i * (n + 3) + j] != s { wrong += 1 }
            }
            for j in n..<(n + 3) where c[i * (n + 3) + j] != -1 { wrong += 1 }
        }
        return wrong
    }

    /// The AVX2 contract is real: without `RCNN_I8_WIDE_ACTIVATIONS`, 8-bit activations saturate the
    /// plain kernel's pair sums, so the flag (which 8-bit models pass) is what keeps them exact.
    func testAVX2SaturatesAbove7Bits() throws {
        try Prerequisite.require(Int8Kernels.Path.avx2.isSupported, "an AVX2 CPU (this check runs the AVX2 kernel)",
                                 provides: "CI runs on x86-64 machines with AVX2")
        XCTAssertNotEqual(constantSum(.avx2, a: 255, w: 127, k: 4, narrow: false), 4 * 255 * 127)
        XCTAssertEqual(constantSum(.baseline, a: 255, w: 127, k: 4, narrow: false), 4 * 255 * 127)
    }

    /// The first sum of a one-row multiply whose k activations all equal `a` and weights `w`.
    func constantSum(_ path: Int8Kernels.Path, a: UInt8, w: Int8, k: Int, narrow: Bool) -> Int32 {
        constantSum(path, a: a, w: w, k: k, flags: narrow ? RCNN_I8_NARROW_WEIGHTS : 0)
    }

    /// The same with the multiply's `flags`.
    func constantSum(_ path: Int8Kernels.Path, a: UInt8, w: Int8, k: Int, flags: Int32) -> Int32 {
        let n = 16
        let weights = [Int8](repeating: w, count: n * k)
        var packed = [Int8](repeating: 0, count: rcnn_i8_packed_bytes(Int32(k), Int32(n)))
        rcnn_i8_pack(weights, Int32(n), Int32(k), k, &packed)
        var c = [Int32](repeating: 0, count: n)
        rcnn_i8_gemm(path.rawValue, 1, [UInt8](repeating: a, count: (k + 3) & ~3), (k + 3) & ~3, packed, Int32(k), Int32(n),
                     flags, &c, n)
        return c[0]
    }

    /// With narrow (7-bit) weights the multiply is exact on every path, on shapes with odd and even
    /// counts of 4-byte k-groups (the AVX2 narrow kernel pairs them), several k blocks, partial row
    /// tiles and the extreme products; and the AVX2 narrow kernel really runs: fed weights outside
    /// -64...63, its 16-bit sums of two pairs overflow where the baseline stays exact.
    func testNarrowMultiplyIsExactOnEveryPath() throws {
        let shapes: [(m: Int, k: Int, n: Int)] = [(1, 4, 1), (2, 8, 16), (5, 12, 17), (7, 36, 33), (200, 300, 40),
                                                  (37, 2404, 33), (6, 1156, 16), (401, 96, 70), (4, 3, 5)]
        for path in paths {
            for (m, k, n) in shapes {
                let kp = (k + 3) & ~3, lda = kp + 4
                var a = [UInt8](repeating: 0, count: m * lda)
                for i in 0..<m { for j in 0..<k { a[i * lda + j] = UInt8.random(in: 0...127, using: &rng) } }
                var w = [Int8](repeating: 0, count: n * k)
                for i in w.indices { w[i] = Int8.random(in: Int8(RCNN_I8_NARROW_MIN)...Int8(RCNN_I8_NARROW_MAX), using: &rng) }
                // The largest sums of two pairs: 127 * -64 eight times over in row 0, column 0.
                for kk in 0..<min(k, 8) { a[kk] = 127; w[kk] = Int8(RCNN_I8_NARROW_MIN) }
                XCTAssertEqual(wrongSums(path, m: m, k: k, n: n, a: a, lda: lda, w: w, narrow: true), 0, "narrow, \(path) m \(m) k \(k) n \(n)")
            }
        }
        try Prerequisite.require(Int8Kernels.Path.avx2.isSupported, "an AVX2 CPU (this check runs the AVX2 kernel)",
                                 provides: "CI runs on x86-64 machines with AVX2")
        XCTAssertNotEqual(constantSum(.avx2, a: 127, w: 127, k: 8, narrow: true), 8 * 127 * 127, "the narrow kernel ran (wide weights overflow it)")
        XCTAssertEqual(constantSum(.avx2, a: 127, w: 127, k: 8, narrow: false), 8 * 127 * 127)
    }

    /// 7-bit weights: levels in -63...63 (so `narrow`), each channel's largest weight at level
    /// +-63; 8-bit weights use the full -127...127 and are not narrow.
    func testSevenBitWeightLevels() {
        let k = 40, n = 20
        let w = (0..<(n * k)).map { _ in Float.random(in: -2...2, using: &rng) }
        let q = ActivationQuantization(lower: -1, upper: 1)
        for bits in [7, 8] {
            let packed = PackedInt8Weights(n: n, k: k, input: q, bias: nil, weightBits: bits) { j, row in
                for i in 0..<k { row[i] = w[j * k + i] }
            }
            XCTAssertEqual(packed.narrow, bits == 7)
            for j in 0..<n {
                let amax = w[(j * k)..<((j + 1) * k)].map(abs).max()!
                XCTAssertEqual(packed.scale[j], q.scale * (amax / (bits == 7 ? 63 : 127)))
            }
        }
    }

    /// The steps around the multiply, NCHW float to NHWC levels and sums back to NCHW floats, give
    /// the baseline's bits on every path: on channel and pixel counts that leave partial vector
    /// tiles, several images per call, and NaN, infinities, -0, values outside the range and exact
    /// half-level ties in the input.
    func testQuantizeAndStoreMatchTheBaselineOnEveryPath() {
        let special: [Float] = [.nan, .infinity, -.infinity, -0.0, 0, 1e30, -1e30, 0.5, 1.5, 2.5, 126.5, 127.5, 254.5, 255.5]
        for top in [RCNN_I8_MAX_ACTIVATION_7BIT, RCNN_I8_MAX_ACTIVATION_8BIT] {
        for (c, plane, first, count) in [(16, 40, 0, 40), (48, 300, 7, 260), (37, 129, 0, 129), (3, 50, 5, 33),
                                         (64, 16, 0, 16), (80, 1000, 13, 900)] {
            let src = (0..<(c * plane)).map { i -> Float in
                i % 17 == 0 ? special[(i / 17) % special.count] : Float.random(in: -40...300, using: &rng)
            }
            var expected = [UInt8](repeating: 0xAB, count: c * plane)
            rcnn_i8_quantize_to_nhwc(Int8Kernels.Path.baseline.rawValue, src, Int32(c), Int32(plane), 1, 0, top,
                                     Int32(first), Int32(count), &expected)
            if first == 0 { XCTAssertEqual(expected[0], 0, "NaN (the first input) goes to level 0") }
            XCTAssertEqual(expected.filter { $0 != 0xAB }.max(), UInt8(top), "the top level is \(top)")
            for path in paths {
                var got = [UInt8](repeating: 0xAB, count: c * plane)
                rcnn_i8_quantize_to_nhwc(path.rawValue, src, Int32(c), Int32(plane), 1, 0, top, Int32(first),
                                         Int32(count), &got)
                XCTAssertEqual(got, expected, "quantize \(c) x \(plane) to \(top) on \(path)")
            }
            // A scale and zero point that make ties: x * 0.5 + 3 lands on k + 0.5 for odd x.
            rcnn_i8_quantize_to_nhwc(Int8Kernels.Path.baseline.rawValue, src.map { $0.rounded() }, Int32(c),
                                     Int32(plane), 0.5, 3, top, Int32(first), Int32(count), &expected)
            for path in paths {
                var got = [UInt8](repeating: 0xAB, count: c * plane)
                rcnn_i8_quantize_to_nhwc(path.rawValue, src.map { $0.rounded() }, Int32(c), Int32(plane), 0.5, 3, top,
                                         Int32(first), Int32(count), &got)
                XCTAssertEqual(got, expected, "quantize ties \(c) x \(plane) to \(top) on \(path)")
            }
        }
        }
        for (rows, n, plane, first, relu) in [(24, 16, 24, 0, true), (45, 40, 20, 5, false), (100, 13, 7, 3, true),
                                              (192, 256, 1000, 100, true), (9, 8, 4, 2, false)] {
            let ld = n + 3
            let acc = (0..<(rows * ld)).map { _ in Int32.random(in: -40000...40000, using: &rng) }
            let offset = (0..<n).map { _ in Int32.random(in: -5000...5000, using: &rng) }
            let scale = (0..<n).map { _ in Float.random(in: 1e-5...1e-3, using: &rng) }
            let bias = (0..<n).map { i -> Float in i % 5 == 0 ? -0.0 : Float.random(in: -2...2, using: &rng) }
            let images = (first + rows + plane - 1) / plane
            for withBias in [true, false] {
                var expected = [Float](repeating: .nan, count: images * n * plane)
                rcnn_i8_store_nchw(Int8Kernels.Path.baseline.rawValue, acc, ld, first, Int32(rows), Int32(n), offset,
                                   scale, withBias ? bias : nil, relu ? 1 : 0, &expected, plane)
                for path in paths {
                    var got = [Float](repeating: .nan, count: images * n * plane)
                    rcnn_i8_store_nchw(path.rawValue, acc, ld, first, Int32(rows), Int32(n), offset, scale,
                                       withBias ? bias : nil, relu ? 1 : 0, &got, plane)
                    XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern),
                                   "store \(rows) rows x \(n) into planes of \(plane) on \(path)")
                }
            }
        }
    }

    /// One int8 convolution handing its output to the next as levels gives the levels the next
    /// layer would quantize from the float output, and `Conv2d.sequence` gives the bits of calling
    /// each layer in turn (a bottleneck's 1x1 -> 3x3 stride 2 -> 1x1, and chains broken by a
    /// hardswish or a float32 layer), on every path.
    func testInt8ChainsGiveTheUnchainedBits() {
        let shapes: [(c: Int, o: Int, k: Int, stride: Int, act: Activation)] = [
            (64, 32, 1, 1, .relu), (32, 32, 3, 2, .relu), (32, 48, 1, 1, .identity), (48, 20, 3, 1, .hardswish),
            (20, 36, 1, 1, .relu), (36, 16, 3, 1, .relu), (16, 24, 1, 1, .relu)]
        let floats = shapes.map { s in
            makeConv(Geometry(n: 1, c: s.c, o: s.o, h: 1, w: 1, kh: s.k, kw: s.k, stride: (s.stride, s.stride),
                              padding: s.k == 3 ? (1, 1) : (0, 0)), activation: s.act)
        }
        let x = input(Geometry(n: 2, c: 64, o: 0, h: 23, w: 18, kh: 1, kw: 1), -1...2)
        // Each layer's input range from a float run, as calibration records it, widened below 0 so
        // that the zero points are not 0 and a ReLU matters after requantizing.
        var ranges: [ActivationQuantization] = []
        var t = x
        for conv in floats {
            ranges.append(ActivationQuantization(lower: min(t.data.min()!, -0.3), upper: t.data.max()!))
            t = conv(t)
        }
        // Layer 5 stays float32: the chain breaks around it as well as at the hardswish.
        let int8 = floats.enumerated().map { i, conv in i == 5 ? conv : conv.quantized(input: ranges[i]) }
        for path in paths {
            Int8Kernels.path = path
            let a = int8[0].int8!, b = int8[1].int8!
            let levels = a(a.quantize(x), activation: .relu, quantizedFor: b.input)
            let expected = b.quantize(a(x, activation: .relu))
            let expectedLevels = assertSameLevels(levels, expected, "requantized levels on \(path)")
            XCTAssertGreaterThan(Set(expectedLevels).count, 60, "levels spread over the range")
            Conv2d.int8ChainsEnabled = false
            let oneByOne = Conv2d.sequence(int8, x)
            Conv2d.int8ChainsEnabled = true
            let chained = Conv2d.sequence(int8, x)
            XCTAssertEqual(chained.shape, oneByOne.shape)
            XCTAssertEqual(chained.data.map(\.bitPattern), oneByOne.data.map(\.bitPattern), "sequence on \(path)")
        }
    }

    /// A block's shortcut (`Conv2d.shortcut`): where the int8 downsampling layer shares the first
    /// convolution's input quantization, x is quantized once (or the levels handed in are used) and
    /// the shortcut has the bits of running the layer on x; with another quantization, or chains
    /// off, each layer quantizes x itself. On every path.
    func testShortcutSharesTheFirstConvolutionsLevels() {
        let x = input(Geometry(n: 1, c: 24, o: 0, h: 11, w: 13, kh: 1, kw: 1), -1...2)
        let q = ActivationQuantization(lower: -1, upper: 2)
        let first = makeConv(Geometry(n: 1, c: 24, o: 16, h: 1, w: 1, kh: 1, kw: 1), activation: .relu).quantized(input: q)
        let down = makeConv(Geometry(n: 1, c: 24, o: 40, h: 1, w: 1, kh: 1, kw: 1, stride: (2, 2))).quantized(input: q)
        let other = makeConv(Geometry(n: 1, c: 24, o: 40, h: 1, w: 1, kh: 1, kw: 1, stride: (2, 2)))
            .quantized(input: ActivationQuantization(lower: -1.5, upper: 2))
        for path in paths {
            Int8Kernels.path = path
            let expected = down(x).data.map(\.bitPattern)
            let given = first.int8!.quantize(x)
            for levels in [nil, given] {
                let (residual, shared) = Conv2d.shortcut(down, first: first, x, levels: levels)
                XCTAssertEqual(residual.data.map(\.bitPattern), expected, "on \(path), levels \(levels == nil ? "made" : "given")")
                guard let shared else { XCTFail("the levels are shared"); continue }
                assertSameLevels(shared, given, "shared levels on \(path)")
            }
            let (residual, passed) = Conv2d.shortcut(other, first: first, x, levels: nil)
            XCTAssertEqual(residual.data.map(\.bitPattern), other(x).data.map(\.bitPattern))
            XCTAssertNil(passed, "another quantization: nothing shared")
            Conv2d.int8ChainsEnabled = false
            let (unchained, none) = Conv2d.shortcut(down, first: first, x, levels: nil)
            Conv2d.int8ChainsEnabled = true
            XCTAssertEqual(unchained.data.map(\.bitPattern), expected)
            XCTAssertNil(none)
            XCTAssertEqual(Conv2d.shortcut(nil, first: first, x, levels: nil).residual.data.map(\.bitPattern), x.data.map(\.bitPattern))
        }
    }

    /// Asserts that `levels` equal `expected` (shape and every level); returns the expected levels.
    @discardableResult
    func assertSameLevels(_ levels: QuantizedActivations, _ expected: QuantizedActivations, _ label: String,
                          file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
        XCTAssertEqual([levels.n, levels.h, levels.w, levels.c], [expected.n, expected.h, expected.w, expected.c],
                       label, file: file, line: line)
        let count = expected.n * expected.h * expected.w * expected.c
        let e = expected.withLevels { Array(UnsafeBufferPointer(start: $0, count: count)) }
        let l = levels.withLevels { Array(UnsafeBufferPointer(start: $0, count: min(count, levels.n * levels.h * levels.w * levels.c))) }
        let differ = l.count == e.count ? zip(l, e).filter { $0 != $1 }.count : count
        XCTAssertEqual(differ, 0, "\(label): \(differ) of \(count) levels differ", file: file, line: line)
        return e
    }

    /// A bottleneck ending in the fused residual join (`Conv2d.sequenceAddingReLU`) gives the bits of
    /// the layers run one by one followed by the float32 add-ReLU, and the levels it hands the next
    /// block are what that block would quantize; with and without levels coming in, on output
    /// channel and pixel counts that leave partial 8 x 8 tiles, on every path.
    func testResidualJoinGivesTheUnfusedBits() {
        for (c, planes, h, w) in [(48, 16, 13, 11), (44, 12, 9, 7)] {
            let floats = [
                makeConv(Geometry(n: 1, c: c, o: planes, h: 1, w: 1, kh: 1, kw: 1), activation: .relu),
                makeConv(Geometry(n: 1, c: planes, o: planes, h: 1, w: 1, kh: 3, kw: 3, padding: (1, 1)), activation: .relu),
                makeConv(Geometry(n: 1, c: planes, o: c, h: 1, w: 1, kh: 1, kw: 1), activation: .identity),
                makeConv(Geometry(n: 1, c: c, o: 20, h: 1, w: 1, kh: 1, kw: 1), activation: .relu),  // the next block's first
            ]
            let x = input(Geometry(n: 2, c: c, o: 0, h: h, w: w, kh: 1, kw: 1), -1...1.5)
            var ranges: [ActivationQuantization] = []
            var t = x
            for (i, conv) in floats.enumerated() {
                ranges.append(ActivationQuantization(lower: min(t.data.min()!, -0.3), upper: t.data.max()!))
                t = conv(t)
                if i == 2 { t.addReLU(x) }
            }
            let int8 = floats.enumerated().map { i, conv in conv.quantized(input: ranges[i]) }
            let block = Array(int8[0..<3]), next = int8[3].int8!
            for path in paths {
                Int8Kernels.path = path
                Conv2d.int8ChainsEnabled = false
                var expected = Conv2d.sequence(block, x)
                expected.addReLU(x)
                let expectedLevels = next.quantize(expected)
                XCTAssertGreaterThan(expected.data.filter { $0 == 0 }.count, expected.count / 10, "the ReLU clips")
                let (unfused, none) = Conv2d.sequenceAddingReLU(block, x, levels: nil, residual: x, next: next)
                XCTAssertNil(none, "no levels without chains")
                XCTAssertEqual(unfused.data.map(\.bitPattern), expected.data.map(\.bitPattern))
                Conv2d.int8ChainsEnabled = true
                for given in [nil, block[0].int8!.quantize(x)] {
                    let (y, levels) = Conv2d.sequenceAddingReLU(block, x, levels: given, residual: x, next: next)
                    XCTAssertEqual(y.shape, expected.shape)
                    XCTAssertEqual(y.data.map(\.bitPattern), expected.data.map(\.bitPattern),
                                   "\(c) channels on \(path), levels given: \(given != nil)")
                    guard let levels else { XCTFail("levels for the next block"); continue }
                    XCTAssertEqual(levels.quantization, next.input)
                    let count = levels.n * levels.h * levels.w * levels.c
                    levels.withLevels { l in
                        expectedLevels.withLevels { e in
                            let differ = (0..<count).filter { l[$0] != e[$0] }.count
                            XCTAssertEqual(differ, 0, "levels for the next block on \(path): \(differ) of \(count) differ")
                        }
                    }
                }
                let (_, noLevels) = Conv2d.sequenceAddingReLU(block, x, levels: nil, residual: x, next: nil)
                XCTAssertNil(noLevels)
            }
        }
    }

    func testActivationQuantization() {
        let q = ActivationQuantization(lower: -1.5, upper: 3)
        XCTAssertEqual(q.scale, 4.5 / 127, accuracy: 1e-9)
        XCTAssertEqual(q.value(q.zeroPoint), 0)
        XCTAssertEqual(q.level(-1.5), 0)
        XCTAssertEqual(q.level(3), 127)
        XCTAssertEqual(q.level(100), 127)
        XCTAssertEqual(q.level(-100), 0)
        XCTAssertEqual(q.level(.nan), 0)
        XCTAssertEqual(q.level(0), q.zeroPoint)
        let relu = ActivationQuantization(lower: 0.5, upper: 6)
        XCTAssertEqual(relu.zeroPoint, 0, "a non-negative range keeps 0 at level 0")
        let flat = ActivationQuantization(lower: 0, upper: 0)
        XCTAssertEqual(flat.scale, 1 / 127, accuracy: 1e-9)
        XCTAssertNil(ActivationQuantization(scale: .nan, zeroPoint: 0))
        XCTAssertNil(ActivationQuantization(scale: 0, zeroPoint: 0))
        XCTAssertNil(ActivationQuantization(scale: -1, zeroPoint: 0))
        XCTAssertNil(ActivationQuantization(scale: .infinity, zeroPoint: 0))
        XCTAssertNil(ActivationQuantization(scale: 1, zeroPoint: 128))
        XCTAssertNil(ActivationQuantization(scale: 1, zeroPoint: -1))
        XCTAssertNotNil(ActivationQuantization(scale: 1, zeroPoint: 127))
    }

    struct Geometry {
        var n: Int, c: Int, o: Int, h: Int, w: Int, kh: Int, kw: Int
        var stride: (h: Int, w: Int) = (1, 1), padding: (h: Int, w: Int) = (0, 0), dilation: (h: Int, w: Int) = (1, 1)
    }

    let geometries: [Geometry] = [
        Geometry(n: 1, c: 16, o: 24, h: 9, w: 11, kh: 1, kw: 1),                            // read in place
        Geometry(n: 2, c: 6, o: 5, h: 7, w: 5, kh: 1, kw: 1),                               // c % 4 != 0: lowered
        Geometry(n: 3, c: 8, o: 20, h: 10, w: 9, kh: 3, kw: 3, padding: (1, 1)),
        Geometry(n: 1, c: 12, o: 17, h: 13, w: 12, kh: 3, kw: 3, stride: (2, 2), padding: (1, 1)),
        Geometry(n: 2, c: 16, o: 32, h: 8, w: 8, kh: 1, kw: 1, stride: (2, 2)),
        Geometry(n: 1, c: 3, o: 8, h: 15, w: 14, kh: 7, kw: 7, stride: (2, 2), padding: (3, 3)),
        Geometry(n: 1, c: 4, o: 9, h: 12, w: 12, kh: 3, kw: 3, padding: (2, 2), dilation: (2, 2)),
        Geometry(n: 1, c: 5, o: 7, h: 6, w: 9, kh: 1, kw: 3, stride: (1, 2), padding: (0, 1)),
        Geometry(n: 1, c: 64, o: 40, h: 30, w: 27, kh: 3, kw: 3, padding: (1, 1)),          // many tasks
    ]

    func makeConv(_ g: Geometry, activation: Activation = .identity, bias: Bool = true) -> Conv2d {
        let fan = Float(g.c * g.kh * g.kw)
        let w = Tensor(shape: [g.o, g.c, g.kh, g.kw],
                       data: (0..<(g.o * g.c * g.kh * g.kw)).map { _ in Float.random(in: -1...1, using: &rng) / fan.squareRoot() })
        let b: [Float]? = bias ? (0..<g.o).map { _ in Float.random(in: -0.5...0.5, using: &rng) } : nil
        return Conv2d(weight: w, bias: b, stride: g.stride, padding: g.padding, dilation: g.dilation, groups: 1,
                      activation: activation)
    }

    func input(_ g: Geometry, _ range: ClosedRange<Float>) -> Tensor {
        Tensor(shape: [g.n, g.c, g.h, g.w], data: (0..<(g.n * g.c * g.h * g.w)).map { _ in Float.random(in: range, using: &rng) })
    }

    /// The weight levels and scales as the int8 convolution defines them (per output channel,
    /// symmetric, max |w| / 127, or / 63 with 7-bit weights), in the float weight's [o][c][ki][kj] order.
    func weightLevels(_ conv: Conv2d, bits: Int = 8) -> (levels: [Int32], scale: [Float]) {
        let per = conv.weight.count / conv.outChannels
        let top: Float = bits == 7 ? 63 : 127
        var levels = [Int32](), scales = [Float]()
        for o in 0..<conv.outChannels {
            let row = conv.weight.data[(o * per)..<((o + 1) * per)]
            let amax = row.map(abs).max() ?? 0
            let s = amax > 0 ? amax / top : 1
            scales.append(s)
            levels += row.map { Int32(max(-top, min(top, ($0 / s).rounded(.toNearestOrEven)))) }
        }
        return (levels, scales)
    }

    /// The int8 convolution computed naively: levels summed in integers over the valid taps with
    /// padding at the zero point, then (sum - zp * sum of levels) * (input scale * weight scale) + bias.
    func reference(_ conv: Conv2d, _ q: ActivationQuantization, _ x: Tensor, _ act: Activation, bits: Int = 8) -> Tensor {
        let (levels, wscale) = weightLevels(conv, bits: bits)
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let (kh, kw) = conv.kernel
        let (oh, ow) = conv.outputSize(h: h, w: w)
        var y = Tensor(shape: [n, conv.outChannels, oh, ow])
        let xq = x.data.map { Int32(q.level($0)) }
        let zp = Int32(q.zeroPoint)
        for b in 0..<n {
            for o in 0..<conv.outChannels {
                let lsum = levels[(o * c * kh * kw)..<((o + 1) * c * kh * kw)].reduce(0, +)
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var acc: Int32 = 0
                        for ch in 0..<c {
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    let iy = oy * conv.stride.h - conv.padding.h + ki * conv.dilation.h
                                    let ix = ox * conv.stride.w - conv.padding.w + kj * conv.dilation.w
                                    let v = (iy < 0 || iy >= h || ix < 0 || ix >= w) ? zp : xq[((b * c + ch) * h + iy) * w + ix]
                                    acc += v * levels[((o * c + ch) * kh + ki) * kw + kj]
                                }
                            }
                        }
                        var v = Float(acc - zp * lsum) * (q.scale * wscale[o]) + (conv.bias?[o] ?? 0)
                        if act == .relu && v < 0 { v = 0 }
                        y.data[((b * conv.outChannels + o) * oh + oy) * ow + ox] = v
                    }
                }
            }
        }
        if act != .relu { y = act(y) }
        return y
    }

    /// Bit for bit the naive integer reference, on every path, for every geometry and activation,
    /// with 8-bit and 7-bit weights (the AVX2 path's narrow kernel).
    func testConvolutionMatchesIntegerReferenceOnEveryPath() {
        for bits in [8, 7] {
            for (i, g) in geometries.enumerated() {
                let act: Activation = [.identity, .relu, .hardswish][i % 3]
                let conv = makeConv(g, activation: act, bias: i != 4)
                let x = input(g, i % 2 == 0 ? -2...3 : 0...4)
                let q = ActivationQuantization(lower: x.data.min()!, upper: x.data.max()!)
                let int8 = conv.quantized(input: q, weightBits: bits)
                XCTAssertNil(int8.winograd)
                XCTAssertEqual(int8.int8?.weights.narrow, bits == 7)
                assertEqualOnEveryPath(int8, x, reference(conv, q, x, act, bits: bits), "\(bits)-bit weights, geometry \(i)")
            }
        }
    }

    /// `conv(x)` equals `expected` bit for bit on every int8 path this CPU runs.
    func assertEqualOnEveryPath(_ conv: Conv2d, _ x: Tensor, _ expected: Tensor, _ label: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        for path in paths {
            Int8Kernels.path = path
            let y = conv(x)
            XCTAssertEqual(y.shape, expected.shape, file: file, line: line)
            let wrong = zip(y.data, expected.data).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(wrong, 0, "\(label) on \(path): \(wrong) of \(y.count) differ", file: file, line: line)
        }
    }

    /// Against the float convolution: each output's error is at most what the two rounding steps
    /// allow, sum over taps of |x| * weight step / 2 + |w level * weight step| * input step / 2 (inputs
    /// inside the calibrated range), and on a realistic layer the error is a small share of the
    /// output's spread. A wrong zero point, tap order or channel scale breaks the bound by orders of
    /// magnitude.
    func testConvolutionWithinQuantizationErrorOfFloat() {
        for bits in [8, 7] {
        for (i, g) in geometries.enumerated() {
            let conv = makeConv(g)
            let x = input(g, i % 2 == 0 ? -1...2 : 0...3)
            let q = ActivationQuantization(lower: x.data.min()!, upper: x.data.max()!)
            let y = conv.quantized(input: q, weightBits: bits)(x)
            let f = conv(x)
            let (_, wscale) = weightLevels(conv, bits: bits)
            // The bound, per output, from |x| and |w| summed over the taps the float convolution uses.
            let absConv = Conv2d(weight: Tensor(shape: conv.weight.shape, data: conv.weight.data.map(abs)), bias: nil,
                                 stride: g.stride, padding: g.padding, dilation: g.dilation, groups: 1, activation: .identity)
            let absX = Tensor(shape: x.shape, data: x.data.map(abs))
            let ones = Tensor(shape: x.shape, repeating: 1)
            let per = conv.weight.count / conv.outChannels
            let halfSteps: [Float] = conv.weight.data.indices.map { wscale[$0 / per] / 2 }
            let stepConv = Conv2d(weight: Tensor(shape: conv.weight.shape, data: halfSteps), bias: nil,
                                  stride: g.stride, padding: g.padding, dilation: g.dilation, groups: 1, activation: .identity)
            let wStepTerm = stepConv(absX)
            let xStepTerm = absConv(ones)
            let plane = y.shape[2] * y.shape[3]
            var worstShare: Float = 0
            for j in 0..<y.count {
                let o = (j / plane) % conv.outChannels
                // |w level| * step <= |w| + step / 2: take the looser |w| + step/2 form.
                let taps = Float(per)
                let wAbsSum: Float = xStepTerm.data[j] + wscale[o] / 2 * taps
                let bound: Float = wStepTerm.data[j] + wAbsSum * q.scale / 2
                let err = abs(y.data[j] - f.data[j])
                worstShare = max(worstShare, err / bound)
                XCTAssertLessThanOrEqual(err, bound * 1.001 + 1e-5, "\(bits)-bit weights, geometry \(i) output \(j)")
            }
            let spread = f.data.map(abs).max()!
            XCTAssertLessThan(y.maxAbsDifference(f), 0.05 * spread, "\(bits)-bit weights, geometry \(i)")
            print("int8 conv (\(bits)-bit weights) geometry \(i): worst error \(worstShare) of its bound, max error \(y.maxAbsDifference(f) / spread) of max |y|")
        }
        }
    }
}
