import CKernels
import Foundation

/// Per-tensor affine quantization of an activation: `q = clamp(round(x / scale) + zeroPoint, 0,
/// maxLevel)` with 7-bit levels (0...127) or 8-bit ones (0...255). Every instruction-set path computes
/// the same integers for either (see `CKernels.h`); 7 bits let AVX2 use its fastest kernels, 8 bits
/// halve the quantization step. A value of exactly 0 is representable (the zero point), which
/// convolution padding needs.
public struct ActivationQuantization: Sendable, Equatable, Codable {
    public let scale: Float
    public let zeroPoint: Int
    /// Bits of the levels: 7 or 8 (`bitChoices`).
    public let bits: Int

    /// The activation widths a model may be quantized to.
    public static let bitChoices = [7, 8]

    /// The largest level of `bits`-bit activations (127 or 255).
    public static func maxLevel(bits: Int) -> Int { (1 << bits) - 1 }

    /// The largest quantized level (127 or 255).
    public var maxLevel: Int { Self.maxLevel(bits: bits) }

    /// Checked construction from stored values: 7 or 8 bits, a positive finite scale and a zero
    /// point in `0...maxLevel`, else nil.
    public init?(scale: Float, zeroPoint: Int, bits: Int = 7) {
        guard Self.bitChoices.contains(bits), scale.isFinite, scale > 0,
              (0...Self.maxLevel(bits: bits)).contains(zeroPoint) else { return nil }
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.bits = bits
    }

    /// The quantization covering `[lower, upper]` widened to include 0 (a degenerate or non-finite
    /// range gets the unit range), in `bits`-bit levels.
    public init(lower: Float, upper: Float, bits: Int = 7) {
        precondition(Self.bitChoices.contains(bits), "activation bits must be 7 or 8, got \(bits)")
        var lo = min(lower, 0), hi = max(upper, 0)
        if !lo.isFinite || !hi.isFinite || hi - lo <= Float.leastNormalMagnitude { lo = 0; hi = 1 }
        let top = Self.maxLevel(bits: bits)
        let s = (hi - lo) / Float(top)
        scale = s
        zeroPoint = min(top, max(0, Int((-lo / s).rounded())))
        self.bits = bits
    }

    private enum CodingKeys: String, CodingKey { case scale, zeroPoint, bits }

    /// Decodes a stored quantization; one stored without `bits` (before 8-bit activations) has 7.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let scale = try c.decode(Float.self, forKey: .scale)
        let zeroPoint = try c.decode(Int.self, forKey: .zeroPoint)
        let bits = try c.decodeIfPresent(Int.self, forKey: .bits) ?? 7
        guard let q = ActivationQuantization(scale: scale, zeroPoint: zeroPoint, bits: bits) else {
            throw DecodingError.dataCorruptedError(forKey: .scale, in: c,
                                                   debugDescription: "scale \(scale), zero point \(zeroPoint), bits \(bits) is not a quantization")
        }
        self = q
    }

    /// The real value of level `q`.
    public func value(_ q: Int) -> Float { Float(q - zeroPoint) * scale }

    /// The level of `x`, exactly as the kernels compute it.
    public func level(_ x: Float) -> Int {
        var v = x * (1 / scale) + Float(zeroPoint)
        v = v > 0 ? v : 0
        v = min(v, Float(maxLevel))
        return Int(v.rounded(.toNearestOrEven))
    }

    /// The kernels' `top` argument.
    var top: Int32 { Int32(maxLevel) }
}

/// The int8 kernels' instruction-set paths and the one in use.
public enum Int8Kernels {
    public enum Path: Int32, CaseIterable, Sendable, CustomStringConvertible {
        case baseline = 0, avx2 = 1, avxVNNI = 2, avx512VNNI = 3

        public var description: String {
            switch self {
            case .baseline: return "baseline"
            case .avx2: return "avx2"
            case .avxVNNI: return "avx-vnni"
            case .avx512VNNI: return "avx512-vnni"
            }
        }

        public var isSupported: Bool { rcnn_i8_isa_supported(rawValue) != 0 }
    }

