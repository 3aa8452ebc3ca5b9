import CKernels

/// Winograd minimal filtering F(4x4, 3x3) for 3x3 stride-1 undilated dense convolutions
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
///
/// Each 4x4 block of output is computed from a 6x6 input tile with 36 multiplies per
/// (input channel, output channel) pair instead of 144. The work is organised as in the paper's
/// GEMM formulation (the transforms' inner loops are C in CKernels):
///   1. input transform  V = Bᵀ d B of every 6x6 tile, scattered as 36 matrices `[C, tiles]`;
///   2. 36 GEMMs         M[ξ] = U[ξ] · V[ξ] with the pre-transformed filters U[ξ] `[K, C]`;
///   3. output transform Y = Aᵀ M A of every tile, plus bias and the fused activation.
/// Tiles from every image of the batch share the GEMMs, so many small maps (RoI heads) batch as
/// well as one large one; a band of tiles at a time bounds the scratch memory.
///
/// Interpolation points 0, ±1, ±2 (and ∞). The transforms add rounding error: against a
/// double-precision direct sum the result differs by about 1e-6 to 1e-5 of the output's scale,
/// where im2col + GEMM differs by about 1e-7 to 1e-6 (measured in WinogradTests). A NaN or
/// infinity in the input reaches every output of the 6x6 tiles that contain it (direct convolution
/// confines it to the 3x3 neighbourhood), and infinities can turn into NaN.
///
/// Memory: the transformed filters hold 36 values per 3x3 filter, 4x its weights, beside them.
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
        // G g Gᵀ of every filter into `[K, C, 36]` (sequential writes), then reordered position-major.
        var local = [Float](repeating: 0, count: Self.positions * k * c)
        weight.data.withUnsafeBufferPointer { wb in
            local.withUnsafeMutableBufferPointer { lb in
                let w = wb.baseAddress!, out = lb.baseAddress!
                parallelFor(k, minimumPerTask: 8) { o in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: 18) { gg in
                        for i in 0..<c {
                            let g = w + (o * c + i) * 9, u = out + (o * c + i) * 36
                            for col in 0..<3 { Self.filterTransform(g + col, 3, gg.baseAddress! + col, 3) }
                            for r in 0..<6 { Self.filterTransform(gg.baseAddress! + r * 3, 1, u + r * 6, 1) }
                        }
                    }
                }
            }
        }
        var u = [Float](unsafeUninitializedCapacity: Self.positions * k * c) { _, n in n = Self.positions * k * c }
        local.withUnsafeBufferPointer { lb in
            u.withUnsafeMutableBufferPointer { ub in
                // [K * C, 36] -> [36, K * C]
                rcnn_transpose(lb.baseAddress!, Int32(k * c), Int32(Self.positions), Self.positions,
                               ub.baseAddress!, k * c)
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

    // MARK: Filter transform (the input and output transforms are in CKernels)

    /// G g on 3 filter taps read with stride `s`, 6 values written with stride `t`.
    @inline(__always)
    static func filterTransform(_ g: UnsafePointer<Float>, _ s: Int, _ y: UnsafeMutablePointer<Float>, _ t: Int) {
        let g0 = g[0], g1 = g[s], g2 = g[2 * s]
        let sixth: Float = 1 / 6
        y[0] = g0 * 0.25
        y[t] = -(g0 + g1 + g2) * sixth
        y[2 * t] = -(g0 - g1 + g2) * sixth
        y[3 * t] = (g0 * 0.25 + g1 * 0.5 + g2) * sixth
        y[4 * t] = (g0 * 0.25 - g1 * 0.5 + g2) * sixth
        y[5 * t] = g2
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
        Scratch.with(p * (c + k) * band) { scratch in
            let v = scratch, mm = scratch + p * c * band
            filters.withUnsafeBufferPointer { ub in
                var first = 0
                while first < total {
                    let count = min(band, total - first)
                    transformInput(src, h: h, w: w, padding: padding, tiles: first..<(first + count),
                                   tilesW: tilesW, perImage: perImage, into: v)
                    for xi in 0..<p {
                        BLAS.sgemm(m: k, n: count, k: c,
                                   a: ub.baseAddress! + xi * k * c, lda: c,
                                   b: v + xi * c * count, ldb: count,
                                   c: mm + xi * k * count, ldc: count)
                    }
                    transformOutput(mm, tiles: first..<(first + count), tilesW: tilesW,
                                    perImage: perImage, bias: bias, activation: activation,
                                    into: dst, oh: oh, ow: ow)
                    first += count
                }
            }
        }
        if activation != .identity && activation != .relu {
            let plane = oh * ow
            parallelFor(n * k, minimumPerTask: 4) { j in activation.apply(dst + j * plane, count: plane) }
        }
    }

    /// Writes Bᵀ d B of every tile in `tiles` to `v` as `[36, C, tiles.count]` (CKernels, per channel).
    private func transformInput(_ src: UnsafePointer<Float>, h: Int, w: Int, padding: (h: Int, w: Int),
                                tiles: Range<Int>, tilesW: Int, perImage: Int,
                                into v: UnsafeMutablePointer<Float>) {
        let c = inChannels
        parallelFor(c, minimumPerTask: 2) { ch in
            rcnn_winograd_input(src, Int32(c), Int32(ch), Int32(h), Int32(w), Int32(padding.h), Int32(padding.w),
                                Int32(tiles.lowerBound), Int32(tiles.count), Int32(tilesW), Int32(perImage), v)
        }
    }

    /// Reads `[36, K, tiles.count]` from `mm`, writes Aᵀ M A + bias of each tile to `dst` (CKernels, per
    /// output channel), with ReLU fused there; other activations run over the output afterwards.
    private func transformOutput(_ mm: UnsafePointer<Float>, tiles: Range<Int>, tilesW: Int, perImage: Int,
                                 bias: [Float]?, activation: Activation,
                                 into dst: UnsafeMutablePointer<Float>, oh: Int, ow: Int) {
        let k = outChannels
        let relu: Int32 = activation == .relu ? 1 : 0
        parallelFor(k, minimumPerTask: 2) { o in
            rcnn_winograd_output(mm, Int32(k), Int32(o), Int32(tiles.lowerBound), Int32(tiles.count), Int32(tilesW),
                                 Int32(perImage), bias?[o] ?? 0, relu, dst, Int32(oh), Int32(ow))
        }
    }
}
