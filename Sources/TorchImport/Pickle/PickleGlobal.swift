/// The classes and functions a checkpoint's pickle may name. `torch.save` of a state dict or a
/// training checkpoint names only these; any other GLOBAL (`os.system`, `builtins.eval`,
/// `subprocess.Popen`, a user's own class) is refused when it is read, before anything could use it.
/// Nothing here is ever called: each case says how the reader builds the *data* a REDUCE of it
/// describes.
enum PickleGlobal: Equatable {
    /// `collections.OrderedDict`: the container of every state dict.
    case orderedDict
    /// `collections.Counter` (MultiStepLR's milestones in a training checkpoint): read as a dict.
    case counter
    /// `torch._utils._rebuild_tensor_v2` (and the older `_rebuild_tensor`).
    case rebuildTensor(version: Int)
    /// `torch._utils._rebuild_parameter`: an `nn.Parameter` around a tensor.
    case rebuildParameter
    /// `torch._tensor._rebuild_from_type_v2`: a tensor subclass rebuilt by another function.
    case rebuildFromType
    /// `torch.Tensor` and `torch.nn.parameter.Parameter`, as arguments of `_rebuild_from_type_v2`.
    case tensorType(String)
    /// `torch.FloatStorage` and friends: the storage class in a persistent id.
    case storageType(TorchDType)
    /// `torch.float32` and other dtype constants (optimizer and AMP states may hold them).
    case dtype(String)
    /// `torch.Size`: a tuple.
    case size
    /// Plain-data classes a training script saves beside the weights (`argparse.Namespace`,
    /// `torch.device`, numpy scalars and dtypes, sets): kept as inert records.
    case dataClass(module: String, name: String)

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .counter: return "collections.Counter"
        case let .rebuildTensor(v): return v == 2 ? "torch._utils._rebuild_tensor_v2" : "torch._utils._rebuild_tensor"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case .rebuildFromType: return "torch._tensor._rebuild_from_type_v2"
        case let .tensorType(name): return name
        case let .storageType(t): return "torch.\(t.storageName)"
        case let .dtype(name): return "torch.\(name)"
        case .size: return "torch.Size"
        case let .dataClass(module, name): return "\(module).\(name)"
        }
    }

    /// The allow-listed global `module.name`, or nil when a checkpoint has no business naming it.
    static func resolve(module: String, name: String) -> PickleGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("collections", "Counter"): return .counter
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensor(version: 2)
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor(version: 1)
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._tensor", "_rebuild_from_type_v2"): return .rebuildFromType
        case ("torch", "Tensor"): return .tensorType("torch.Tensor")
        case ("torch.nn.parameter", "Parameter"): return .tensorType("torch.nn.parameter.Parameter")
        case ("torch", "Size"): return .size
        case ("argparse", "Namespace"), ("torch", "device"),
             ("numpy.core.multiarray", "scalar"), ("numpy", "dtype"),
             ("builtins", "set"), ("builtins", "frozenset"):
            return .dataClass(module: module, name: name)
        default:
            break
        }
        if module == "torch" {
            if let dtype = TorchDType(storageName: name) { return .storageType(dtype) }
            if TorchDType.constantNames.contains(name) { return .dtype(name) }
        }
        return nil
    }
}
