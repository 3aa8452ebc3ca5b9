import CKernels
import XCTest
@testable import Tensor

/// The multiply with its requantizing store fused (`rcnn_i8_gemm_requantize`) against the multiply
/// followed by the separate store (`rcnn_i8_requantize_rows`, `rcnn_i8_join_rows`), on every path:
/// the same levels and values, bit for bit, for every activation and shortcut, across whole and
/// edge tiles, several row blocks and several k blocks (whose partial sums pass through c).
extension Int8Tests {
    enum FusedShortcut: CaseIterable { case none, levels, values, sums, sumsWithoutBias }

    func testFusedRequantizeGivesTheSeparateStoresBits() {
        // (m, k, n): one tile; edge rows and a partial panel; one k block and c untouched; two and
        // three k blocks over two row blocks; the 64 -> 256 expansion of a bottleneck.
        let shapes: [(m: Int, k: Int, n: Int)] = [(6, 16, 16), (13, 36, 17), (50, 1152, 32), (29, 1200, 40),
                                                  (200, 2400, 33), (37, 64, 256)]
        var checked = 0
        for path in paths {
            for bits in ActivationQuantization.bitChoices {
            for (m, k, n) in shapes {
                for narrow in path == .avx2 ? [false, true] : [false] {
                    let kp = (k + 3) & ~3
                    var a = [UInt8](repeating: 0, count: m * kp)
                    let next = ActivationQuantization(lower: -1, upper: 4, bits: bits)
                    for i in 0..<m { for j in 0..<k { a[i * kp + j] = UInt8.random(in: 0...UInt8(next.maxLevel), using: &rng) } }
                    let wRange: ClosedRange<Int8> = narrow ? -64...63 : -128...127
                    let w = (0..<(n * k)).map { _ in Int8.random(in: wRange, using: &rng) }
                    var packed = [Int8](repeating: 0, count: rcnn_i8_packed_bytes(Int32(k), Int32(n)))
                    rcnn_i8_pack(w, Int32(n), Int32(k), k, &packed)
                    var sums = [Int32](repeating: 0, count: m * n)
                    let flags = (narrow ? RCNN_I8_NARROW_WEIGHTS : 0) | (bits == 8 ? RCNN_I8_WIDE_ACTIVATIONS : 0)
                    XCTAssertEqual(rcnn_i8_gemm(path.rawValue, Int32(m), a, kp, packed, Int32(k), Int32(n), flags, &sums, n), 0)
                    // Per-output constants that put the dequantized sums around -2...6, so that the
                    // activations, the join's clamp at 0 and the next layer's top level all act.
                    let spread = Float(sums.map { abs($0) }.max()!) + 1
                    let offset = (0..<n).map { _ in Int32.random(in: -500...500, using: &rng) }
                    let scale = (0..<n).map { _ in Float.random(in: 4...8, using: &rng) / spread }
                    let bias = (0..<n).map { _ in Float.random(in: -0.5...2, using: &rng) }
                    for shortcut in FusedShortcut.allCases {
                        for act in shortcut == .none ? [RCNN_I8_ACT_IDENTITY, RCNN_I8_ACT_RELU, RCNN_I8_ACT_HARDSWISH] : [RCNN_I8_ACT_IDENTITY] {
                            for keep in [false, true] {
                                let (expected, actual) = fusedAndSeparate(path: path, m: m, k: k, n: n, flags: flags, a: a,
                                                                          packed: packed, sums: sums, offset: offset, scale: scale,
                                                                          bias: bias, act: act, shortcut: shortcut, next: next, keep: keep)
                                let what = "\(path) \(bits)-bit m \(m) k \(k) n \(n) narrow \(narrow) \(shortcut) act \(act) values \(keep)"
                                XCTAssertEqual(actual.levels, expected.levels, "\(what): levels")
                                XCTAssertEqual(actual.values, expected.values, "\(what): values")
                                XCTAssertGreaterThan(Set(expected.levels).count, min(60, m * n / 4), "\(what): levels spread")
                                XCTAssertTrue(expected.levels.contains(UInt8(next.maxLevel)), "\(what): the top clamp acts")
                                if shortcut == .none && act == RCNN_I8_ACT_IDENTITY {
                                    XCTAssertTrue(expected.levels.contains(0), "\(what): the bottom clamp acts")
                                }
                                XCTAssertTrue(actual.partialSumsUntouched || kp > 1152, "\(what): a one-block multiply writes no sums")
                                checked += 1
                            }
                        }
                    }
                }
            }
            }
        }
        XCTAssertGreaterThanOrEqual(checked, paths.count * 2 * 6 * 7 * 2)
    }