    /// The path every int8 layer uses: the fastest this CPU has, or `RCNN_INT8_PATH` (baseline,
    /// avx2, avx-vnni, avx512-vnni) where this CPU supports it. Tests set it to compare paths; every
    /// path gives identical results.
    nonisolated(unsafe) public static var path: Path = {
        if let name = ProcessInfo.processInfo.environment["RCNN_INT8_PATH"],
           let p = Path.allCases.first(where: { $0.description == name }), p.isSupported {
            return p
        }
        return Path(rawValue: rcnn_i8_best_isa()) ?? .baseline
    }()
}

/// Weights quantized per output channel to signed 8 bits (symmetric, levels -127...127; with 7 bits,
/// -63...63, which the AVX2 path multiplies faster: see `narrow`) and packed
/// for the int8 multiply, with the constants that turn its integer sums back into real values for
/// one input quantization and the layer's bias: `y[o] = (acc[o] - offset[o]) * scale[o] + bias[o]`, where `offset[o]` is
/// the input zero point times the sum of channel o's weight levels and `scale[o]` is the input scale
/// times the channel's weight scale. Immutable and shared by every request.
public final class PackedInt8Weights: @unchecked Sendable {
    /// Inputs per output (before padding to 4) and outputs.
    public let k: Int, n: Int
    public let offset: [Int32]
    public let scale: [Float]
    /// The layer's bias (zeros for a layer without one, which adds nothing).
    public let bias: [Float]
    public let input: ActivationQuantization
    /// Whether every weight level lies in -64...63 (7-bit weights), which the AVX2 path multiplies
    /// faster with 7-bit activations and without splitting 8-bit ones; checked on the levels, not
    /// assumed.
    public let narrow: Bool
    let packed: UnsafeMutablePointer<Int8>

    /// The weight widths a layer may be quantized to.
    public static let weightBitChoices = [7, 8]

    /// `rows(o, dst)` writes output channel o's k float weights into dst. `weightBits` is 8 or 7
    /// (levels up to 127 or 63).
    public init(n: Int, k: Int, input: ActivationQuantization, bias: [Float]?, weightBits: Int = 8,
                rows: (Int, UnsafeMutablePointer<Float>) -> Void) {
        precondition(bias == nil || bias!.count == n, "bias has \(bias!.count) values for \(n) outputs")
        precondition(Self.weightBitChoices.contains(weightBits), "weight bits must be 7 or 8, got \(weightBits)")
        self.n = n
        self.k = k
        self.input = input
        self.bias = bias ?? [Float](repeating: 0, count: n)
        var levels = [Int8](repeating: 0, count: n * k)
        var offs = [Int32](repeating: 0, count: n)
        var sc = [Float](repeating: 0, count: n)
        let row = UnsafeMutablePointer<Float>.allocate(capacity: max(1, k))
        defer { row.deallocate() }
        let top = Float((1 << (weightBits - 1)) - 1)
        for o in 0..<n {
            rows(o, row)
            var amax: Float = 0
            for i in 0..<k where row[i].isFinite { amax = max(amax, abs(row[i])) }
            let s = amax > 0 ? amax / top : 1
            var sum: Int32 = 0
            for i in 0..<k {
                let q = row[i].isFinite ? Int8(max(-top, min(top, (row[i] / s).rounded(.toNearestOrEven)))) : 0
                levels[o * k + i] = q
                sum += Int32(q)
            }
            offs[o] = Int32(input.zeroPoint) * sum
            sc[o] = input.scale * s
        }
        offset = offs
        scale = sc
        narrow = levels.allSatisfy { $0 >= RCNN_I8_NARROW_MIN && $0 <= RCNN_I8_NARROW_MAX }
        packed = .allocate(capacity: rcnn_i8_packed_bytes(Int32(k), Int32(n)))
        levels.withUnsafeBufferPointer { rcnn_i8_pack($0.baseAddress!, Int32(n), Int32(k), k, packed) }
    }

    deinit { packed.deallocate() }

    /// Row stride of the u8 input matrix: k rounded up to 4.
    public var paddedK: Int { (k + 3) & ~3 }

    /// The multiply's `flags`: narrow weights, and 8-bit input levels (which AVX2 multiplies with
    /// another kernel to stay exact).
    var flags: Int32 {
        (narrow ? RCNN_I8_NARROW_WEIGHTS : 0) | (input.bits > 7 ? RCNN_I8_WIDE_ACTIVATIONS : 0)
    }

