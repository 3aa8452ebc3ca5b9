import Foundation
import Imaging
import Tensor

/// The explicit preprocessing stage (torchvision's `GeneralizedRCNNTransform` at inference):
/// RGB8 to float in [0, 1], normalise by mean/std, resize bilinearly so the short side is `minSize`
/// unless the long side would exceed `maxSize`, and zero-pad bottom/right to a multiple of
/// `sizeDivisible`. The result remembers the sizes needed to map boxes back.
public struct ImagePreprocessor: Sendable {
    public let config: ModelConfig.TransformConfig

    public init(config: ModelConfig.TransformConfig) { self.config = config }

    public struct Output: Sendable {
        /// `[1, 3, paddedH, paddedW]`.
        public var batch: Tensor
        /// Size after resizing, before padding.
        public var resized: (h: Int, w: Int)
        public var original: (h: Int, w: Int)
        public var padded: (h: Int, w: Int) { (batch.shape[2], batch.shape[3]) }
    }

    /// torchvision's scale: `min(min_size / short, max_size / long)` in float32, where a Python number
    /// divided by a tensor is computed as `tensor.reciprocal() * number` (so 800 / 240 gives
    /// 3.33333349, not the correctly rounded 3.33333325); the output size is `floor(side * scale)` in
    /// double, as `interpolate(recompute_scale_factor=True)` computes it.
    public func resizedSize(h: Int, w: Int) -> (h: Int, w: Int) {
        let short = Float(min(h, w)), long = Float(max(h, w))
        let scale = min(Float(config.minSize) * (1 / short), Float(config.maxSize) * (1 / long))
        let s = Double(scale)
        return (Int((Double(h) * s).rounded(.down)), Int((Double(w) * s).rounded(.down)))
    }

    public func callAsFunction(_ image: RGBImage) -> Output {
        let h = image.height, w = image.width
        var chw = Tensor.uninitialized([1, 3, h, w])
        let mean = config.imageMean.map { Float($0) }, std = config.imageStd.map { Float($0) }
        image.pixels.withUnsafeBufferPointer { px in
            chw.data.withUnsafeMutableBufferPointer { dst in
                for c in 0..<3 {
                    let plane = dst.baseAddress! + c * h * w
                    let m = mean[c], s = std[c]
                    for i in 0..<(h * w) { plane[i] = (Float(px[i * 3 + c]) / 255 - m) / s }
                }
            }
        }
        let size = resizedSize(h: h, w: w)
        let resized = (size.h == h && size.w == w) ? chw : Interpolation.bilinear(chw, outH: size.h, outW: size.w)
        let d = config.sizeDivisible
        let ph = (size.h + d - 1) / d * d, pw = (size.w + d - 1) / d * d
        var batch = Tensor(shape: [1, 3, ph, pw])
        resized.data.withUnsafeBufferPointer { src in
            batch.data.withUnsafeMutableBufferPointer { dst in
                for c in 0..<3 { for y in 0..<size.h {
                    (dst.baseAddress! + (c * ph + y) * pw).update(from: src.baseAddress! + (c * size.h + y) * size.w, count: size.w)
                }}
            }
        }
        return Output(batch: batch, resized: size, original: (h, w))
    }
}
