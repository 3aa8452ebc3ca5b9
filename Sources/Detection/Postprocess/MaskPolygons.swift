/// Polygons for a binary mask: the outer boundary of each 8-connected component, traced with Moore
/// neighbour tracing (Jacob's stopping criterion) through boundary pixel centres, with collinear
/// points removed. Holes are not represented (COCO polygons cannot express them). Components too
/// small to trace (one pixel wide in both directions) become the square around their pixels.
public enum MaskPolygons {
    /// Polygons of a box-local mask in whole-image pixel coordinates. Traced over the stored
    /// rectangle alone: every pixel outside it is 0, so the components, their raster order and their
    /// boundaries are those of the whole-image mask, shifted by the rectangle's origin.
    public static func polygons(_ mask: BoxMask) -> [[Double]] {
        let dx = Double(mask.x0), dy = Double(mask.y0)
        return polygons(mask.bits, width: mask.width, height: mask.height).map { poly in
            poly.enumerated().map { $0.offset % 2 == 0 ? $0.element + dx : $0.element + dy }
        }
    }

    /// `mask` is row-major `height * width`, non-zero inside. Each polygon is `[x0, y0, x1, y1, ...]`
    /// in pixel coordinates (pixel `(x, y)` has its centre at `(x + 0.5, y + 0.5)`).
    public static func polygons(_ mask: [UInt8], width: Int, height: Int) -> [[Double]] {
        precondition(mask.count == width * height)
        var label = [Int32](repeating: 0, count: mask.count)
        var result: [[Double]] = []
        var next: Int32 = 0
        var stack: [Int] = []
        for start in 0..<mask.count where mask[start] != 0 && label[start] == 0 {
            next += 1
            // Label the component (so it is traced once) and find its extent.
            label[start] = next
            stack.append(start)
            var minX = width, maxX = -1, minY = height, maxY = -1
            while let p = stack.popLast() {
                let x = p % width, y = p / width
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
                for dy in -1...1 { for dx in -1...1 where dx != 0 || dy != 0 {
                    let nx = x + dx, ny = y + dy
                    guard nx >= 0, nx < width, ny >= 0, ny < height else { continue }
                    let q = ny * width + nx
                    if mask[q] != 0 && label[q] == 0 { label[q] = next; stack.append(q) }
                }}
            }
            let contour = trace(mask, width: width, height: height, start: (start % width, start / width))
            if contour.count >= 3 && maxX > minX && maxY > minY {
                result.append(contour.flatMap { [Double($0.0) + 0.5, Double($0.1) + 0.5] })
            } else {
                let x0 = Double(minX), y0 = Double(minY), x1 = Double(maxX + 1), y1 = Double(maxY + 1)
                result.append([x0, y0, x1, y0, x1, y1, x0, y1])
            }
        }
        return result
    }

    // Clockwise on screen (y down): E, SE, S, SW, W, NW, N, NE.
    private static let dirs = [(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)]

    /// Boundary pixels of the component whose first pixel in raster order is `start`, with
    /// collinear runs reduced to their end points.
    static func trace(_ mask: [UInt8], width: Int, height: Int, start: (Int, Int)) -> [(Int, Int)] {
        func inside(_ x: Int, _ y: Int) -> Bool { x >= 0 && x < width && y >= 0 && y < height && mask[y * width + x] != 0 }
        var points: [(Int, Int)] = [start]
        var moves: [Int] = []
        var p = start
        var dir = 0            // as if we had entered `start` moving east
        var firstMove: Int?
        let limit = 4 * width * height + 8
        for _ in 0..<limit {
            var found: Int?
            for k in 0..<8 {
                let d = (dir + 6 + k) % 8
                if inside(p.0 + dirs[d].0, p.1 + dirs[d].1) { found = d; break }
            }
            guard let d = found else { break }           // an isolated pixel
            if p == start, let f = firstMove, d == f, moves.count > 0 { break }
            if firstMove == nil { firstMove = d }
            p = (p.0 + dirs[d].0, p.1 + dirs[d].1)
            dir = d
            moves.append(d)
            points.append(p)
        }
        if points.count > 1, points.last! == start { points.removeLast() }
        // Keep only the points where the direction changes.
        guard moves.count == points.count, points.count > 2 else { return points }
        var out: [(Int, Int)] = []
        for i in points.indices where moves[i] != moves[(i + 1) % moves.count] { out.append(points[(i + 1) % points.count]) }
        return out.isEmpty ? points : out
    }
}
