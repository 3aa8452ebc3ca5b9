import CKernels
import Foundation

/// SHA-256 (FIPS 180-4), used to check a weights file against the digest its config records.
public enum SHA256 {

    /// Lower-case hex digest of `bytes`.
    public static func hex(_ bytes: UnsafeRawBufferPointer, useExtensions: Bool = true) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        let n = bytes.count
        var tail = [UInt8](bytes[(n - n % 64)...])
        tail.append(0x80)
        while tail.count % 64 != 56 { tail.append(0) }
        let bits = UInt64(n) * 8
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        h.withUnsafeMutableBufferPointer { state in
            if n >= 64 {
                rcnn_sha256_blocks(state.baseAddress!, bytes.baseAddress!,
                                   n / 64, useExtensions ? 1 : 0)
            }
            tail.withUnsafeBufferPointer { t in
                rcnn_sha256_blocks(state.baseAddress!, t.baseAddress!, t.count / 64, useExtensions ? 1 : 0)
            }
        }
        return h.map { String(format: "%08x", $0) }.joined()
    }

    /// Whether this CPU's SHA extensions compute the digests (else portable C does).
    public static var usesExtensions: Bool { rcnn_sha256_has_extensions() != 0 }

    public static func hex(of url: URL) throws -> String {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        return data.withUnsafeBytes { hex($0) }
    }

}
