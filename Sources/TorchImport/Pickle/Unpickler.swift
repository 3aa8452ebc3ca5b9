/// A pickle reader for what `torch.save` writes (protocols 2 to 5, the opcodes a state dict, a
/// training checkpoint or the legacy format's headers use) that never runs code: GLOBALs resolve
/// only to the allow-list in `PickleGlobal`, REDUCE builds data for those and refuses everything
/// else, and persistent ids go to the caller's storage resolver.
///
/// Hostile input is bounded: every opcode consumes bytes, so time and memory are linear in the
/// pickle's length; lengths, memo indices and integer widths are checked before use; the memo is
/// a dictionary (a LONG_BINPUT index of 4e9 allocates nothing); containers live in an arena that is
/// taken apart iteratively (`PickleArena`). Errors name the opcode and its byte offset.
struct Unpickler {
    /// Turns a persistent id (the tuple `('storage', type, key, location, numel[, view])`) into a
    /// storage reference.
    typealias StorageResolver = (PickleValue) throws -> PickleValue

    private let bytes: UnsafeRawBufferPointer
    private var position: Int
    private let resolveStorage: StorageResolver
    private let arena: PickleArena
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    private init(bytes: UnsafeRawBufferPointer, start: Int, arena: PickleArena, resolveStorage: @escaping StorageResolver) {
        self.bytes = bytes
        self.position = start
        self.arena = arena
        self.resolveStorage = resolveStorage
    }

    /// Reads one pickle from `bytes` at `start` and hands the result to `extract` (which must copy
    /// out what it needs: the containers are emptied when this returns). Returns `extract`'s result
    /// and the offset just after the pickle's STOP.
    static func load<T>(
        _ bytes: UnsafeRawBufferPointer, start: Int = 0,
        resolveStorage: @escaping StorageResolver = { _ in throw CheckpointError(.corrupt, "a persistent id where none is expected") },
        extract: (PickleValue) throws -> T
    ) throws -> (value: T, end: Int) {
        let arena = PickleArena()
        defer { arena.tearDown() }
        var machine = Unpickler(bytes: bytes, start: start, arena: arena, resolveStorage: resolveStorage)
        let root = try machine.run()
        let value = try extract(root)
        machine.stack = []
        machine.memo = [:]
        return (value, machine.position)
    }

    // MARK: - reading bytes

    private func fail(_ kind: CheckpointError.Kind, _ opcode: UInt8, at offset: Int, _ why: String) -> CheckpointError {
        CheckpointError(kind, "pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset): \(why)")
    }

    private mutating func take(_ n: Int) throws -> Slice<UnsafeRawBufferPointer> {
        guard n >= 0, n <= bytes.count - position else {
            throw CheckpointError(.truncated, "the pickle ends at byte \(bytes.count) in the middle of an opcode's \(n)-byte argument at byte \(position) (truncated file)")
        }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    private mutating func length(_ n: Int) throws -> Int {
        let v = try uint(n)
        guard v <= UInt64(bytes.count - position) else {
            throw CheckpointError(.truncated, "a \(v)-byte string at byte \(position) runs past the end of the pickle (\(bytes.count) bytes; truncated or corrupt)")
        }
        return Int(v)
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0a), end - position <= 1024 else {
            throw CheckpointError(.corrupt, "a GLOBAL name at byte \(position) has no end of line within 1024 bytes")
        }
        defer { position = end + 1 }
        guard let s = String(validating: bytes[position..<end], as: UTF8.self) else {
            throw CheckpointError(.corrupt, "a GLOBAL name at byte \(position) is not UTF-8")
        }
        return s
    }

