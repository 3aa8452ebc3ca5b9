/// The entries of a zip archive as `torch.save` writes them (PyTorch's own writer: every entry
/// stored uncompressed, zip64 records once the archive passes 4 GiB). Reads the central directory,
/// checks every offset and size against the file before use, and checks an entry's CRC-32 when its
/// bytes are read, so a truncated or corrupted archive is reported as such.
struct ZipArchive {
    struct Entry {
        let name: String
        /// Absolute byte range of the entry's (uncompressed) data.
        let range: Range<Int>
        let crc32: UInt32
    }

    let entries: [Entry]
    private let byName: [String: Int]

    static func isZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4b && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    subscript(name: String) -> Entry? { byName[name].map { entries[$0] } }

    init(_ file: UnsafeRawBufferPointer) throws {
        let size = file.count
        func u16(_ at: Int) -> Int { Int(file[at]) | Int(file[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(file[at + $1]) << (8 * UInt32($1)) } }
        func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(file[at + $1]) << (8 * UInt64($1)) } }
        func int(_ v: UInt64, _ what: String) throws -> Int {
            guard v <= UInt64(size) else {
                throw CheckpointError(.truncated, "zip \(what) \(v) lies beyond the end of the file (\(size) bytes; truncated)")
            }
            return Int(v)
        }

        // The end-of-central-directory record: the last 22 bytes, or earlier if a comment follows.
        var eocd = -1
        var at = size - 22
        while at >= 0 && at >= size - 22 - 65_535 {
            if u32(at) == 0x0605_4b50 { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else {
            throw CheckpointError(.truncated, "the zip archive has no end-of-central-directory record (truncated file)")
        }
        var count = u16(eocd + 10)
        var directorySize = UInt64(u32(eocd + 12))
        var directoryOffset = UInt64(u32(eocd + 16))
        // Zip64: a locator just before the record points at the 64-bit end record.
        if eocd >= 20, u32(eocd - 20) == 0x0706_4b50 {
            let record = try int(u64(eocd - 12), "zip64 end record offset")
            guard record <= size - 56, u32(record) == 0x0606_4b50 else {
                throw CheckpointError(.corrupt, "the zip64 end-of-central-directory record is missing or damaged")
            }
            guard u64(record + 32) <= UInt64(size / 46) else {
                throw CheckpointError(.corrupt, "the zip64 directory claims \(u64(record + 32)) entries, more than the file can hold")
            }
            count = Int(u64(record + 32))
            directorySize = u64(record + 40)
            directoryOffset = u64(record + 48)
        }
        let start = try int(directoryOffset, "central directory offset")
        let length = try int(directorySize, "central directory size")
        guard length <= size - start else {
            throw CheckpointError(.truncated, "the zip central directory (\(length) bytes at \(start)) runs past the end of the file (truncated)")
        }

        var entries: [Entry] = []
        var byName: [String: Int] = [:]
        var p = start
        for i in 0..<count {
            guard p + 46 <= start + length, u32(p) == 0x0201_4b50 else {
                throw CheckpointError(.corrupt, "zip central directory entry \(i) at byte \(p) is damaged")
            }
            let method = u16(p + 10)
            let crc = u32(p + 16)
            var compressed = UInt64(u32(p + 20))
            var uncompressed = UInt64(u32(p + 24))
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var localOffset = UInt64(u32(p + 42))
            let next = p + 46 + nameLength + extraLength + commentLength
            guard next <= start + length else {
                throw CheckpointError(.corrupt, "zip central directory entry \(i) runs past the directory")
            }
            guard let name = String(validating: UnsafeRawBufferPointer(rebasing: file[(p + 46)..<(p + 46 + nameLength)]), as: UTF8.self) else {
                throw CheckpointError(.corrupt, "zip entry \(i) has a name that is not UTF-8")
            }
            // Zip64 extra field: the 64-bit values replace the 32-bit ones that are all ones.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), fieldLength = u16(e + 2)
                guard e + 4 + fieldLength <= extraEnd else { break }
                if id == 0x0001 {
                    var f = e + 4
                    func next64() -> UInt64? {
                        guard f + 8 <= e + 4 + fieldLength else { return nil }
                        defer { f += 8 }
                        return u64(f)
                    }
                    if uncompressed == 0xffff_ffff, let v = next64() { uncompressed = v }
                    if compressed == 0xffff_ffff, let v = next64() { compressed = v }
                    if localOffset == 0xffff_ffff, let v = next64() { localOffset = v }
                }
                e += 4 + fieldLength
            }
            guard method == 0 else {
                throw CheckpointError(.unsupported, "zip entry \(name) is compressed (method \(method)); torch.save stores entries uncompressed — re-save the checkpoint with torch.save")
            }
            guard compressed == uncompressed else {
                throw CheckpointError(.corrupt, "zip entry \(name) is stored but its sizes differ (\(compressed) vs \(uncompressed))")
            }
            let local = try int(localOffset, "offset of entry \(name)")
            guard local <= size - 30, u32(local) == 0x0403_4b50 else {
                throw CheckpointError(local > size - 30 ? .truncated : .corrupt, "the local header of zip entry \(name) at byte \(local) is missing or damaged")
            }
            let dataStart = local + 30 + u16(local + 26) + u16(local + 28)
            let dataLength = try int(uncompressed, "size of entry \(name)")
            guard dataStart <= size, dataLength <= size - dataStart else {
                throw CheckpointError(.truncated, "zip entry \(name) (\(dataLength) bytes at \(dataStart)) runs past the end of the file (\(size) bytes; truncated)")
            }
            byName[name] = entries.count
            entries.append(Entry(name: name, range: dataStart..<(dataStart + dataLength), crc32: crc))
            p = next
        }
        self.entries = entries
        self.byName = byName
    }

    /// The entry's bytes, after checking their CRC-32 against the directory's.
    static func verified(_ entry: Entry, in file: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer {
        let data = UnsafeRawBufferPointer(rebasing: file[entry.range])
        let crc = CRC32.checksum(data)
        guard crc == entry.crc32 else {
            throw CheckpointError(.corrupt, "zip entry \(entry.name): CRC-32 is \(hex(crc)), the directory says \(hex(entry.crc32)) (the file is corrupted)")
        }
        return data
    }

    private static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}

/// CRC-32 (the zip polynomial 0xEDB88320), slicing by 8 bytes.
enum CRC32 {
    private static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 {
            for k in 1..<8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xff)] }
        }
        return t
    }()

    static func checksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        let flat = tables.flatMap { $0 }
        return flat.withUnsafeBufferPointer { t -> UInt32 in
            var c: UInt32 = 0xffff_ffff
            var i = 0
            let n = data.count
            while i + 8 <= n {
                let lo = data.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
                let hi = data.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                c = t[7 * 256 + Int(lo & 0xff)] ^ t[6 * 256 + Int((lo >> 8) & 0xff)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xff)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xff)] ^ t[2 * 256 + Int((hi >> 8) & 0xff)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xff)] ^ t[0 * 256 + Int(hi >> 24)]
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(data[i])) & 0xff)] ^ (c >> 8)
                i += 1
            }
            return ~c
        }
    }
}
