/// The compressed COCO RLE string (the `counts` string of a COCO `{"size", "counts"}` object).
///
/// Each count is written like LEB128 but with 5 data bits per character: the low 5 bits first,
/// bit `0x20` set when more characters follow, bit `0x10` of the last character the sign, and 48
/// added to make printable ASCII (`'0'...'o'`). From the fourth count on (index > 2, not >= 2:
/// pycocotools' `rleToString` quirk, reproduced), the value written is the difference to the count
/// two places earlier, which is small for smooth shapes.
extension RLE {
    /// The compressed `counts` string, byte-identical to pycocotools' `rleToString`.
    public var compressedCounts: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(counts.count * 2)
        for index in counts.indices {
            var x = Int64(counts[index])
            if index > 2 { x -= Int64(counts[index - 2]) }
            var more = true
            while more {
                var c = UInt8(truncatingIfNeeded: x & 0x1f)
                x >>= 5  // arithmetic shift, as C's `long >>= 5`
                more = (c & 0x10) != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                bytes.append(c + 48)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes a compressed `counts` string (pycocotools' `rleFrString`).
    ///
    /// - Throws: `COCOError.invalidRLEString` for a character outside `'0'...'o'`, a count longer
    ///   than 7 characters, or a string that ends in the middle of a count. pycocotools does not
    ///   check these and reads garbage instead.
    public init(compressedCounts string: String, height: Int, width: Int) throws {
        var counts: [UInt32] = []
        counts.reserveCapacity(string.utf8.count)
        var iterator = string.utf8.makeIterator()
        while var byte = iterator.next() {
            var x: Int64 = 0
            var k: Int64 = 0
            var more = true
            while more {
                guard byte >= 48, byte <= 111, k < 7 else {
                    throw COCOError.invalidRLEString(string)
                }
                let c = Int64(byte - 48)
                x |= (c & 0x1f) << (5 * k)
                more = (c & 0x20) != 0
                k += 1
                if !more && (c & 0x10) != 0 { x |= -1 << (5 * k) }
                if more {
                    guard let next = iterator.next() else { throw COCOError.invalidRLEString(string) }
                    byte = next
                }
            }
            if counts.count > 2 { x += Int64(counts[counts.count - 2]) }
            counts.append(UInt32(truncatingIfNeeded: x))
        }
        self.init(height: height, width: width, counts: counts)
    }
}