    /// The weight levels, read back from the packed panels: output j's k levels at `j * k`.
    public func levels() -> [Int8] {
        let nr = Int(RCNN_I8_NR), kp = paddedK
        var out = [Int8](repeating: 0, count: n * k)
        for j in 0..<n {
            let panel = packed + (j / nr) * nr * kp + (j % nr) * 4
            for i in 0..<k { out[j * k + i] = panel[(i >> 2) * 4 * nr + (i & 3)] }
        }
        return out
    }

    /// `acc[i][j] = sum a[i][kk] * w[j][kk]` for `m` rows of `a` (`paddedK` bytes each, padding 0).
    func multiply(m: Int, a: UnsafePointer<UInt8>, lda: Int, into acc: UnsafeMutablePointer<Int32>, ldc: Int) {
        let rc = rcnn_i8_gemm(Int8Kernels.path.rawValue, Int32(m), a, lda, packed, Int32(k), Int32(n), flags, acc, ldc)
        precondition(rc == 0, "int8 path \(Int8Kernels.path) is not supported by this CPU")
    }

    /// The sums of output `j` for `m` rows of `a` (`paddedK` bytes each, `lda` apart), with those of
    /// the other outputs of its panel of `RCNN_I8_NR` (the multiply's column block): `acc` gets
    /// `RCNN_I8_NR` sums per row, and the result is j's column among them. One panel's work where
    /// only one output is wanted.
    func multiplyPanel(holding j: Int, m: Int, a: UnsafePointer<UInt8>, lda: Int,
                       into acc: UnsafeMutablePointer<Int32>) -> Int {
        precondition(j >= 0 && j < n, "output \(j) of \(n)")
        let nr = Int(RCNN_I8_NR), first = j / nr * nr
        let rc = rcnn_i8_gemm(Int8Kernels.path.rawValue, Int32(m), a, lda, packed + first * paddedK, Int32(k),
                              Int32(min(nr, n - first)), flags, acc, nr)
        precondition(rc == 0, "int8 path \(Int8Kernels.path) is not supported by this CPU")
        return j - first
    }

    /// Dequantizes output `j`'s sums, column `column` of `rows` rows `ldacc` apart, into `dst`
    /// (one value per row), as `storeRows` dequantizes that output.
    func storeColumn(_ acc: UnsafePointer<Int32>, ldacc: Int, column: Int, output j: Int, rows: Int, relu: Bool,
                     into dst: UnsafeMutablePointer<Float>) {
        withConstants { off, sc, b in
            rcnn_i8_store_rows(Int8Kernels.path.rawValue, acc + column, ldacc, Int32(rows), 1, off + j, sc + j, b + j,
                               relu ? 1 : 0, dst, 1)
        }
    }

    /// Dequantizes `rows` rows of sums (`acc`, `n` per row), output pixels `first...` numbered over
    /// images, into the planes of an NCHW output of `plane` pixels per channel.
    func storeNCHW(_ acc: UnsafePointer<Int32>, first: Int, rows: Int, relu: Bool,
                   into dst: UnsafeMutablePointer<Float>, plane: Int) {
        withConstants { off, sc, b in
            rcnn_i8_store_nchw(Int8Kernels.path.rawValue, acc, n, first, Int32(rows), Int32(n), off, sc, b, relu ? 1 : 0, dst, plane)
        }
    }

    /// The activations `requantizeRows` applies on the way (the float32 activation's bits).
    public static func requantizable(_ activation: Activation) -> Bool {
        activation == .identity || activation == .relu || activation == .hardswish
    }

    /// Dequantizes `rows` rows of sums, applies `activation` (identity, ReLU or hardswish) and
    /// quantizes them as `next`'s input (multiplying by 1 / its scale, as the quantizing layer does)
    /// into row-major levels (`n` per row).
    /// With `values`, the activated float results are stored there too (`n` per row).
    func requantizeRows(_ acc: UnsafePointer<Int32>, rows: Int, activation: Activation, for next: ActivationQuantization,
                        into dst: UnsafeMutablePointer<UInt8>, values: UnsafeMutablePointer<Float>? = nil) {
        let act = Self.code(activation)
        withConstants { off, sc, b in
            rcnn_i8_requantize_rows(Int8Kernels.path.rawValue, acc, n, Int32(rows), Int32(n), off, sc, b, act,
                                    1 / next.scale, Int32(next.zeroPoint), next.top, dst, n, values, n)
        }
    }

