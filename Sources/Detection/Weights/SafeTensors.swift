import Foundation
import Tensor

/// A read-only, memory-mapped safetensors file.
///
/// Format (the whole of it): `[u64 little-endian N][N bytes of UTF-8 JSON header][data]`. The header
/// maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` with offsets relative to
/// the first byte after the header; the optional key `"__metadata__"` holds string pairs. Tensors are
/// little-endian and contiguous. This reader accepts F32 (and F16/BF16/F64, I64/I32/U8/BOOL, converted on
/// request) and rejects files whose header or offsets are inconsistent with the file size.
///
/// Thread-safety: immutable after `init`; reads may happen from any thread.
public final class SafeTensorsFile: @unchecked Sendable {
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        public let range: Range<Int>   // absolute byte range in the file
    }

    public let url: URL
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let data: Data   // memory-mapped

    public init(url: URL) throws {
        self.url = url
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw WeightsError.unreadable(file: file, reason: error.localizedDescription)
        }
        self.data = data
        guard data.count >= 8 else {
            throw WeightsError.corrupt(file: file, reason: "file is \(data.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = data.withUnsafeBytes { raw -> UInt64 in
            raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw WeightsError.corrupt(file: file, reason: "header length \(headerLength) exceeds the file size \(data.count) (truncated or not a safetensors file)")
        }
        let start = 8 + Int(headerLength)
        let header = data.subdata(in: 8..<start)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw WeightsError.corrupt(file: file, reason: "header is not valid JSON")
        }
        guard let dict = json as? [String: Any] else {
            throw WeightsError.corrupt(file: file, reason: "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in dict {
            if name == "__metadata__" {
                for (k, v) in (value as? [String: Any]) ?? [:] { metadata[k] = "\(v)" }
                continue
            }
            guard let obj = value as? [String: Any],
                  let dtype = obj["dtype"] as? String,
                  let shape = Self.integers(obj["shape"]),
                  let offsets = Self.integers(obj["data_offsets"]),
                  offsets.count == 2
            else {
                throw WeightsError.corrupt(file: file, reason: "tensor '\(name)': malformed header entry (shape and data_offsets must be arrays of non-negative integers)")
            }
            guard let size = SafeTensorsFile.elementSize(dtype) else {
                throw WeightsError.corrupt(file: file, reason: "tensor '\(name)': unsupported dtype \(dtype)")
            }
            let begin = offsets[0], end = offsets[1]
            // Sizes are multiplied with overflow checks: a header may claim any shape.
            guard let bytes = Self.checkedProduct(shape + [size]), end >= begin, end - begin == bytes else {
                throw WeightsError.corrupt(file: file, reason: "tensor '\(name)': offsets \(offsets) do not fit shape \(shape) of \(dtype)")
            }
            guard end <= data.count - start else {
                throw WeightsError.corrupt(file: file, reason: "tensor '\(name)': data ends \(end) bytes after the header but only \(data.count - start) follow it (truncated)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: (start + begin)..<(start + end))
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// A JSON array of non-negative integers that fit in `Int`, or nil (a fraction, a negative
    /// number, a string or 1e300 is malformed, never truncated or trapped on).
    static func integers(_ value: Any?) -> [Int]? {
        guard let list = value as? [Any] else { return nil }
        var out: [Int] = []
        out.reserveCapacity(list.count)
        for item in list {
            guard let n = item as? NSNumber, !String(describing: type(of: n)).contains("Boolean") else { return nil }
            let d = n.doubleValue
            // Integers above 2^53 are not exact in a double; offsets that large exceed any file anyway.
            guard d.isFinite, d >= 0, d == d.rounded(), d <= 9_007_199_254_740_992, let i = Int(exactly: d) else { return nil }
            out.append(i)
        }
        return out
    }

    /// The product of non-negative sizes, nil on overflow.
    static func checkedProduct(_ factors: [Int]) -> Int? {
        var product = 1
        for f in factors {
            let (p, overflow) = product.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            product = p
        }
        return product
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": return 8
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "U8", "I8", "BOOL": return 1
        default: return nil
        }
    }

    public var names: [String] { entries.keys.sorted() }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The tensor as float32 (converting from other numeric dtypes).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw WeightsError.missingTensor(file: url.path, name: name) }
        return Tensor(shape: e.shape, data: try floats(e, name: name))
    }

    /// The tensor, checked against an expected shape.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let e = entries[name] else { throw WeightsError.missingTensor(file: url.path, name: name) }
        guard e.shape == shape else {
            throw WeightsError.shapeMismatch(file: url.path, name: name, expected: shape, found: e.shape)
        }
        return Tensor(shape: e.shape, data: try floats(e, name: name))
    }

    /// Integer tensors (I64/I32/U8/BOOL) as `[Int]`.
    public func ints(_ name: String) throws -> (shape: [Int], values: [Int]) {
        guard let e = entries[name] else { throw WeightsError.missingTensor(file: url.path, name: name) }
        let n = e.shape.reduce(1, *)
        let values: [Int] = data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + e.range.lowerBound
            switch e.dtype {
            case "I64": return (0..<n).map { Int(Int64(littleEndian: base.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
            case "I32": return (0..<n).map { Int(Int32(littleEndian: base.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
            case "U8", "BOOL": return (0..<n).map { Int(base.load(fromByteOffset: $0, as: UInt8.self)) }
            default: return []
            }
        }
        guard values.count == n else {
            throw WeightsError.dtypeMismatch(file: url.path, name: name, expected: "I64/I32/U8", found: e.dtype)
        }
        return (e.shape, values)
    }

    private func floats(_ e: Entry, name: String) throws -> [Float] {
        let n = e.shape.reduce(1, *)
        return try data.withUnsafeBytes { raw -> [Float] in
            let base = raw.baseAddress! + e.range.lowerBound
            switch e.dtype {
            case "F32":
                return [Float](unsafeUninitializedCapacity: n) { buf, count in
                    memcpy(buf.baseAddress!, base, n * 4)
                    count = n
                }
            case "F64":
                return (0..<n).map { Float(base.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self)) }
            case "F16":
                return (0..<n).map { Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
            case "BF16":
                return (0..<n).map { Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) << 16) }
            case "U8", "BOOL":
                return (0..<n).map { Float(base.load(fromByteOffset: $0, as: UInt8.self)) }
            case "I64":
                return (0..<n).map { Float(base.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            default:
                throw WeightsError.dtypeMismatch(file: url.path, name: name, expected: "a float dtype", found: e.dtype)
            }
        }
    }
}
