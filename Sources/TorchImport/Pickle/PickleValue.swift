/// A value the checkpoint unpickler builds. Only data: numbers, strings, containers, references to
/// allow-listed classes (inert, never called), and the tensors and storages `torch.save` writes.
///
/// Containers are reference types owned by a `PickleArena`, because a pickle may mutate a list or
/// dict after putting it in the memo (APPEND, SETITEMS) and may nest containers to any depth; the
/// arena takes every container apart iteratively when unpickling ends, so freeing a hostile,
/// million-deep chain never recurses.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit in `Int` (LONG1/LONG4), as little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    /// A class or function named by GLOBAL / STACK_GLOBAL that the reader allows (see `PickleGlobal`).
    case global(PickleGlobal)
    /// An instance of an allow-listed plain-data class (argparse.Namespace, torch.device, ...):
    /// recorded, never constructed.
    case object(PickleObject)
    case storage(StorageReference)
    case tensor(StoredTensor)

    /// A short name of the kind of value, for error messages (never the value itself).
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(g): return "reference to \(g.qualifiedName)"
        case let .object(o): return "\(o.type.qualifiedName) object"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }

    var intValue: Int? {
        switch self {
        case let .int(v): return v
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }

    var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// The elements of a tuple or list.
    var sequence: [PickleValue]? {
        switch self {
        case let .tuple(t): return t.items
        case let .list(l): return l.items
        default: return nil
        }
    }
}

/// A container the arena can empty without recursion.
protocol PickleContainer: AnyObject {
    func removeChildren()
}

final class PickleTuple: PickleContainer {
    private(set) var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    func removeChildren() { items = [] }
}

final class PickleList: PickleContainer {
    var items: [PickleValue] = []
    func removeChildren() { items = [] }
}

/// A dict or OrderedDict: keys in insertion order (a later SETITEM on the same key replaces the
/// value in place, as Python's dict does), plus the attributes a BUILD gave it (`_metadata` on a
/// state dict).
final class PickleDict: PickleContainer {
    private(set) var keys: [PickleValue] = []
    private(set) var values: [PickleValue] = []
    private var index: [DictKey: Int] = [:]
    var attributes: PickleDict?

    /// Keys the reader can compare: strings and integers (what state dicts and optimizer states use).
    enum DictKey: Hashable {
        case string(String)
        case int(Int)
        case other(Int)   // position: keys of other kinds never compare equal
    }

    var count: Int { keys.count }

    func set(_ key: PickleValue, _ value: PickleValue) {
        let k: DictKey
        switch key {
        case let .string(s): k = .string(s)
        case let .int(i): k = .int(i)
        default: k = .other(keys.count)
        }
        if let i = index[k] {
            values[i] = value
        } else {
            index[k] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    subscript(_ key: String) -> PickleValue? {
        guard let i = index[.string(key)] else { return nil }
        return values[i]
    }

    func removeChildren() {
        keys = []
        values = []
        index = [:]
        attributes = nil
    }
}

/// An instance of an allow-listed data class, as the pickle described it: the class, the
/// constructor arguments and the state a BUILD set. Nothing is constructed or called.
final class PickleObject: PickleContainer {
    let type: PickleGlobal
    private(set) var arguments: [PickleValue]
    var state: PickleValue?

    init(type: PickleGlobal, arguments: [PickleValue]) {
        self.type = type
        self.arguments = arguments
    }

    func removeChildren() {
        arguments = []
        state = nil
    }
}

/// Owns every container made while unpickling and takes them apart iteratively at the end.
final class PickleArena {
    private var containers: [PickleContainer] = []

    func adopt<C: PickleContainer>(_ container: C) -> C {
        containers.append(container)
        return container
    }

    func tearDown() {
        for c in containers { c.removeChildren() }
        containers = []
    }
}
