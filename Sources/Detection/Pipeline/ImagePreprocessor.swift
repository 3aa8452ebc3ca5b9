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
        let s = Double(scale(h: h, w: w))
        return (Int((Double(h) * s).rounded(.down)), Int((Double(w) * s).rounded(.down)))
    }

    /// The resize factor for an `h x w` image (see `resizedSize`).
    public func scale(h: Int, w: Int) -> Float {
        let short = Float(min(h, w)), long = Float(max(h, w))
        return min(Float(config.minSize) * (1 / short), Float(config.maxSize) * (1 / long))
    }

    /// Per-channel tables from an 8-bit sample to its normalised value, `(byte / 255 - mean) / std`
    /// in float32 (the expression torchvision's `ToTensor` + `normalize` evaluate per pixel).
    public var normalizationTables: [[Float]] {
        (0..<3).map { c in
            let m = Float(config.imageMean[c]), s = Float(config.imageStd[c])
            return (0..<256).map { (Float($0) / 255 - m) / s }
        }
    }

    /// Resizes straight from the 8-bit pixels into the padded batch: normalisation is a per-sample
    /// table applied to each bilinear tap, so the result equals normalising the full image and then
    /// resizing (torchvision's order) bit for bit, without a full-size float copy (12 bytes per
    /// pixel: 480 MB for 40 megapixels). Memory is the batch only.
    public func callAsFunction(_ image: RGBImage) -> Output {
        let h = image.height, w = image.width
        let size = resizedSize(h: h, w: w)
        let d = config.sizeDivisible
        let ph = (size.h + d - 1) / d * d, pw = (size.w + d - 1) / d * d
        var batch = Tensor(shape: [1, 3, ph, pw])
        guard h > 0, w > 0, size.h > 0, size.w > 0 else { return Output(batch: batch, resized: size, original: (h, w)) }
        image.pixels.withUnsafeBufferPointer { px in
            Interpolation.bilinear(interleaved: px, height: h, width: w, channels: 3, lookup: normalizationTables,
                                   outH: size.h, outW: size.w, into: &batch)
        }
        return Output(batch: batch, resized: size, original: (h, w))
    }
}