    private mutating func utf8(_ n: Int) throws -> String {
        let start = position
        let slice = try take(n)
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw CheckpointError(.corrupt, "the string at byte \(start) is not valid UTF-8")
        }
        return s
    }

    // MARK: - the stack

    private mutating func pop(_ op: UInt8, _ at: Int) throws -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else {
            throw fail(.corrupt, op, at: at, "the stack is empty")
        }
        return v
    }

    private mutating func popToMark(_ op: UInt8, _ at: Int) throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else {
            throw fail(.corrupt, op, at: at, "no MARK to pop to")
        }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func top(_ op: UInt8, _ at: Int) throws -> PickleValue {
        guard let v = stack.last, stack.count > (marks.last ?? 0) else {
            throw fail(.corrupt, op, at: at, "the stack is empty")
        }
        return v
    }

    // MARK: - the machine

    private mutating func run() throws -> PickleValue {
        while true {
            let at = position
            guard position < bytes.count else {
                throw CheckpointError(.truncated, "the pickle ends at byte \(bytes.count) without a STOP opcode (truncated file)")
            }
            let op = bytes[position]
            position += 1
            switch op {
            case 0x80: // PROTO
                let v = try uint(1)
                guard (2...5).contains(v) else { throw fail(.unsupported, op, at: at, "pickle protocol \(v) (torch.save writes 2 to 5)") }
            case 0x95: // FRAME (protocol 4+): a length hint only
                _ = try uint(8)
            case 0x2e: // STOP
                let v = try pop(op, at)
                guard stack.isEmpty, marks.isEmpty else { throw fail(.corrupt, op, at: at, "values left on the stack at STOP") }
                return v
            case 0x28: // MARK
                marks.append(stack.count)
            case 0x7d: // EMPTY_DICT
                stack.append(.dict(arena.adopt(PickleDict())))
            case 0x5d: // EMPTY_LIST
                stack.append(.list(arena.adopt(PickleList())))
            case 0x29: // EMPTY_TUPLE
                stack.append(.tuple(arena.adopt(PickleTuple([]))))
            case 0x74: // TUPLE
                let items = try popToMark(op, at)
                stack.append(.tuple(arena.adopt(PickleTuple(items))))
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let n = Int(op - 0x84)
                guard stack.count - (marks.last ?? 0) >= n else { throw fail(.corrupt, op, at: at, "fewer than \(n) values on the stack") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                stack.append(.tuple(arena.adopt(PickleTuple(items))))
            case 0x4e: stack.append(.none) // NONE
            case 0x88: stack.append(.bool(true)) // NEWTRUE
            case 0x89: stack.append(.bool(false)) // NEWFALSE
            case 0x4a: // BININT: signed 32-bit
                stack.append(.int(Int(Int32(bitPattern: UInt32(try uint(4))))))
            case 0x4b: stack.append(.int(Int(try uint(1)))) // BININT1
            case 0x4d: stack.append(.int(Int(try uint(2)))) // BININT2
            case 0x8a, 0x8b: // LONG1, LONG4: little-endian two's complement of n bytes
                let n = op == 0x8a ? Int(try uint(1)) : try length(4)
                guard n <= 1024 else { throw fail(.unsupported, op, at: at, "a \(n)-byte integer") }
                let digits = Array(try take(n))
                stack.append(Self.integer(digits))
            case 0x47: // BINFLOAT: big-endian double
                var v: UInt64 = 0
                for b in try take(8) { v = v << 8 | UInt64(b) }
                stack.append(.float(Double(bitPattern: v)))
            case 0x58: stack.append(.string(try utf8(try length(4)))) // BINUNICODE
            case 0x8c: stack.append(.string(try utf8(try length(1)))) // SHORT_BINUNICODE
            case 0x8d: stack.append(.string(try utf8(try length(8)))) // BINUNICODE8
            case 0x42: stack.append(.bytes(Array(try take(try length(4))))) // BINBYTES
            case 0x43: stack.append(.bytes(Array(try take(try length(1))))) // SHORT_BINBYTES
            case 0x8e: stack.append(.bytes(Array(try take(try length(8))))) // BINBYTES8
            case 0x54, 0x55: // BINSTRING, SHORT_BINSTRING (protocol-2 byte strings): read as text if UTF-8
                let raw = Array(try take(try length(op == 0x54 ? 4 : 1)))
                stack.append(String(validating: raw, as: UTF8.self).map { .string($0) } ?? .bytes(raw))
            case 0x71: memo[Int(try uint(1))] = try top(op, at) // BINPUT
            case 0x72: memo[Int(try uint(4))] = try top(op, at) // LONG_BINPUT
            case 0x94: memo[memo.count] = try top(op, at) // MEMOIZE
            case 0x68, 0x6a: // BINGET, LONG_BINGET
                let i = Int(try uint(op == 0x68 ? 1 : 4))
                guard let v = memo[i] else { throw fail(.corrupt, op, at: at, "memo entry \(i) was never stored") }
                stack.append(v)
            case 0x30: _ = try pop(op, at) // POP
            case 0x31: _ = try popToMark(op, at) // POP_MARK
            case 0x32: stack.append(try top(op, at)) // DUP
            case 0x61: // APPEND
                let v = try pop(op, at)
                try append([v], to: try top(op, at), op, at)
            case 0x65: // APPENDS
                let items = try popToMark(op, at)
                try append(items, to: try top(op, at), op, at)
            case 0x73: // SETITEM
                let v = try pop(op, at)
                let k = try pop(op, at)
                try setItems([k, v], in: try top(op, at), op, at)
            case 0x75: // SETITEMS
                let items = try popToMark(op, at)
                guard items.count % 2 == 0 else { throw fail(.corrupt, op, at: at, "an odd number of keys and values") }
                try setItems(items, in: try top(op, at), op, at)
            case 0x63: // GLOBAL "module\nname\n"
                let module = try line()
                let name = try line()
                stack.append(.global(try Self.global(module, name, op, at)))
            case 0x93: // STACK_GLOBAL
                let name = try pop(op, at), module = try pop(op, at)
                guard let m = module.stringValue, let n = name.stringValue else {
                    throw fail(.corrupt, op, at: at, "module and name are not strings")
                }
                stack.append(.global(try Self.global(m, n, op, at)))
            case 0x52: // REDUCE
                let args = try pop(op, at)
                let callable = try pop(op, at)
                stack.append(try reduce(callable, args, op, at))
            case 0x81: // NEWOBJ
                let args = try pop(op, at)
                let cls = try pop(op, at)
                stack.append(try reduce(cls, args, op, at))
            case 0x92: // NEWOBJ_EX: keyword arguments are not used by anything allow-listed
                _ = try pop(op, at)
                let args = try pop(op, at)
                let cls = try pop(op, at)
                stack.append(try reduce(cls, args, op, at))
            case 0x8f: // EMPTY_SET (protocol 4): an inert record, contents not needed
                stack.append(.object(arena.adopt(PickleObject(type: .dataClass(module: "builtins", name: "set"), arguments: []))))
            case 0x90: // ADDITEMS
                _ = try popToMark(op, at)
                let target = try top(op, at)
                guard case let .object(o) = target, o.type == .dataClass(module: "builtins", name: "set") else {
                    throw fail(.corrupt, op, at: at, "ADDITEMS to a \(target.kind)")
                }
            case 0x91: // FROZENSET
                _ = try popToMark(op, at)
                stack.append(.object(arena.adopt(PickleObject(type: .dataClass(module: "builtins", name: "frozenset"), arguments: []))))
            case 0x62: // BUILD
                let state = try pop(op, at)
                try build(try top(op, at), state: state, op, at)
            case 0x51: // BINPERSID
                let pid = try pop(op, at)
                stack.append(try resolveStorage(pid))
            default:
                throw fail(.refused, op, at: at, "not an opcode torch.save writes for tensors and containers (refused)")
            }
        }
    }

    private static func global(_ module: String, _ name: String, _ op: UInt8, _ at: Int) throws -> PickleGlobal {
        guard let g = PickleGlobal.resolve(module: module, name: name) else {
            throw CheckpointError(.refused, "the pickle names \(module).\(name) (GLOBAL at byte \(at)); a weights file holds only tensors and plain containers, so it is refused and nothing is run")
        }
        return g
    }

    /// The integer whose little-endian two's-complement bytes are `digits` (LONG1/LONG4).
    static func integer(_ digits: [UInt8]) -> PickleValue {
        if digits.isEmpty { return .int(0) }
        if digits.count <= 8 {
            var v: UInt64 = 0
            for (i, b) in digits.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
            if digits.count < 8, digits.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(digits.count)) }
            return .int(Int(Int64(bitPattern: v)))
        }
        return .bigInt(digits)
    }

    private func append(_ items: [PickleValue], to target: PickleValue, _ op: UInt8, _ at: Int) throws {
        switch target {
        case let .list(list): list.items.append(contentsOf: items)
        case let .object(o) where o.type == .dataClass(module: "builtins", name: "set"):
            break // a set's ADDITEMS-style fill: contents are not needed
        default: throw fail(.corrupt, op, at: at, "APPEND to a \(target.kind)")
        }
    }

    private func setItems(_ items: [PickleValue], in target: PickleValue, _ op: UInt8, _ at: Int) throws {
        guard case let .dict(dict) = target else { throw fail(.corrupt, op, at: at, "SETITEM on a \(target.kind)") }
        var i = 0
        while i < items.count {
            dict.set(items[i], items[i + 1])
            i += 2
        }
    }

    private func build(_ target: PickleValue, state: PickleValue, _ op: UInt8, _ at: Int) throws {
        switch target {
        case let .dict(dict):
            // An OrderedDict's instance attributes: a state dict's `_metadata` (module versions).
            guard case let .dict(attributes) = state else { throw fail(.corrupt, op, at: at, "BUILD of a dict with a \(state.kind) state") }
            dict.attributes = attributes
        case let .object(object):
            object.state = state
        default:
            throw fail(.refused, op, at: at, "BUILD (setting the state) of a \(target.kind) is not something torch.save writes")
        }
    }

    /// What a REDUCE / NEWOBJ of an allow-listed global describes, as data.
    private func reduce(_ callable: PickleValue, _ args: PickleValue, _ op: UInt8, _ at: Int) throws -> PickleValue {
        guard case let .global(g) = callable else {
            throw fail(.refused, op, at: at, "a call of a \(callable.kind) (only allow-listed classes are read, none is run)")
        }
        guard let arguments = args.sequence else { throw fail(.corrupt, op, at: at, "arguments are a \(args.kind), not a tuple") }
        switch g {
        case .orderedDict, .counter:
            let dict = arena.adopt(PickleDict())
            if let first = arguments.first {
                // OrderedDict([(k, v), ...]) or Counter({k: v}).
                switch first {
                case let .dict(source):
                    for (k, v) in zip(source.keys, source.values) { dict.set(k, v) }
                case let .list(pairs):
                    for pair in pairs.items {
                        guard let kv = pair.sequence, kv.count == 2 else { throw fail(.corrupt, op, at: at, "\(g.qualifiedName) item is not a pair") }
                        dict.set(kv[0], kv[1])
                    }
                default:
                    throw fail(.corrupt, op, at: at, "\(g.qualifiedName) of a \(first.kind)")
                }
            }
            return .dict(dict)
        case let .rebuildTensor(version):
            return .tensor(try Self.tensor(arguments, version: version, op, at))
        case .rebuildParameter:
            guard let data = arguments.first, case .tensor = data else { throw fail(.corrupt, op, at: at, "_rebuild_parameter without a tensor") }
            return data
        case .rebuildFromType:
            // (function, type, args, state): torch >= 2.0 writes this for tensor subclasses.
            guard arguments.count >= 3, case let .global(function) = arguments[0], case .rebuildTensor = function,
                  case let .global(type) = arguments[1], case .tensorType = type
            else { throw fail(.refused, op, at: at, "_rebuild_from_type_v2 of something other than a plain tensor or parameter") }
            return try reduce(arguments[0], arguments[2], op, at)
        case .size:
            guard arguments.count == 1, let dims = arguments[0].sequence else { throw fail(.corrupt, op, at: at, "torch.Size of a \(arguments.first?.kind ?? "nothing")") }
            return .tuple(arena.adopt(PickleTuple(dims)))
        case .dataClass:
            return .object(arena.adopt(PickleObject(type: g, arguments: arguments)))
        case .tensorType, .storageType, .dtype:
            throw fail(.refused, op, at: at, "a call of \(g.qualifiedName) is not something torch.save writes")
        }
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private static func tensor(_ a: [PickleValue], version: Int, _ op: UInt8, _ at: Int) throws -> StoredTensor {
        guard a.count >= 4, case let .storage(storage) = a[0] else {
            throw CheckpointError(.corrupt, "pickle opcode REDUCE at byte \(at): a tensor without a storage")
        }
        guard let offset = a[1].intValue, let size = a[2].sequence?.map(\.intValue), let stride = a[3].sequence?.map(\.intValue),
              size.allSatisfy({ $0 != nil }), stride.allSatisfy({ $0 != nil })
        else {
            throw CheckpointError(.corrupt, "pickle opcode REDUCE at byte \(at): a tensor's offset, size or stride is not integers")
        }
        do {
            return try StoredTensor(storage: storage, offset: offset, shape: size.map { $0! }, strides: stride.map { $0! })
        } catch let e as CheckpointError {
            throw CheckpointError(e.kind, "pickle opcode REDUCE at byte \(at): \(e.message)")
        }
    }
}
