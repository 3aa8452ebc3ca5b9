/// Errors from loading weights and configs; every case names the file and, where there is one, the
/// tensor.
public enum WeightsError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case corrupt(file: String, reason: String)
    case missingTensor(file: String, name: String)
    case shapeMismatch(file: String, name: String, expected: [Int], found: [Int])
    case dtypeMismatch(file: String, name: String, expected: String, found: String)
    case checksumMismatch(file: String, expected: String, found: String)
    case invalidConfig(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): return "\(file): cannot read: \(reason)"
        case let .corrupt(file, reason): return "\(file): not a valid safetensors file: \(reason)"
        case let .missingTensor(file, name): return "\(file): tensor '\(name)' is missing"
        case let .shapeMismatch(file, name, expected, found):
            return "\(file): tensor '\(name)' has shape \(found), expected \(expected)"
        case let .dtypeMismatch(file, name, expected, found):
            return "\(file): tensor '\(name)' has dtype \(found), expected \(expected)"
        case let .checksumMismatch(file, expected, found):
            return "\(file): SHA-256 is \(found), but the config expects \(expected)"
        case let .invalidConfig(file, reason): return "\(file): invalid model config: \(reason)"
        }
    }
}
