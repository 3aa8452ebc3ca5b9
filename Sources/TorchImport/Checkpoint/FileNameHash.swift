import Detection
import Foundation

/// torchvision's (and torch.hub's) file-name convention: `NAME-<hex>.pth`, where the hex digits are
/// the start of the file's SHA-256. A download cut short or a file swapped under that name fails
/// the check before anything is imported.
enum FileNameHash {
    /// The hex prefix the file name claims (at least 8 hex digits before the extension), or nil.
    static func claimedPrefix(_ fileName: String) -> String? {
        guard let dot = fileName.lastIndex(of: "."), let dash = fileName[..<dot].lastIndex(of: "-") else { return nil }
        let hex = fileName[fileName.index(after: dash)..<dot]
        guard hex.count >= 8, hex.count <= 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return String(hex)
    }

    static func verify(_ url: URL) throws {
        guard let prefix = claimedPrefix(url.lastPathComponent) else { return }
        let digest: String
        do { digest = try SHA256.hex(of: url) } catch {
            throw CheckpointError(.invalid, "cannot read \(url.path): \(error.localizedDescription)")
        }
        guard digest.hasPrefix(prefix) else {
            throw CheckpointError(.invalid, "\(url.lastPathComponent): the name says its SHA-256 starts with \(prefix), but it is \(digest) (an incomplete download or a different file; --no-verify-hash skips this check)")
        }
    }
}
