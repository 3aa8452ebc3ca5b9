/// Elementwise arithmetic used by residual connections and feature pyramids.
extension Tensor {
    /// `self += other`, elementwise; shapes must match.
    public mutating func add(_ other: Tensor) {
        precondition(shape == other.shape, "add: \(shape) vs \(other.shape)")
        data.withUnsafeMutableBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                for i in 0..<a.count { a[i] += b[i] }
            }
        }
    }

    /// `self = relu(self + other)`, the residual join of a ResNet block.
    public mutating func addReLU(_ other: Tensor) {
        precondition(shape == other.shape, "add: \(shape) vs \(other.shape)")
        data.withUnsafeMutableBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                for i in 0..<a.count { a[i] = max(a[i] + b[i], 0) }
            }
        }
    }

    /// Multiplies each channel plane of an NCHW tensor by `scale[n * C + c]`.
    public mutating func scaleChannels(_ scale: [Float]) {
        let planes = shape[0] * shape[1]
        precondition(scale.count == planes)
        let plane = count / max(1, planes)
        data.withUnsafeMutableBufferPointer { a in
            for p in 0..<planes {
                let s = scale[p]
                for j in 0..<plane { a[p * plane + j] *= s }
            }
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
