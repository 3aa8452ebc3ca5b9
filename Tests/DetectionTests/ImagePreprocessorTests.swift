import Detection
import Foundation
import Imaging
import Tensor
import TestSupport
import XCTest

/// The preprocessor resizes from 8-bit pixels with the normalisation applied per tap; it must give
/// the batch the float path gave (normalise the full image, `Interpolation.bilinear`, pad), which is
/// the path whose output matches torchvision's transform in the parity fixtures.
final class ImagePreprocessorTests: XCTestCase {
    /// The float path, as the preprocessor computed it before: a full-size `[1, 3, H, W]` float copy.
    func referenceBatch(_ image: RGBImage, _ p: ImagePreprocessor) -> Tensor {
        let h = image.height, w = image.width
        var chw = Tensor.uninitialized([1, 3, h, w])
        for c in 0..<3 {
            let m = Float(p.config.imageMean[c]), s = Float(p.config.imageStd[c])
            for i in 0..<(h * w) { chw.data[c * h * w + i] = (Float(image.pixels[i * 3 + c]) / 255 - m) / s }
        }
        let size = p.resizedSize(h: h, w: w)
        let resized = (size.h == h && size.w == w) ? chw : Interpolation.bilinear(chw, outH: size.h, outW: size.w)
        let d = p.config.sizeDivisible
        let ph = (size.h + d - 1) / d * d, pw = (size.w + d - 1) / d * d
        var batch = Tensor(shape: [1, 3, ph, pw])
        for c in 0..<3 { for y in 0..<size.h { for x in 0..<size.w {
            batch.data[(c * ph + y) * pw + x] = resized.data[(c * size.h + y) * size.w + x]
        }}}
        return batch
    }

    /// Bit-for-bit equality, so the tolerance is zero ulp: both paths evaluate the same float32
    /// expression `ly0 * (lx0 * a + lx1 * b) + ly1 * (lx0 * c + lx1 * d)` on the same normalised
    /// samples `(byte / 255 - mean) / std` with the same taps; only where the samples come from
    /// differs (a table lookup instead of a full-size float image).
    func testResizingFromBytesEqualsNormalisingThenResizing() {
        var g = SplitMix64(seed: 15)
        // (h, w, minSize, maxSize): downscaling by various ratios, upscaling, the long side
        // limiting, odd sizes, one-pixel-wide images, and equal size (no resize).
        let cases = [(97, 131, 48, 80), (480, 640, 224, 400), (33, 17, 64, 200), (20, 30, 448, 746),
                     (1, 9, 8, 64), (7, 1, 12, 30), (300, 200, 64, 64), (40, 60, 40, 1000), (61, 45, 100, 150)]
        for (h, w, minSize, maxSize) in cases {
            let config = ModelConfig.TransformConfig(minSize: minSize, maxSize: maxSize, imageMean: [0.485, 0.456, 0.406],
                                                     imageStd: [0.229, 0.224, 0.225], sizeDivisible: 32)
            let p = ImagePreprocessor(config: config)
            let image = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &g) })
            let out = p(image)
            let ref = referenceBatch(image, p)
            XCTAssertEqual(out.batch.shape, ref.shape, "\(h)x\(w)")
            XCTAssertTrue(out.resized == p.resizedSize(h: h, w: w) && out.original == (h, w), "\(h)x\(w)")
            let differing = zip(out.batch.data, ref.data).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            XCTAssertEqual(differing, 0, "\(h)x\(w) -> \(out.resized): \(differing) values differ from the float path")
        }
    }

    /// An image too thin to have a resized row keeps the old behaviour (an all-zero batch), no trap.
    func testDegenerateResizeGivesAnEmptyBatch() {
        let config = ModelConfig.TransformConfig(minSize: 8, maxSize: 10, imageMean: [0, 0, 0], imageStd: [1, 1, 1], sizeDivisible: 32)
        let p = ImagePreprocessor(config: config)
        let out = p(RGBImage(width: 200, height: 1, fill: .white))
        XCTAssertEqual(out.resized.h, 0)
        XCTAssertEqual(out.batch.shape, [1, 3, 0, 32])
    }
}
