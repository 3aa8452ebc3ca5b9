/// Winograd minimal filtering F(4x4, 3x3) for 3x3 stride-1 undilated dense convolutions
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
///
/// Each 4x4 block of output is computed from a 6x6 input tile with 36 multiplies per
/// (input channel, output channel) pair instead of 144. The work is organised as in the paper's
/// GEMM formulation:
///   1. input transform  V = Bᵀ d B of every 6x6 tile, scattered as 36 matrices `[C, tiles]`;
///   2. 36 GEMMs         M[ξ] = U[ξ] · V[ξ] with the pre-transformed filters U[ξ] `[K, C]`;
///   3. output transform Y = Aᵀ M A of every tile, plus bias and the fused activation.
/// Tiles from every image of the batch share the GEMMs, so many small maps (RoI heads) batch as
/// well as one large one; a band of tiles at a time bounds the scratch memory.
///
/// Interpolation points 0, ±1, ±2 (and ∞). The transforms add rounding error: against a
/// double-precision direct sum the result differs by about 1e-6 to 1e-5 of the output's scale,
/// where im2col + GEMM differs by about 1e-7 to 1e-6 (measured in ConvolutionTests).
public final class Winograd3x3: Sendable {
    /// Output tile size (m) and input tile size (m + 2).
    public static let outputTile = 4, inputTile = 6
    static let positions = inputTile * inputTile

    public let inChannels: Int
    public let outChannels: Int
    /// `[36, outChannels, inChannels]`: G g Gᵀ for every filter, position-major for the GEMMs.
    let filters: [Float]

