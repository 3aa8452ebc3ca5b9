import Detection
import Foundation

/// A PyTorch checkpoint's state dict, read without Python: the zip archive `torch.save` writes
/// since torch 1.6 (`ARCHIVE/data.pkl`, `ARCHIVE/data/KEY`, `ARCHIVE/byteorder`), the legacy format
/// before it (magic-number, protocol and system-info pickles, the object pickle, the storage key
/// list, then each storage's element count and bytes), or a safetensors file with the same names.
///
/// Floating-point tensors of any width are read as float32; views with offsets and strides are
/// gathered; storages may be shared between tensors. Integer tensors are kept only as shapes
/// (`num_batches_tracked` counters, which the importer drops).
public struct TorchCheckpoint {
    public enum Format: String, Sendable {
        case zip = "torch.save zip archive"
        case legacy = "torch.save legacy format (torch < 1.6)"
        case safetensors = "safetensors"
    }

    public struct Entry {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        /// The values as float32 in row-major order, or nil for an integer or bool tensor.
        public let values: [Float]?
    }

    public let format: Format
    /// The state dict's entries in file order.
    public let entries: [Entry]
    /// Module versions from the state dict's `_metadata` (absent in safetensors and plain dicts).
    public let versions: [String: Int]
    /// Where the state dict was found ("top level", "'model'", "'state_dict'").
    public let location: String

