import CKernels

/// Activations quantized for an int8 convolution: `n` images of `h` x `w` pixels, each pixel's `c`
/// levels together (NHWC), in `quantization`'s levels. What `QuantizedConv2d.quantize` makes from a
/// float tensor, and what one int8 convolution hands the next without a float tensor in between.
public struct QuantizedActivations: @unchecked Sendable {
    public let n: Int, h: Int, w: Int, c: Int
    public let quantization: ActivationQuantization
    private let storage: Storage

    /// Owns the level buffer (written once by the initializer's `fill`, read-only after).
    private final class Storage {
        let levels: UnsafeMutablePointer<UInt8>
        init(count: Int) { levels = .allocate(capacity: max(1, count)) }
        deinit { levels.deallocate() }
    }

    /// Allocates `n * h * w * c` levels and lets `fill` write every one of them.
    init(n: Int, h: Int, w: Int, c: Int, quantization: ActivationQuantization,
         fill: (UnsafeMutablePointer<UInt8>) -> Void) {
        (self.n, self.h, self.w, self.c, self.quantization) = (n, h, w, c, quantization)
        storage = Storage(count: n * h * w * c)
        fill(storage.levels)
    }

    /// Quantizes an NCHW float tensor as `quantization` into pixel-major levels: what every int8
    /// layer does to a float input.
    public init(quantizing x: Tensor, as quantization: ActivationQuantization) {
        precondition(x.rank == 4, "quantizing expects [N, C, H, W], got \(x.shape)")
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let plane = h * w
        let inverse = 1 / quantization.scale, zp = Int32(quantization.zeroPoint)
        self.init(n: n, h: h, w: w, c: c, quantization: quantization) { levels in
            x.data.withUnsafeBufferPointer { xs in
                let block = 2048
                let blocks = (plane + block - 1) / block
                parallelFor(n * blocks) { t in
                    let b = t / blocks, first = (t % blocks) * block
                    rcnn_i8_quantize_to_nhwc(Int8Kernels.path.rawValue, xs.baseAddress! + b * c * plane, Int32(c),
                                             Int32(plane), inverse, zp, quantization.top, Int32(first), Int32(min(block, plane - first)),
                                             levels + b * plane * c)
                }
            }
        }
    }

    /// The float32 NCHW tensor the levels stand for: each level's value (`quantization.value`), the
    /// tensor whose quantization gives these levels back.
    public func dequantized() -> Tensor {
        let plane = h * w
        var out = Tensor.uninitialized([n, c, h, w])
        out.data.withUnsafeMutableBufferPointer { dst in
            withLevels { l in
                for b in 0..<n {
                    for p in 0..<plane {
                        for ch in 0..<c { dst[(b * c + ch) * plane + p] = quantization.value(Int(l[(b * plane + p) * c + ch])) }
                    }
                }
            }
        }
        return out
    }

    /// Reads the levels: image b, pixel (y, x), channel ch at `((b * h + y) * w + x) * c + ch`.
    public func withLevels<R>(_ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafePointer(storage.levels)) }
    }
}