    /// Transforms `weight` `[outChannels, inChannels, 3, 3]`.
    public init(weight: Tensor) {
        precondition(weight.rank == 4 && weight.shape[2] == 3 && weight.shape[3] == 3,
                     "Winograd F(4x4, 3x3) needs 3x3 filters, got \(weight.shape)")
        let k = weight.shape[0], c = weight.shape[1]
        inChannels = c
        outChannels = k
        var u = [Float](repeating: 0, count: Self.positions * k * c)
        weight.data.withUnsafeBufferPointer { wb in
            u.withUnsafeMutableBufferPointer { ub in
                let w = wb.baseAddress!, out = ub.baseAddress!
                parallelFor(k, minimumPerTask: 8) { o in
                    for i in 0..<c {
                        let g = w + (o * c + i) * 9
                        // Rows: Gg (6x3); then columns: (Gg)Gᵀ (6x6).
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: 18) { gg in
                            for col in 0..<3 {
                                Self.filterTransform(g + col, 3, gg.baseAddress! + col, 3)
                            }
                            for r in 0..<6 {
                                Self.filterTransform(gg.baseAddress! + r * 3, 1, out + (r * 6 * k + o) * c + i, k * c)
                            }
                        }
                    }
                }
            }
        }
        filters = u
    }

    /// Whether this convolution is one F(4x4, 3x3) serves well: 3x3, stride 1, no dilation, one
    /// group, and enough channels that the GEMMs, not the transforms, dominate.
    public static func applies(kernel: (h: Int, w: Int), stride: (h: Int, w: Int),
                               dilation: (h: Int, w: Int), groups: Int,
                               inChannels: Int, outChannels: Int) -> Bool {
        kernel == (3, 3) && stride == (1, 1) && dilation == (1, 1) && groups == 1
            && inChannels >= 16 && outChannels >= 16
    }

    // MARK: 1-D transforms (each 2-D transform applies one along rows, then along columns)

    /// G g on 3 filter taps read with stride `s`, 6 values written with stride `t`.
    @inline(__always)
    static func filterTransform(_ g: UnsafePointer<Float>, _ s: Int, _ y: UnsafeMutablePointer<Float>, _ t: Int) {
        let g0 = g[0], g1 = g[s], g2 = g[2 * s]
        y[0] = g0 / 4
        y[t] = -(g0 + g1 + g2) / 6
        y[2 * t] = -(g0 - g1 + g2) / 6
        y[3 * t] = g0 / 24 + g1 / 12 + g2 / 6
        y[4 * t] = g0 / 24 - g1 / 12 + g2 / 6
        y[5 * t] = g2
    }

    /// Bᵀ d on 6 values read with stride `s` from `x`, written with stride `t` to `y`.
    @inline(__always)
    static func inputTransform(_ x: UnsafePointer<Float>, _ s: Int, _ y: UnsafeMutablePointer<Float>, _ t: Int) {
        let x0 = x[0], x1 = x[s], x2 = x[2 * s], x3 = x[3 * s], x4 = x[4 * s], x5 = x[5 * s]
        y[0] = 4 * x0 - 5 * x2 + x4
        y[t] = -4 * (x1 + x2) + x3 + x4
        y[2 * t] = 4 * (x1 - x2) - x3 + x4
        y[3 * t] = 2 * (x3 - x1) - x2 + x4
        y[4 * t] = 2 * (x1 - x3) - x2 + x4
        y[5 * t] = 4 * x1 - 5 * x3 + x5
    }

    /// Aᵀ m on 6 values read with stride `s`, 4 written with stride `t`.
    @inline(__always)
    static func outputTransform(_ m: UnsafePointer<Float>, _ s: Int, _ y: UnsafeMutablePointer<Float>, _ t: Int) {
        let m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s], m5 = m[5 * s]
        let a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4
        y[0] = m0 + a + c
        y[t] = b + 2 * d
        y[2 * t] = a + 4 * c
        y[3 * t] = b + 8 * d + m5
    }

    // MARK: Convolution

    /// Convolves `n` NCHW images `[n, inChannels, h, w]` with zero padding `padding` into
    /// `dst` `[n, outChannels, oh, ow]`, adding `bias` and applying `activation`.
    public func run(_ src: UnsafePointer<Float>, n: Int, h: Int, w: Int, padding: (h: Int, w: Int),
                    bias: [Float]?, activation: Activation,
                    into dst: UnsafeMutablePointer<Float>, oh: Int, ow: Int, scratchLimit: Int) {
        let m = Self.outputTile, p = Self.positions
        let c = inChannels, k = outChannels
        let tilesH = (oh + m - 1) / m, tilesW = (ow + m - 1) / m
        let perImage = tilesH * tilesW, total = n * perImage
        // A band of tiles whose transformed input and output each fit the scratch limit.
        let band = max(1, min(total, scratchLimit / (p * max(c, k))))
        var v = [Float](unsafeUninitializedCapacity: p * c * band) { _, count in count = p * c * band }
        var mm = [Float](unsafeUninitializedCapacity: p * k * band) { _, count in count = p * k * band }
        v.withUnsafeMutableBufferPointer { vb in
            mm.withUnsafeMutableBufferPointer { mb in
                filters.withUnsafeBufferPointer { ub in
                    var first = 0
                    while first < total {
                        let count = min(band, total - first)
                        transformInput(src, h: h, w: w, padding: padding, tiles: first..<(first + count),
                                       tilesW: tilesW, perImage: perImage, into: vb.baseAddress!, band: count)
                        for xi in 0..<p {
                            BLAS.sgemm(m: k, n: count, k: c,
                                       a: ub.baseAddress! + xi * k * c, lda: c,
                                       b: vb.baseAddress! + xi * c * count, ldb: count,
                                       c: mb.baseAddress! + xi * k * count, ldc: count)
                        }
                        transformOutput(mb.baseAddress!, tiles: first..<(first + count), tilesW: tilesW,
                                        perImage: perImage, bias: bias, activation: activation,
                                        into: dst, oh: oh, ow: ow, band: count)
                        first += count
                    }
                }
            }
        }
    }

    /// Writes Bᵀ d B of every tile in `tiles` to `v` as `[36, C, band]`.
    private func transformInput(_ src: UnsafePointer<Float>, h: Int, w: Int, padding: (h: Int, w: Int),
                                tiles: Range<Int>, tilesW: Int, perImage: Int,
                                into v: UnsafeMutablePointer<Float>, band: Int) {
        let c = inChannels, m = Self.outputTile, t = Self.inputTile
        parallelFor(c, minimumPerTask: 2) { ch in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * 36) { buf in
                let d = buf.baseAddress!, e = d + 36
                for (j, tile) in tiles.enumerated() {
                    let b = tile / perImage, r = tile % perImage
                    let y0 = (r / tilesW) * m - padding.h, x0 = (r % tilesW) * m - padding.w
                    let plane = src + (b * c + ch) * h * w
                    // Gather the 6x6 patch with zeros outside the image.
                    if y0 >= 0 && x0 >= 0 && y0 + t <= h && x0 + t <= w {
                        for i in 0..<t {
                            let line = plane + (y0 + i) * w + x0
                            for jj in 0..<t { d[i * t + jj] = line[jj] }
                        }
                    } else {
                        for i in 0..<t {
                            let y = y0 + i
                            for jj in 0..<t {
                                let x = x0 + jj
                                d[i * t + jj] = (y >= 0 && y < h && x >= 0 && x < w) ? plane[y * w + x] : 0
                            }
                        }
                    }
                    // Columns then rows: e = Bᵀ d, then (Bᵀ d) B written straight to the 36 planes.
                    for col in 0..<t { Self.inputTransform(d + col, t, e + col, t) }
                    let out = v + ch * band + j
                    let stride = c * band
                    for row in 0..<t { Self.inputTransform(e + row * t, 1, out + row * t * stride, stride) }
                }
            }
        }
    }

    /// Reads `[36, K, band]` from `mm`, writes Aᵀ M A (+ bias, activation) of each tile to `dst`.
    private func transformOutput(_ mm: UnsafePointer<Float>, tiles: Range<Int>, tilesW: Int, perImage: Int,
                                 bias: [Float]?, activation: Activation,
                                 into dst: UnsafeMutablePointer<Float>, oh: Int, ow: Int, band: Int) {
        let k = outChannels, m = Self.outputTile, t = Self.inputTile
        let bias = bias
        parallelFor(k, minimumPerTask: 2) { o in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 36 + 24 + 16) { buf in
                let gathered = buf.baseAddress!, half = gathered + 36, y = half + 24
                let b0 = bias?[o] ?? 0
                let stride = k * band
                for (j, tile) in tiles.enumerated() {
                    let src = mm + o * band + j
                    for xi in 0..<36 { gathered[xi] = src[xi * stride] }
                    // half = Aᵀ M (4x6), then y = half A (4x4).
                    for col in 0..<t { Self.outputTransform(gathered + col, t, half + col, t) }
                    for row in 0..<m { Self.outputTransform(half + row * t, 1, y + row * m, 1) }
                    let b = tile / perImage, r = tile % perImage
                    let y0 = (r / tilesW) * m, x0 = (r % tilesW) * m
                    let rows = min(m, oh - y0), cols = min(m, ow - x0)
                    let plane = dst + (b * k + o) * oh * ow
                    for i in 0..<rows {
                        let line = plane + (y0 + i) * ow + x0
                        for jj in 0..<cols { line[jj] = y[i * m + jj] + b0 }
                        activation.apply(line, count: cols)
                    }
                }
            }
        }
    }
}
