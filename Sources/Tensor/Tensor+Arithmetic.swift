/// Elementwise arithmetic used by residual connections and feature pyramids.
extension Tensor {
    /// `self += other`, elementwise; shapes must match.
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: \(shape) vs \(other.shape)")
        data.withUnsafeMutableBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                let x = a.baseAddress!, y = b.baseAddress!
                Tensor.inChunks(a.count) { r in for i in r { x[i] += y[i] } }
            }
        }
    }

    /// `self = relu(self + other)`, the residual join of a ResNet block.
    public mutating func addReLU(_ other: Tensor) {
        precondition(shape == other.shape, "add: \(shape) vs \(other.shape)")
        data.withUnsafeMutableBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                let x = a.baseAddress!, y = b.baseAddress!
                Tensor.inChunks(a.count) { r in for i in r { x[i] = max(x[i] + y[i], 0) } }
            }
        }
    }

    /// Multiplies each channel plane of an NCHW tensor by `scale[n * C + c]`.
    public mutating func scaleChannels(_ scale: [Float]) {
        let planes = shape[0] * shape[1]
        precondition(scale.count == planes)
        let plane = count / max(1, planes)
        data.withUnsafeMutableBufferPointer { a in
            let x = a.baseAddress!
            parallelFor(planes, minimumPerTask: 8) { p in
                let s = scale[p], row = x + p * plane
                for j in 0..<plane { row[j] *= s }
            }
        }
    }

    /// `body` over `0..<count` in chunks of 64 Ki elements, spread over the cores.
    private static func inChunks(_ count: Int, _ body: (Range<Int>) -> Void) {
        let chunk = 1 << 16
        parallelFor((count + chunk - 1) / chunk, minimumPerTask: 2) { i in
            body((i * chunk)..<min(count, (i + 1) * chunk))
        }
    }

    /// Largest absolute difference to another tensor of the same shape (for tests and diagnostics).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "compare: \(shape) vs \(other.shape)")
        var m: Float = 0
        for i in 0..<count { m = max(m, abs(data[i] - other.data[i])) }
        return m
    }
}
