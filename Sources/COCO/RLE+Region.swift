/// Encoding a mask that is zero outside one rectangle, from the rectangle's pixels alone.
extension RLE {
    /// The COCO RLE of an `imageHeight x imageWidth` mask that is zero everywhere except the
    /// rectangle `x ..< x + width`, `y ..< y + height`, whose pixels are `region` (row-major
    /// `width * height`, any nonzero byte is foreground). Equal, count for count, to
    /// `init(rowMajorMask:height:width:)` of the whole image (and so to `pycocotools.mask.encode`),
    /// without building it: the zeros above, below and beside the rectangle enter as whole runs, so
    /// time and memory follow the rectangle, not the image.
    ///
    /// The rectangle must lie inside the image (a programming error otherwise).
    public init(rowMajorRegion region: [UInt8], x: Int, y: Int, width: Int, height: Int,
                imageHeight: Int, imageWidth: Int) {
        precondition(x >= 0 && y >= 0 && width >= 0 && height >= 0 && x + width <= imageWidth
                     && y + height <= imageHeight && region.count == width * height,
                     "region \(x),\(y) \(width)x\(height) (\(region.count) bytes) outside \(imageWidth)x\(imageHeight)")
        var counts: [UInt32] = []
        var previous = false
        var run = 0
        // `n` pixels of `value` in column-major order: a new run starts when the value changes.
        func add(_ value: Bool, _ n: Int) {
            guard n > 0 else { return }
            if value != previous {
                counts.append(UInt32(truncatingIfNeeded: run))
                run = 0
                previous = value
            }
            run += n
        }
        // Columns left of the rectangle, then each of its columns (zeros above, its pixels, zeros
        // below), then the columns to its right.
        let below = imageHeight - y - height
        if width > 0 && height > 0 {
            add(false, x * imageHeight)
            region.withUnsafeBufferPointer { r in
                for column in 0..<width {
                    add(false, y)
                    var index = column
                    for _ in 0..<height {
                        add(r[index] != 0, 1)
                        index += width
                    }
                    add(false, below)
                }
            }
            add(false, (imageWidth - x - width) * imageHeight)
        } else {
            add(false, imageWidth * imageHeight)
        }
        counts.append(UInt32(truncatingIfNeeded: run))
        self.init(height: imageHeight, width: imageWidth, counts: counts)
    }
}