    /// The separate store's and the fused multiply's levels (and values, as bit patterns, when
    /// `keep`), and whether the fused call left its scratch for partial sums as it found it.
    private func fusedAndSeparate(path: Int8Kernels.Path, m: Int, k: Int, n: Int, flags: Int32, a: [UInt8], packed: [Int8],
                                  sums: [Int32], offset: [Int32], scale: [Float], bias: [Float], act: Int32,
                                  shortcut kind: FusedShortcut, next: ActivationQuantization, keep: Bool)
        -> (expected: (levels: [UInt8], values: [UInt32]), actual: (levels: [UInt8], values: [UInt32], partialSumsUntouched: Bool)) {
        // The shortcut's rows: a block input's levels, its float values, or a downsampling layer's sums.
        let shortcutLevels = (0..<(m * n)).map { _ in UInt8.random(in: 0...UInt8(next.maxLevel), using: &rng) }
        let shortcutValues = (0..<(m * n)).map { _ in Float.random(in: -3...3, using: &rng) }
        let downSums = (0..<(m * n)).map { _ in Int32.random(in: -40000...40000, using: &rng) }
        let downOffset = (0..<n).map { _ in Int32.random(in: -100...100, using: &rng) }
        let downScale = (0..<n).map { _ in Float.random(in: 1e-5...8e-5, using: &rng) }
        let downBias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        let inv = 1 / next.scale, zp = Int32(next.zeroPoint), top = next.top
        var expectedLevels = [UInt8](repeating: 0, count: m * n), actualLevels = expectedLevels
        var expectedValues = [Float](repeating: .nan, count: keep ? m * n : 0), actualValues = expectedValues
        var scratch = [Int32](repeating: -7, count: m * n)
        shortcutLevels.withUnsafeBufferPointer { sl in
            shortcutValues.withUnsafeBufferPointer { sv in
                downSums.withUnsafeBufferPointer { ds in
                    downOffset.withUnsafeBufferPointer { doff in
                        downScale.withUnsafeBufferPointer { dsc in
                            downBias.withUnsafeBufferPointer { db in
                                var sc = rcnn_i8_shortcut(levels: nil, scale: 0, zero_point: 0, values: nil, sums: nil, offset: nil,
                                                          channel_scale: nil, bias: nil, ld: n)
                                switch kind {
                                case .none: break
                                case .levels: (sc.levels, sc.scale, sc.zero_point) = (sl.baseAddress!, 0.03, 11)
                                case .values: sc.values = sv.baseAddress!
                                case .sums, .sumsWithoutBias:
                                    (sc.sums, sc.offset, sc.channel_scale) = (ds.baseAddress!, doff.baseAddress!, dsc.baseAddress!)
                                    sc.bias = kind == .sums ? db.baseAddress! : nil
                                }
                                withUnsafePointer(to: sc) { scp in
                                    let join = kind == .none ? nil : scp
                                    expectedValues.withUnsafeMutableBufferPointer { ev in
                                        let values = keep ? ev.baseAddress : nil
                                        if let join {
                                            rcnn_i8_join_rows(path.rawValue, sums, n, Int32(m), Int32(n), offset, scale, bias, join, inv, zp, top,
                                                              &expectedLevels, n, values, n)
                                        } else {
                                            rcnn_i8_requantize_rows(path.rawValue, sums, n, Int32(m), Int32(n), offset, scale, bias, act,
                                                                    inv, zp, top, &expectedLevels, n, values, n)
                                        }
                                    }
                                    offset.withUnsafeBufferPointer { off in
                                        scale.withUnsafeBufferPointer { s in
                                            bias.withUnsafeBufferPointer { b in
                                                actualLevels.withUnsafeMutableBufferPointer { al in
                                                    actualValues.withUnsafeMutableBufferPointer { av in
                                                        var rq = rcnn_i8_requantize(offset: off.baseAddress!, scale: s.baseAddress!,
                                                                                    bias: b.baseAddress!, act: act, shortcut: join,
                                                                                    inv_scale: inv, zero_point: zp, top: top,
                                                                                    dst: al.baseAddress!,
                                                                                    ldd: n, values: keep ? av.baseAddress : nil, ldv: n)
                                                        XCTAssertEqual(rcnn_i8_gemm_requantize(path.rawValue, Int32(m), a, (k + 3) & ~3, packed,
                                                                                               Int32(k), Int32(n), flags, &scratch, n, &rq), 0)
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return ((expectedLevels, expectedValues.map(\.bitPattern)),
                (actualLevels, actualValues.map(\.bitPattern), scratch.allSatisfy { $0 == -7 }))
    }
}
