/// The element types of PyTorch storages, as a checkpoint names them (`torch.FloatStorage`, ...).
enum TorchDType: String, CaseIterable, Sendable {
    case float32, float16, bfloat16, float64
    case int64, int32, int16, int8, uint8, bool

    init?(storageName: String) {
        guard let t = Self.allCases.first(where: { $0.storageName == storageName }) else { return nil }
        self = t
    }

    var storageName: String {
        switch self {
        case .float32: return "FloatStorage"
        case .float16: return "HalfStorage"
        case .bfloat16: return "BFloat16Storage"
        case .float64: return "DoubleStorage"
        case .int64: return "LongStorage"
        case .int32: return "IntStorage"
        case .int16: return "ShortStorage"
        case .int8: return "CharStorage"
        case .uint8: return "ByteStorage"
        case .bool: return "BoolStorage"
        }
    }

    var elementSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Floating-point types, which the importer converts to float32.
    var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: return true
        default: return false
        }
    }

    /// torch's name for the dtype, as in error messages (`torch.int64`).
    var torchName: String { "torch.\(rawValue)" }

    /// The dtype constants a pickle may name as `torch.<name>` (not callable).
    static let constantNames: Set<String> = [
        "float32", "float", "float16", "half", "bfloat16", "float64", "double",
        "int64", "long", "int32", "int", "int16", "short", "int8", "uint8", "bool",
    ]
}
