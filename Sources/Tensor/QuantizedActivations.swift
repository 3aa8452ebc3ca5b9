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

    /// Reads the levels: image b, pixel (y, x), channel ch at `((b * h + y) * w + x) * c + ch`.
    public func withLevels<R>(_ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafePointer(storage.levels)) }
    }
}
