import Detection
import Foundation

/// Writes float32 tensors as a safetensors file byte for byte as the Python converter's writer does:
/// the header is `json.dumps(header, separators=(",", ":"))` with tensors in the given order and
/// `__metadata__` last, padded with spaces to a multiple of 8 bytes; data little-endian, contiguous.
enum SafeTensorsWriter {
    /// Writes `tensors` to `url` (through a temporary file renamed into place) and returns the
    /// file's SHA-256.
    static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [(String, String)], to url: URL) throws -> String {
        var header = "{"
        var offset = 0
        for (i, t) in tensors.enumerated() {
            let bytes = t.values.count * 4
            if i > 0 { header += "," }
            header += PythonJSON.quoted(t.name) + ":{\"dtype\":\"F32\",\"shape\":["
                + t.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        if !metadata.isEmpty {
            header += (tensors.isEmpty ? "" : ",") + "\"__metadata__\":{"
                + metadata.map { PythonJSON.quoted($0.0) + ":" + PythonJSON.quoted($0.1) }.joined(separator: ",") + "}"
        }
        header += "}"
        var head = Array(header.utf8)
        head += [UInt8](repeating: 0x20, count: (8 - head.count % 8) % 8)

        var file = [UInt8](repeating: 0, count: 8 + head.count + offset)
        file.withUnsafeMutableBytes { out in
            out.storeBytes(of: UInt64(head.count).littleEndian, toByteOffset: 0, as: UInt64.self)
            head.withUnsafeBytes { out.baseAddress!.advanced(by: 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            var at = 8 + head.count
            for t in tensors {
                for x in t.values {
                    out.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: at, as: UInt32.self)
                    at += 4
                }
            }
        }
        let digest = file.withUnsafeBytes { SHA256.hex($0) }
        let tmp = url.appendingPathExtension("tmp")
        try Data(file).write(to: tmp)
        guard rename(tmp.path, url.path) == 0 else {
            throw CheckpointError(.invalid, "cannot move \(tmp.path) to \(url.path): \(String(cString: strerror(errno)))")
        }
        return digest
    }
}
