/// A dense float32 tensor in row-major (C-contiguous) order; images and feature maps are NCHW.
///
/// `Tensor` has value semantics (its storage is a copy-on-write `[Float]`), so a tensor handed to
/// another thread is never mutated behind its back. Weights are immutable `Tensor`s shared by every
/// request; activations are per request.
public struct Tensor: Sendable, Equatable {
    /// Extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements, `shape.reduce(1, *)` of them, row-major.
    public var data: [Float]

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor that takes ownership of `data`; `data.count` must equal the product of `shape`.
    public init(shape: [Int], data: [Float]) {
        precondition(data.count == shape.reduce(1, *),
                     "tensor of shape \(shape) needs \(shape.reduce(1, *)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor whose storage is allocated but not meaningfully initialised (zeros), for outputs that
    /// an op overwrites completely.
    @inlinable
    public static func uninitialized(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, data: [Float](unsafeUninitializedCapacity: shape.reduce(1, *)) { buf, n in
            n = buf.count
        })
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, data: data)
    }

    public mutating func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == data.count, "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Element access by full index (slow; for tests and small tensors).
    public subscript(_ index: Int...) -> Float {
        get { data[offset(index)] }
        set { data[offset(index)] = newValue }
    }

    @inlinable
    func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var o = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            o = o * d + i
        }
        return o
    }

    /// The `i`-th slice along the first dimension (a copy).
    public func slice(_ i: Int) -> Tensor {
        let inner = Array(shape.dropFirst())
        let n = inner.reduce(1, *)
        return Tensor(shape: inner, data: Array(data[(i * n)..<((i + 1) * n)]))
    }

    /// Rows `range` along the first dimension (a copy).
    public func rows(_ range: Range<Int>) -> Tensor {
        var s = shape
        let n = shape.dropFirst().reduce(1, *)
        s[0] = range.count
        return Tensor(shape: s, data: Array(data[(range.lowerBound * n)..<(range.upperBound * n)]))
    }

    /// Gathers rows along the first dimension.
    public func gatherRows(_ indices: [Int]) -> Tensor {
        let n = shape.dropFirst().reduce(1, *)
        var out = Tensor.uninitialized([indices.count] + shape.dropFirst())
        data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for (r, i) in indices.enumerated() {
                    (dst.baseAddress! + r * n).update(from: src.baseAddress! + i * n, count: n)
                }
            }
        }
        return out
    }

    /// Concatenates tensors along the first dimension.
    public static func concatRows(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty)
        let inner = Array(parts[0].shape.dropFirst())
        var data: [Float] = []
        data.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        var rows = 0
        for p in parts {
            precondition(Array(p.shape.dropFirst()) == inner, "concat: \(p.shape) vs inner \(inner)")
            data.append(contentsOf: p.data)
            rows += p.shape[0]
        }
        return Tensor(shape: [rows] + inner, data: data)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(6).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(data.count > 6 ? ", ..." : "")])"
    }
}

import CKernels
import Foundation

extension Tensor {
    /// An NCHW tensor's values as pixel rows, `[n, h, w, c]` (each pixel's channels together).
    public func channelsLast() -> Tensor {
        precondition(rank == 4, "channelsLast expects [N, C, H, W], got \(shape)")
        return transposingEachImage(rows: shape[1], columns: shape[2] * shape[3], into: [shape[0], shape[2], shape[3], shape[1]])
    }

    /// Pixel rows `[n, h, w, c]` back to NCHW `[n, c, h, w]` (the inverse of `channelsLast`).
    public func channelsFirst() -> Tensor {
        precondition(rank == 4, "channelsFirst expects [N, H, W, C], got \(shape)")
        return transposingEachImage(rows: shape[1] * shape[2], columns: shape[3], into: [shape[0], shape[3], shape[1], shape[2]])
    }

    /// Channel `channels[i]` of image i only, `[n, 1, h, w]`, from an NCHW tensor (Mask R-CNN keeps
    /// each RoI's map of its detection's class).
    public func channels(perImage channels: [Int]) -> Tensor {
        precondition(rank == 4 && channels.count == shape[0], "\(channels.count) channels for \(shape)")
        let k = shape[1], plane = shape[2] * shape[3]
        precondition(channels.allSatisfy { (0..<k).contains($0) }, "channels outside 0..<\(k)")
        var out = Tensor.uninitialized([shape[0], 1, shape[2], shape[3]])
        data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for (i, ch) in channels.enumerated() {
                    (dst.baseAddress! + i * plane).update(from: src.baseAddress! + (i * k + ch) * plane, count: plane)
                }
            }
        }
        return out
    }

    /// Each image (leading index) as a `rows` x `columns` matrix, transposed, into `shape`.
    private func transposingEachImage(rows: Int, columns: Int, into shape: [Int]) -> Tensor {
        let size = rows * columns
        var out = Tensor.uninitialized(shape)
        data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for b in 0..<self.shape[0] {
                    rcnn_transpose(src.baseAddress! + b * size, Int32(rows), Int32(columns), columns,
                                   dst.baseAddress! + b * size, rows)
                }
            }
        }
        return out
    }
}
