import CKernels
import Foundation

/// Spatial pooling over NCHW tensors, with PyTorch's semantics (floor mode, -inf padding for max,
/// `count_include_pad=True` for average, PyTorch's start/end rule for adaptive pooling).
public enum Pooling {
    /// Whether 3x3 stride-2 max pooling (ResNet's stem) takes its C kernel's AVX2 variant where the
    /// CPU has it (tests compare both ways).
    nonisolated(unsafe) public static var vectorMaxPool = true

    public static func maxPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        if kernel == 3 && stride == 2 && padding == 1 && x.rank == 4 {
            let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
            let oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1
            var y = Tensor.uninitialized([n, c, oh, ow])
            let vector: Int32 = vectorMaxPool ? 1 : 0
            x.data.withUnsafeBufferPointer { xs in
                y.data.withUnsafeMutableBufferPointer { ys in
                    let src = xs.baseAddress!, dst = ys.baseAddress!
                    parallelFor(n * c, minimumPerTask: 4) { p in
                        rcnn_maxpool_3x3s2(vector, src + p * h * w, Int32(h), Int32(w), dst + p * oh * ow)
                    }
                }
            }
            return y
        }
        return window(x, kernel: kernel, stride: stride, padding: padding) { plane, w, ys, xs in
            var m = -Float.infinity
            for iy in ys { for ix in xs {
                let v = plane[iy * w + ix]
                if v > m || v.isNaN { m = v }
            }}
            return m
        }
    }

    public static func avgPool2d(_ x: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        let divisor = Float(kernel * kernel)
        return window(x, kernel: kernel, stride: stride, padding: padding) { plane, w, ys, xs in
            var s: Float = 0
            for iy in ys { for ix in xs { s += plane[iy * w + ix] } }
            return s / divisor
        }
    }

    /// Adaptive average pooling to `outH` x `outW`: output cell i covers input rows
    /// `floor(i*H/outH) ..< ceil((i+1)*H/outH)`.
    public static func adaptiveAvgPool2d(_ x: Tensor, outH: Int, outW: Int) -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        var y = Tensor.uninitialized([n, c, outH, outW])
        x.data.withUnsafeBufferPointer { xs in
            y.data.withUnsafeMutableBufferPointer { ys in
                let src = xs.baseAddress!, dst = ys.baseAddress!
                parallelFor(n * c, minimumPerTask: 16) { p in
                    let plane = src + p * h * w, out = dst + p * outH * outW
                    for oy in 0..<outH {
                        let y0 = (oy * h) / outH, y1 = ((oy + 1) * h + outH - 1) / outH
                        for ox in 0..<outW {
                            let x0 = (ox * w) / outW, x1 = ((ox + 1) * w + outW - 1) / outW
                            var s: Float = 0
                            if x0 == 0 && x1 == w {
                                // Whole rows (global pooling above all): one contiguous run.
                                s = Pooling.sum(plane + y0 * w, count: (y1 - y0) * w)
                            } else {
                                for iy in y0..<y1 { s += Pooling.sum(plane + iy * w + x0, count: x1 - x0) }
                            }
                            out[oy * outW + ox] = s / Float((y1 - y0) * (x1 - x0))
                        }
                    }
                }
            }
        }
        return y
    }

    /// Sum of `count` floats in eight interleaved lanes (a sequential sum waits on each addition:
    /// squeeze-and-excitation's global pooling took 12 ms of MobileNetV3's 230 that way).
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= count {
            lanes += raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD8<Float>.self)
            i += 8
        }
        var s = lanes.sum()
        while i < count { s += p[i]; i += 1 }
        return s
    }

    private static func window(_ x: Tensor, kernel: Int, stride: Int, padding: Int,
                               _ reduce: @escaping (UnsafePointer<Float>, Int, Range<Int>, Range<Int>) -> Float) -> Tensor {
        precondition(x.rank == 4, "pooling expects NCHW, got \(x.shape)")
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let oh = (h + 2 * padding - kernel) / stride + 1
        let ow = (w + 2 * padding - kernel) / stride + 1
        var y = Tensor.uninitialized([n, c, oh, ow])
        x.data.withUnsafeBufferPointer { xs in
            y.data.withUnsafeMutableBufferPointer { ys in
                let src = xs.baseAddress!, dst = ys.baseAddress!
                parallelFor(n * c, minimumPerTask: 16) { p in
                    let plane = src + p * h * w, out = dst + p * oh * ow
                    for oy in 0..<oh {
                        let y0 = oy * stride - padding
                        let rows = max(0, y0)..<min(h, y0 + kernel)
                        for ox in 0..<ow {
                            let x0 = ox * stride - padding
                            out[oy * ow + ox] = reduce(plane, w, rows, max(0, x0)..<min(w, x0 + kernel))
                        }
                    }
                }
            }
        }
        return y
    }
}