    public init(url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw CheckpointError(.invalid, "cannot read \(url.path): \(error.localizedDescription)")
        }
        var result: (Format, [Entry], [String: Int], String)!
        try data.withUnsafeBytes { (file: UnsafeRawBufferPointer) in
            if ZipArchive.isZip(file) {
                let r = try Self.readZip(file)
                result = (.zip, r.0, r.1, r.2)
            } else if file.count >= 2, file[0] == 0x80, (2...5).contains(file[1]) {
                let r = try Self.readLegacy(file)
                result = (.legacy, r.0, r.1, r.2)
            } else if Self.looksLikeTar(file) {
                throw CheckpointError(.unsupported, "this is a tar-format checkpoint from PyTorch < 0.4; load and re-save it with a current torch.save")
            } else if file.count >= 9, file[8] == UInt8(ascii: "{") {
                result = (.safetensors, [], [:], "top level")
            } else {
                throw CheckpointError(.invalid, "not a PyTorch checkpoint (neither a torch.save zip archive nor the legacy pickle format) nor a safetensors file")
            }
        }
        if result.0 == .safetensors {
            result.1 = try Self.readSafeTensors(url)
        }
        (format, entries, versions, location) = result
    }

    private static func looksLikeTar(_ file: UnsafeRawBufferPointer) -> Bool {
        file.count >= 512 && Array(file[257..<262]) == Array("ustar".utf8)
    }

    // MARK: - zip

    private static func readZip(_ file: UnsafeRawBufferPointer) throws -> ([Entry], [String: Int], String) {
        let zip = try ZipArchive(file)
        let pickles = zip.entries.filter { $0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/").count == 2 }
        guard let pickle = pickles.first, pickles.count == 1 else {
            if zip.entries.contains(where: { $0.name.hasSuffix("/constants.pkl") || $0.name.contains("/code/") }) {
                throw CheckpointError(.unsupported, "this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save the model's state_dict() with torch.save")
            }
            throw CheckpointError(.invalid, pickles.isEmpty
                ? "a zip archive without ARCHIVE/data.pkl: not a torch.save checkpoint"
                : "a zip archive with \(pickles.count) data.pkl records")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        var bigEndian = false
        if let order = zip[prefix + "byteorder"] {
            let text = String(decoding: try ZipArchive.verified(order, in: file), as: UTF8.self)
            switch text {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default: throw CheckpointError(.corrupt, "\(order.name) says '\(text.prefix(20))', expected 'little' or 'big'")
            }
        }
        var storages: [String: StorageReference] = [:]
        let resolver: Unpickler.StorageResolver = { pid in
            // ('storage', storage type, key, location, numel)
            guard let t = pid.sequence, t.count == 5, t[0].stringValue == "storage",
                  case let .global(g) = t[1], case let .storageType(dtype) = g,
                  let key = t[2].stringValue, let count = t[4].intValue, count >= 0
            else { throw CheckpointError(.corrupt, "a persistent id is not ('storage', type, key, location, numel)") }
            let ref = StorageReference(dtype: dtype, key: key, count: count, viewOffset: 0)
            if let seen = storages[key], seen != ref {
                throw CheckpointError(.corrupt, "storage \(key) is declared as both \(seen.count) x \(seen.dtype) and \(count) x \(dtype)")
            }
            storages[key] = ref
            return .storage(ref)
        }
        let pickleBytes = try ZipArchive.verified(pickle, in: file)
        let extraction = try Unpickler.load(pickleBytes, resolveStorage: resolver) { try StateDictExtraction($0) }.value

        var verified: [String: UnsafeRawBufferPointer] = [:]
        let entries = try extraction.tensors.map { name, t -> Entry in
            let key = t.storage.key
            if verified[key] == nil {
                guard let record = zip[prefix + "data/" + key] else {
                    throw CheckpointError(.truncated, "tensor \(name): its storage \(prefix)data/\(key) is not in the archive (truncated or incomplete file)")
                }
                guard record.range.count >= t.storage.count * t.storage.dtype.elementSize else {
                    throw CheckpointError(.corrupt, "tensor \(name): storage \(record.name) has \(record.range.count) bytes, its \(t.storage.count) x \(t.storage.dtype.rawValue) need \(t.storage.count * t.storage.dtype.elementSize)")
                }
                verified[key] = try ZipArchive.verified(record, in: file)
            }
            return entry(name, t, bytes: verified[key]!, bigEndian: bigEndian)
        }
        return (entries, extraction.versions, extraction.location)
    }

    private static func entry(_ name: String, _ t: StoredTensor, bytes: UnsafeRawBufferPointer, bigEndian: Bool) -> Entry {
        let values = t.storage.dtype.isFloatingPoint ? t.floats(from: bytes, bigEndian: bigEndian) : nil
        return Entry(name: name, dtype: t.storage.dtype.torchName, shape: t.shape, values: values)
    }

    // MARK: - legacy

    /// The legacy format's magic number, 0x1950a86a20f9469cfc6c, as LONG1 bytes.
    private static let magic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    private static func readLegacy(_ file: UnsafeRawBufferPointer) throws -> ([Entry], [String: Int], String) {
        let (isMagic, p1) = try Unpickler.load(file) { v -> Bool in
            if case let .bigInt(b) = v { return b == magic }
            return false
        }
        guard isMagic else {
            throw CheckpointError(.invalid, "a pickle file, but not a torch.save checkpoint (no legacy magic number); plain pickles are not read")
        }
        let (protocolVersion, p2) = try Unpickler.load(file, start: p1) { $0.intValue }
        guard protocolVersion == 1001 else {
            throw CheckpointError(.unsupported, "legacy checkpoint protocol \(protocolVersion.map(String.init) ?? "?"), expected 1001")
        }
        let (_, p3) = try Unpickler.load(file, start: p2) { v -> Void in
            guard case .dict = v else { throw CheckpointError(.corrupt, "the legacy checkpoint's system-info record is a \(v.kind), not a dict") }
        }
        var roots: [String: (dtype: TorchDType, count: Int)] = [:]
        let resolver: Unpickler.StorageResolver = { pid in
            // ('storage', storage type, root key, location, root numel, view metadata or None)
            guard let t = pid.sequence, t.count == 6, t[0].stringValue == "storage",
                  case let .global(g) = t[1], case let .storageType(dtype) = g,
                  let key = t[2].stringValue, let count = t[4].intValue, count >= 0
            else { throw CheckpointError(.corrupt, "a persistent id is not ('storage', type, key, location, numel, view)") }
            if let seen = roots[key], seen.dtype != dtype || seen.count != count {
                throw CheckpointError(.corrupt, "storage \(key) is declared twice with different types or sizes")
            }
            roots[key] = (dtype, count)
            if case .none = t[5] {
                return .storage(StorageReference(dtype: dtype, key: key, count: count, viewOffset: 0))
            }
            // A view: (view key, offset, size) in elements of the root.
            guard let view = t[5].sequence, view.count == 3, let offset = view[1].intValue, let size = view[2].intValue,
                  offset >= 0, size >= 0, offset <= count, size <= count - offset
            else { throw CheckpointError(.corrupt, "storage \(key): a view outside its root storage") }
            return .storage(StorageReference(dtype: dtype, key: key, count: size, viewOffset: offset))
        }
        let (extraction, p4) = try Unpickler.load(file, start: p3, resolveStorage: resolver) { try StateDictExtraction($0) }
        let (keys, p5) = try Unpickler.load(file, start: p4) { v -> [String] in
            guard let items = v.sequence else { throw CheckpointError(.corrupt, "the storage key list is a \(v.kind)") }
            return try items.map {
                guard let s = $0.stringValue else { throw CheckpointError(.corrupt, "a storage key is a \($0.kind)") }
                return s
            }
        }
        // The storages follow, in key-list order: an int64 element count, then the bytes (always
        // little-endian: the writer converts on big-endian machines).
        var ranges: [String: Range<Int>] = [:]
        var p = p5
        for key in keys {
            guard let root = roots[key] else {
                throw CheckpointError(.corrupt, "storage \(key) is listed but no tensor uses it")
            }
            guard file.count - p >= 8 else {
                throw CheckpointError(.truncated, "the file ends at byte \(file.count) before storage \(key) (truncated)")
            }
            let count = file.loadUnaligned(fromByteOffset: p, as: UInt64.self).littleEndian
            guard count == UInt64(root.count) else {
                throw CheckpointError(.corrupt, "storage \(key) at byte \(p) has \(count) elements, the pickle says \(root.count)")
            }
            p += 8
            let length = root.count * root.dtype.elementSize
            guard file.count - p >= length else {
                throw CheckpointError(.truncated, "storage \(key) needs \(length) bytes at byte \(p), the file ends at \(file.count) (truncated)")
            }
            ranges[key] = p..<(p + length)
            p += length
        }
        let entries = try extraction.tensors.map { name, t -> Entry in
            guard let range = ranges[t.storage.key] else {
                throw CheckpointError(.corrupt, "tensor \(name): storage \(t.storage.key) is not in the storage list")
            }
            return entry(name, t, bytes: UnsafeRawBufferPointer(rebasing: file[range]), bigEndian: false)
        }
        return (entries, extraction.versions, extraction.location)
    }

    // MARK: - safetensors

    private static func readSafeTensors(_ url: URL) throws -> [Entry] {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(url: url)
        } catch let e as WeightsError {
            throw CheckpointError(.corrupt, e.description)
        }
        return try file.entries.sorted { $0.value.range.lowerBound < $1.value.range.lowerBound }.map { name, e in
            let float = ["F32", "F16", "BF16", "F64"].contains(e.dtype)
            let values: [Float]? = float ? try file.tensor(name).data : nil
            return Entry(name: name, dtype: e.dtype, shape: e.shape, values: values)
        }
    }
}