    /// `multiply` then `requantizeRows` (without a shortcut) or a residual join on pixel rows (with
    /// one: `rcnn_i8_join_rows`), fused (`rcnn_i8_gemm_requantize`): each tile of sums is requantized as its last k block is summed,
    /// so the sums of a one-block k never go to memory. The same levels and values as the two calls.
    /// `partialSums` (`n` per row) carries the earlier blocks' sums where k spans several blocks.
    func multiplyRequantizing(m: Int, a: UnsafePointer<UInt8>, lda: Int, partialSums: UnsafeMutablePointer<Int32>,
                              activation: Activation, shortcut: rcnn_i8_shortcut? = nil,
                              for next: ActivationQuantization, into dst: UnsafeMutablePointer<UInt8>,
                              values: UnsafeMutablePointer<Float>? = nil) {
        precondition(shortcut == nil || activation == .identity, "a residual join follows an identity activation")
        let act = Self.code(activation)
        withConstants { off, sc, b in
            func run(_ join: UnsafePointer<rcnn_i8_shortcut>?) {
                var rq = rcnn_i8_requantize(offset: off, scale: sc, bias: b, act: act, shortcut: join,
                                            inv_scale: 1 / next.scale, zero_point: Int32(next.zeroPoint), top: next.top,
                                            dst: dst, ldd: n, values: values, ldv: n)
                let rc = rcnn_i8_gemm_requantize(Int8Kernels.path.rawValue, Int32(m), a, lda, packed, Int32(k), Int32(n),
                                                 flags, partialSums, n, &rq)
                precondition(rc == 0, "int8 path \(Int8Kernels.path) is not supported by this CPU")
            }
            if let shortcut { withUnsafePointer(to: shortcut) { run($0) } } else { run(nil) }
        }
    }

    /// `requantizeRows` on the sums of `columns` only (rows of sums `n` apart), into rows of
    /// `dst` `ldd` apart: one tap of a transposed convolution, whose consecutive input pixels feed
    /// output pixels `kw` apart.
    func requantizeColumns(_ acc: UnsafePointer<Int32>, rows: Int, columns: Range<Int>, activation: Activation,
                           for next: ActivationQuantization, into dst: UnsafeMutablePointer<UInt8>, ldd: Int) {
        precondition(columns.lowerBound >= 0 && columns.upperBound <= n, "columns \(columns) of \(n)")
        let act = Self.code(activation), j = columns.lowerBound
        withConstants { off, sc, b in
            rcnn_i8_requantize_rows(Int8Kernels.path.rawValue, acc + j, n, Int32(rows), Int32(columns.count), off + j,
                                    sc + j, b + j, act, 1 / next.scale, Int32(next.zeroPoint), next.top, dst, ldd, nil, 0)
        }
    }

    /// The kernels' code for a requantizable activation.
    static func code(_ activation: Activation) -> Int32 {
        precondition(requantizable(activation), "requantizing applies identity, ReLU or hardswish, got \(activation)")
        return switch activation {
        case .relu: RCNN_I8_ACT_RELU
        case .hardswish: RCNN_I8_ACT_HARDSWISH
        default: RCNN_I8_ACT_IDENTITY
        }
    }

    /// Dequantizes `rows` rows of sums, adds `residual` (laid out as `dst`) and applies ReLU into the
    /// NCHW `dst`; with `next` and `levels`, also quantizes the results for that layer into
    /// pixel-major rows (`n` per row, this call's first row at `levels`).
    func storeNCHWAddingReLU(_ acc: UnsafePointer<Int32>, first: Int, rows: Int, residual: UnsafePointer<Float>,
                             into dst: UnsafeMutablePointer<Float>, plane: Int, next: ActivationQuantization?,
                             levels: UnsafeMutablePointer<UInt8>?) {
        withConstants { off, sc, b in
            rcnn_i8_store_nchw_residual(Int8Kernels.path.rawValue, acc, n, first, Int32(rows), Int32(n), off, sc, b,
                                        residual, dst, plane, next.map { 1 / $0.scale } ?? 1, Int32(next?.zeroPoint ?? 0), next?.top ?? RCNN_I8_MAX_ACTIVATION_7BIT,
                                        levels)
        }
    }

