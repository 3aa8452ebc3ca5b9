/// Rasterizing polygons and boxes into masks exactly as pycocotools' `rleFrPoly` does.
///
/// The outline is traced at 5x resolution with integer points, the points where the traced
/// boundary crosses a pixel-centre column are kept, and each kept crossing starts or ends a run.
/// A pixel is set when its centre lies inside the polygon (with pycocotools' rounding), so
/// results differ slightly from other rasterizers; only this exact procedure reproduces COCO
/// areas and IoUs.
extension RLE {
    /// Rasterizes one polygon `[x0, y0, x1, y1, ...]` in pixel coordinates into a
    /// `height x width` mask (pycocotools' `rleFrPoly`, `mask.frPyObjects([polygon], h, w)`).
    /// A trailing odd value is ignored; fewer than two points give an empty mask.
    public init(polygon xy: [Double], height: Int, width: Int) {
        let scale = 5.0
        let k = xy.count / 2
        guard k > 0 else {
            self = .zeros(height: height, width: width)
            return
        }
        // Upsample and collect integer points densely along the whole boundary.
        var x = [Int](repeating: 0, count: k + 1), y = [Int](repeating: 0, count: k + 1)
        for j in 0..<k {
            x[j] = cInt(scale * xy[2 * j] + 0.5)
            y[j] = cInt(scale * xy[2 * j + 1] + 0.5)
        }
        x[k] = x[0]
        y[k] = y[0]
        var total = 0
        for j in 0..<k { total += Swift.max(abs(x[j] - x[j + 1]), abs(y[j] - y[j + 1])) + 1 }
        var u: [Int] = [], v: [Int] = []
        u.reserveCapacity(total)
        v.reserveCapacity(total)
        for j in 0..<k {
            var xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1]
            let dx = abs(xe - xs), dy = abs(ys - ye)
            let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
            if flip {
                swap(&xs, &xe)
                swap(&ys, &ye)
            }
            // 0/0 is NaN for a repeated vertex; its point is never used below (see cInt).
            let s = dx >= dy ? Double(ye - ys) / Double(dx) : Double(xe - xs) / Double(dy)
            if dx >= dy {
                for d in 0...dx {
                    let t = flip ? dx - d : d
                    u.append(t + xs)
                    v.append(cInt(Double(ys) + s * Double(t) + 0.5))
                }
            } else {
                for d in 0...dy {
                    let t = flip ? dy - d : d
                    v.append(t + ys)
                    u.append(cInt(Double(xs) + s * Double(t) + 0.5))
                }
            }
        }
        // Keep the points where the boundary crosses a pixel-centre column, downsampled.
        // `width - 1` is unsigned in C: a zero width compares against 2^64 - 1.
        let maxX = width == 0 ? Double(UInt64.max) : Double(width - 1)
        var starts: [UInt32] = []
        starts.reserveCapacity(u.count + 1)
        for j in 1..<Swift.max(u.count, 1) where u[j] != u[j - 1] {
            var xd = Double(u[j] < u[j - 1] ? u[j] : u[j] - 1)
            xd = (xd + 0.5) / scale - 0.5
            if xd.rounded(.down) != xd || xd < 0 || xd > maxX { continue }
            var yd = Double(v[j] < v[j - 1] ? v[j] : v[j - 1])
            yd = (yd + 0.5) / scale - 0.5
            if yd < 0 { yd = 0 } else if yd > Double(height) { yd = Double(height) }
            yd = yd.rounded(.up)
            // C: (uint)(x * (int)h + y) in 32-bit int arithmetic.
            starts.append(UInt32(truncatingIfNeeded: Int(xd) * height + Int(yd)))
        }
        // The crossings, sorted, are the run boundaries in column-major order.
        starts.append(UInt32(truncatingIfNeeded: height * width))
        starts.sort()
        var previous: UInt32 = 0
        for j in starts.indices {
            let t = starts[j]
            starts[j] = t &- previous
            previous = t
        }
        // Two crossings at the same pixel cancel: drop the empty run and join its neighbours.
        var counts: [UInt32] = [starts[0]]
        var j = 1
        while j < starts.count {
            if starts[j] > 0 {
                counts.append(starts[j])
                j += 1
            } else {
                j += 1
                if j < starts.count {
                    counts[counts.count - 1] &+= starts[j]
                    j += 1
                }
            }
        }
        self.init(height: height, width: width, counts: counts)
    }

    /// Rasterizes the parts of one object and unions them, as `COCO.annToRLE` does for a
    /// polygon segmentation (`merge(frPyObjects(polygons, h, w))`). No parts give an empty mask
    /// (pycocotools raises an error instead).
    public init(polygons: [[Double]], height: Int, width: Int) {
        if polygons.isEmpty {
            self = .zeros(height: height, width: width)
        } else {
            self = .merge(polygons.map { RLE(polygon: $0, height: height, width: width) })
        }
    }

    /// Rasterizes a box as the polygon through its four corners (pycocotools' `rleFrBbox`).
    public init(box: COCOBox, height: Int, width: Int) {
        let xs = box.x, xe = xs + box.width
        let ys = box.y, ye = ys + box.height
        self.init(polygon: [xs, ys, xs, ye, xe, ye, xe, ys], height: height, width: width)
    }
}

/// C's `(int)double` as compiled for x86-64 (`cvttsd2si`): truncation toward zero, and
/// `INT_MIN` for NaN or out-of-range values.
@inline(__always)
private func cInt(_ value: Double) -> Int {
    guard value > -2_147_483_649.0, value < 2_147_483_648.0 else { return Int(Int32.min) }
    return Int(value.rounded(.towardZero))
}
