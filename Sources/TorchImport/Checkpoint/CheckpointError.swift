/// Why a checkpoint could not be imported. Every message names the problem precisely enough for a
/// user to act on (the byte offset of a bad pickle opcode, the tensor whose bytes are missing, the
/// keys that do not match the architecture); none of them is ever a crash.
public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// The file ends early.
        case truncated
        /// The bytes contradict themselves (bad checksum, offsets outside the file, malformed pickle).
        case corrupt
        /// The pickle asks for something a weights file never needs (a function call, an unknown
        /// class): refused, never run.
        case refused
        /// A valid file the importer does not handle (compressed zip entries, a tar checkpoint).
        case unsupported
        /// A readable file whose contents do not fit (not a state dict, wrong architecture, hash).
        case invalid
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
