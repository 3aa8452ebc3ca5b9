/// A storage a checkpoint's pickle refers to by persistent id: its element type, its key in the
/// archive (`data/<key>`, or the legacy format's storage list), how many elements it declares and,
/// for the legacy format's storage views, where the view starts inside its root storage.
struct StorageReference: Equatable {
    let dtype: TorchDType
    let key: String
    let count: Int
    let viewOffset: Int
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a storage, an offset into it (in
/// elements), a size and a stride. Validated when built, so that every element it names lies inside
/// the storage's declared element count; reading the bytes is the loader's job.
struct StoredTensor {
    static let maxDimensions = 32

    let storage: StorageReference
    let offset: Int
    let shape: [Int]
    let strides: [Int]
    /// Number of elements (product of the shape).
    let count: Int

    init(storage: StorageReference, offset: Int, shape: [Int], strides: [Int]) throws {
        guard shape.count == strides.count else {
            throw CheckpointError(.corrupt, "a tensor has size \(shape) but stride \(strides) (different lengths)")
        }
        guard shape.count <= Self.maxDimensions else {
            throw CheckpointError(.corrupt, "a tensor has \(shape.count) dimensions (at most \(Self.maxDimensions) are read)")
        }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            throw CheckpointError(.corrupt, "a tensor has a negative size, stride or offset (size \(shape), stride \(strides), offset \(offset))")
        }
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw CheckpointError(.corrupt, "a tensor's size \(shape) overflows") }
            count = p
        }
        if count > 0 {
            // The last element a view reaches: offset + sum((size_i - 1) * stride_i), overflow-checked.
            var last = offset
            for (d, s) in zip(shape, strides) {
                let (step, o1) = (d - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { throw CheckpointError(.corrupt, "a tensor's strides \(strides) overflow") }
                last = sum
            }
            guard last < storage.count else {
                throw CheckpointError(.corrupt, "a tensor of size \(shape), stride \(strides) at offset \(offset) reaches element \(last) of a storage of \(storage.count) elements")
            }
        }
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.strides = strides
        self.count = count
    }

    /// Whether the tensor's elements are the storage's, in row-major order, without gaps.
    var isContiguous: Bool {
        var expected = 1
        for (d, s) in zip(shape, strides).reversed() where d != 1 {
            if s != expected { return false }
            expected *= d
        }
        return true
    }

    /// The tensor's elements in row-major order, converted to float32 the way `Tensor.to(float32)`
    /// does (float16/bfloat16 exactly; float64 rounded to nearest even).
    ///
    /// `bytes` holds the whole storage (`storage.count` elements of its type), in `bigEndian` order
    /// if the checkpoint says so.
    func floats(from bytes: UnsafeRawBufferPointer, bigEndian: Bool) -> [Float] {
        precondition(bytes.count >= storage.count * storage.dtype.elementSize)
        let dtype = storage.dtype
        let read: (Int) -> Float
        switch dtype {
        case .float32:
            read = { i in
                let bits = bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                return Float(bitPattern: bigEndian ? bits.byteSwapped : bits)
            }
        case .float16:
            read = { i in
                let bits = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                return Float(Float16(bitPattern: bigEndian ? bits.byteSwapped : bits))
            }
        case .bfloat16:
            read = { i in
                let bits = bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                return Float(bitPattern: UInt32(bigEndian ? bits.byteSwapped : bits) << 16)
            }
        case .float64:
            read = { i in
                let bits = bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                return Float(Double(bitPattern: bigEndian ? bits.byteSwapped : bits))
            }
        default:
            preconditionFailure("floats(from:) of a \(dtype) tensor")
        }
        var out = [Float](repeating: 0, count: count)
        if count == 0 { return out }
        let base = storage.viewOffset + offset
        if isContiguous {
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<count { o[i] = read(base + i) }
            }
            return out
        }
        // An odometer over the shape; the innermost dimension runs fastest.
        var index = [Int](repeating: 0, count: shape.count)
        var position = base
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<count {
                o[i] = read(position)
                var d = shape.count - 1
                while d >= 0 {
                    index[d] += 1
                    position += strides[d]
                    if index[d] < shape[d] { break }
                    position -= strides[d] * shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
        return out
    }
}