    /// Calls `body` with this layer's per-channel offset, scale and bias as C pointers.
    func withConstants(_ body: (UnsafePointer<Int32>, UnsafePointer<Float>, UnsafePointer<Float>) -> Void) {
        offset.withUnsafeBufferPointer { off in
            scale.withUnsafeBufferPointer { sc in
                bias.withUnsafeBufferPointer { b in body(off.baseAddress!, sc.baseAddress!, b.baseAddress!) }
            }
        }
    }

    /// Runs `m` output rows in parallel tasks of `rowsPerTask(m)` rows, each with per-thread scratch
    /// for its sums (`columns` int32 per row) followed by `bytesPerRow` bytes per row:
    /// `body(acc, bytes, first, count)`.
    static func inTasks(m: Int, columns: Int, bytesPerRow: Int,
                        _ body: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<UInt8>, Int, Int) -> Void) {
        let rows = rowsPerTask(m)
        parallelFor((m + rows - 1) / rows, schedule: .claimed) { t in
            let first = t * rows, count = min(rows, m - first)
            Scratch.with(count * columns + (count * bytesPerRow + 3) / 4) { buf in
                let raw = UnsafeMutableRawPointer(buf)
                let acc = raw.bindMemory(to: Int32.self, capacity: count * columns)
                let bytes = (raw + 4 * count * columns).bindMemory(to: UInt8.self, capacity: count * bytesPerRow)
                body(acc, bytes, first, count)
            }
        }
    }

    /// Multiplies `m` rows of levels in parallel tasks (`inTasks`): `a` gives a task's rows in place
    /// (pointer to its first row, leading dimension) or nil, and then `lower(first, count, dst)`
    /// writes its rows into `dst` (`paddedK` bytes each, scratch); `store(acc, first, count)`
    /// receives the task's sums (`n` per row).
    func multiplyInTasks(m: Int, a: ((Int) -> (UnsafePointer<UInt8>, Int))?,
                         lower: (Int, Int, UnsafeMutablePointer<UInt8>) -> Void,
                         store: (UnsafeMutablePointer<Int32>, Int, Int) -> Void) {
        let kp = paddedK
        Self.inTasks(m: m, columns: n, bytesPerRow: a == nil ? kp : 0) { acc, lowered, first, count in
            let (rows, lda): (UnsafePointer<UInt8>, Int)
            if let a {
                (rows, lda) = a(first)
            } else {
                lower(first, count, lowered)
                (rows, lda) = (UnsafePointer(lowered), kp)
            }
            multiply(m: count, a: rows, lda: lda, into: acc, ldc: n)
            store(acc, first, count)
        }
    }

    /// Dequantizes `rows` rows of sums of a transposed convolution whose kernel (`kh` x `kw`) equals
    /// its stride, columns in (tap, channel) order, into the NCHW `dst` of `channels` planes of
    /// `h * kh` x `w * kw` (input pixels `first...` numbered over images of `h` x `w`).
    func storeUpsampled(_ acc: UnsafePointer<Int32>, first: Int, rows: Int, channels: Int, kernel: (h: Int, w: Int),
                        h: Int, w: Int, relu: Bool, into dst: UnsafeMutablePointer<Float>) {
        withConstants { off, sc, b in
            rcnn_i8_store_upsampled(acc, n, first, Int32(rows), Int32(channels), Int32(kernel.h), Int32(kernel.w),
                                    Int32(h), Int32(w), off, sc, b, relu ? 1 : 0, dst)
        }
    }

    /// Dequantizes `rows` rows of sums into row-major `dst` (`n` per row).
    func storeRows(_ acc: UnsafePointer<Int32>, rows: Int, relu: Bool, into dst: UnsafeMutablePointer<Float>) {
        withConstants { off, sc, b in
            rcnn_i8_store_rows(Int8Kernels.path.rawValue, acc, n, Int32(rows), Int32(n), off, sc, b, relu ? 1 : 0, dst, n)
        }
    }

    /// Rows per task for `m` rows over the workers: even shares, multiples of 12 (every tile
    /// height), at most 192 (the multiply's row block), so a task's operands stay in cache.
    static func rowsPerTask(_ m: Int) -> Int {
        let workers = max(1, Parallelism.workers)
        let tasks = workers * max(1, (m + workers * 192 - 1) / (workers * 192))
        let rows = (m + tasks - 1) / tasks
        return max(12, (rows + 11) / 12 * 12)
    }
}
