/// A binary mask in COCO run-length encoding.
///
/// Pixels are visited in column-major (Fortran) order, as COCO stores masks: down the first
/// column (`x = 0`, `y = 0..<height`), then down the second, and so on. `counts` alternates runs
/// of zeros and ones and always starts with a (possibly empty) run of zeros, so a mask whose first
/// pixel is set starts with `0`. For a well-formed RLE the counts sum to `height * width`.
///
/// Every operation reproduces pycocotools' `maskApi.c` (version 2.0.11) bit for bit, including
/// its handling of non-canonical counts (zero-length runs in the middle).
///
/// A value type; safe to share between threads.
public struct RLE: Sendable, Hashable {
    /// Mask height in pixels (rows).
    public var height: Int
    /// Mask width in pixels (columns).
    public var width: Int
    /// Alternating run lengths of 0s and 1s in column-major order, starting with 0s.
    public var counts: [UInt32]

    /// Wraps existing counts without checking them (pycocotools' `rleInit`).
    public init(height: Int, width: Int, counts: [UInt32]) {
        self.height = height
        self.width = width
        self.counts = counts
    }

    /// An all-zero mask: one run of `height * width` zeros.
    public static func zeros(height: Int, width: Int) -> RLE {
        RLE(height: height, width: width, counts: [UInt32(truncatingIfNeeded: height * width)])
    }

    /// Encodes a row-major `height x width` mask (`mask[y * width + x]`); any nonzero byte is
    /// foreground. Matches `pycocotools.mask.encode` of the same numpy array.
    public init(rowMajorMask mask: [UInt8], height: Int, width: Int) {
        precondition(mask.count == height * width, "mask has \(mask.count) values, expected \(height)x\(width)")
        var counts: [UInt32] = []
        var previous = false
        var run: UInt32 = 0
        for x in 0..<width {
            var index = x
            for _ in 0..<height {
                let value = mask[index] != 0
                if value != previous {
                    counts.append(run)
                    run = 0
                    previous = value
                }
                run += 1
                index += width
            }
        }
        counts.append(run)
        self.init(height: height, width: width, counts: counts)
    }

    /// Encodes a row-major `height x width` Boolean mask (`mask[y * width + x]`).
    public init(rowMajorMask mask: [Bool], height: Int, width: Int) {
        self.init(rowMajorMask: mask.map { $0 ? 1 : 0 }, height: height, width: width)
    }

    /// Encodes a column-major mask (`mask[x * height + y]`, the memory order of a Fortran-ordered
    /// numpy array); any nonzero byte is foreground (pycocotools' `rleEncode`).
    public init(columnMajorMask mask: [UInt8], height: Int, width: Int) {
        precondition(mask.count == height * width, "mask has \(mask.count) values, expected \(height)x\(width)")
        var counts: [UInt32] = []
        var previous = false
        var run: UInt32 = 0
        for byte in mask {
            let value = byte != 0
            if value != previous {
                counts.append(run)
                run = 0
                previous = value
            }
            run += 1
        }
        counts.append(run)
        self.init(height: height, width: width, counts: counts)
    }

    /// Decodes to a row-major `height x width` mask of 0/1 bytes (`mask[y * width + x]`).
    /// Returns nil when the counts run past `height * width` pixels (pycocotools raises
    /// "Invalid RLE mask representation"); pixels the counts do not reach stay 0.
    public func rowMajorMask() -> [UInt8]? {
        guard let columnMajor = columnMajorMask() else { return nil }
        var mask = [UInt8](repeating: 0, count: height * width)
        var index = 0
        for x in 0..<width {
            for y in 0..<height {
                mask[y * width + x] = columnMajor[index]
                index += 1
            }
        }
        return mask
    }

    /// Decodes to a column-major mask of 0/1 bytes (`mask[x * height + y]`), or nil when the
    /// counts run past `height * width` pixels (pycocotools' `rleDecode`).
    public func columnMajorMask() -> [UInt8]? {
        let total = height * width
        var mask = [UInt8](repeating: 0, count: total)
        var position = 0
        var value: UInt8 = 0
        for count in counts {
            let run = Int(count)
            if run > total - position { return nil }
            if value == 1 {
                for index in position..<(position + run) { mask[index] = 1 }
            }
            position += run
            value ^= 1
        }
        return mask
    }

    /// Number of foreground pixels: the sum of the odd-indexed runs (pycocotools' `rleArea`,
    /// which sums in `uint32`).
    public var area: Int {
        var sum: UInt32 = 0
        var index = 1
        while index < counts.count {
            sum &+= counts[index]
            index += 2
        }
        return Int(sum)
    }

    /// The tight pixel bounding box `[x, y, width, height]` of the foreground, all zeros for an
    /// empty mask (pycocotools' `rleToBbox`). A foreground run that wraps from one column into
    /// the next spans the full height.
    public var boundingBox: COCOBox {
        let h = UInt32(truncatingIfNeeded: height)
        let w = UInt32(truncatingIfNeeded: width)
        let m = (counts.count / 2) * 2
        if m == 0 || h == 0 { return COCOBox(x: 0, y: 0, width: 0, height: 0) }
        var xs = w, ys = h, xe: UInt32 = 0, ye: UInt32 = 0
        var cc: UInt32 = 0
        for j in 0..<m {
            let start = cc
            cc &+= counts[j]
            if j % 2 == 0 || counts[j] == 0 { continue }
            let yStart = start % h, xStart = (start - yStart) / h
            let last = cc &- 1
            let yEnd = last % h, xEnd = (last - yEnd) / h
            xs = min(xs, xStart)
            xe = max(xe, xEnd)
            if xStart < xEnd {
                ys = 0
                ye = h &- 1
            } else {
                ys = min(ys, yStart)
                ye = max(ye, yEnd)
            }
        }
        // uint arithmetic as in C: an all-zero-run RLE gives xe - xs + 1 wrapped.
        return COCOBox(x: Double(xs), y: Double(ys),
                       width: Double(xe &- xs &+ 1), height: Double(ye &- ys &+ 1))
    }
}
