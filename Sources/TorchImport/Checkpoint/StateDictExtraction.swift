/// Finds the state dict in an unpickled checkpoint, the way the Python converter does: the top-level
/// dict, or the dict under "model" (torchvision's reference training scripts) or "state_dict"; every
/// value must be a tensor. Also reads the per-module versions of `_metadata`, which decide whether
/// torchvision's legacy key names are upgraded.
struct StateDictExtraction {
    var tensors: [(name: String, tensor: StoredTensor)] = []
    var versions: [String: Int] = [:]
    /// Where the state dict was: "top level", "'model'", "'state_dict'".
    var location = "top level"

    init(_ root: PickleValue) throws {
        guard case var .dict(dict) = root else {
            throw CheckpointError(.invalid, "the checkpoint holds a \(root.kind), not a state dict (a dict of tensors) or a training checkpoint")
        }
        for key in ["model", "state_dict"] {
            if case let .dict(inner)? = dict[key] {
                dict = inner
                location = "'\(key)'"
                break
            }
        }
        guard dict.count > 0 else {
            throw CheckpointError(.invalid, "the checkpoint's state dict (\(location)) is empty")
        }
        var notTensors: [String] = []
        for (key, value) in zip(dict.keys, dict.values) {
            guard let name = key.stringValue else {
                throw CheckpointError(.invalid, "the state dict (\(location)) has a \(key.kind) key; state dict keys are strings")
            }
            guard case let .tensor(t) = value else {
                notTensors.append("\(name) (\(value.kind))")
                continue
            }
            tensors.append((name, t))
        }
        guard notTensors.isEmpty else {
            let more = notTensors.count > 5 ? " and \(notTensors.count - 5) more" : ""
            throw CheckpointError(.invalid, "the state dict (\(location)) has entries that are not tensors: \(notTensors.prefix(5).joined(separator: ", "))\(more)")
        }
        if case let .dict(metadata)? = dict.attributes?["_metadata"] {
            for (key, value) in zip(metadata.keys, metadata.values) {
                guard let module = key.stringValue, case let .dict(info) = value, let v = info["version"]?.intValue else { continue }
                versions[module] = v
            }
        }
    }
}
