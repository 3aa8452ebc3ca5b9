import Foundation
import Imaging

/// A segmentation: one label per pixel, labels `0..<count`, numbered in order of each segment's
/// first pixel in raster order (row by row, top to bottom), as `skimage.segmentation.felzenszwalb`
/// numbers them.
public struct FelzenszwalbLabelMap: Sendable {
    public let width: Int
    public let height: Int
    /// `height * width` labels, row-major.
    public let labels: [Int32]
    /// Number of segments.
    public let count: Int
}

/// Felzenszwalb & Huttenlocher's graph-based segmentation (IJCV 2004), with the semantics of
/// `skimage.segmentation.felzenszwalb(image, scale, sigma, min_size)` (scikit-image 0.24) for
/// 8-bit multi-channel input:
///
/// 1. each channel is smoothed by a Gaussian of `sigma` (scipy "reflect" borders, truncate 4);
/// 2. an 8-connected grid graph is built whose edge weight is the Euclidean distance between the
///    two pixels' channel vectors;
/// 3. edges are visited by increasing weight; components `A`, `B` merge when
///    `w < min(Int(A) + scale / |A|, Int(B) + scale / |B|)`, `Int` being the largest edge weight
///    inside a component (the last merging weight, as in the reference);
/// 4. a post-pass, again in weight order, merges any edge whose ends lie in components smaller
///    than `minSize` pixels.
///
/// Values are on the 0...255 scale and `scale` is in the same units, which is what skimage's
/// `scale / 255` on `img_as_float` input amounts to. Ties between equal weights are broken by a
/// stable sort (skimage's quicksort order is unspecified), so label maps agree up to such ties.
///
/// Stateless and `Sendable`; `segment` may be called from any thread.
public struct FelzenszwalbSegmentation: Sendable {
    /// The paper's `k`: larger means larger segments.
    public var scale: Float
    /// Standard deviation of the pre-smoothing Gaussian, in pixels.
    public var sigma: Float
    /// Smallest segment size in pixels, enforced by the post-pass.
    public var minSize: Int

    public init(scale: Float = 1, sigma: Float = 0.8, minSize: Int = 20) {
        self.scale = scale
        self.sigma = sigma
        self.minSize = minSize
    }

    /// Segments an RGB8 image (Euclidean RGB distances).
    public func segment(_ image: RGBImage) -> FelzenszwalbLabelMap {
        segment(SelectiveSearchPlanarImage(image))
    }

    /// Segments any planar image (values on the 0...255 scale).
    public func segment(_ image: SelectiveSearchPlanarImage) -> FelzenszwalbLabelMap {
        let width = image.width, height = image.height
        let n = width * height
        guard n > 0 else { return FelzenszwalbLabelMap(width: width, height: height, labels: [], count: 0) }
        let smooth = image.gaussianSmoothed(sigma: sigma)
        let (costs, ends) = Self.gridEdges(smooth)
        let order = Self.sortedOrder(costs)

        var parent = [Int32](0..<Int32(n))
        var size = [Int32](repeating: 1, count: n)
        var inner = [Float](repeating: 0, count: n)
        let k = scale
        let minSize = Int32(self.minSize)
        parent.withUnsafeMutableBufferPointer { parent in
            size.withUnsafeMutableBufferPointer { size in
                inner.withUnsafeMutableBufferPointer { inner in
                    order.withUnsafeBufferPointer { order in
                        ends.withUnsafeBufferPointer { ends in
                            costs.withUnsafeBufferPointer { costs in
                                for e in order {
                                    let e = Int(e)
                                    let a = Self.find(parent, ends[2 * e])
                                    let b = Self.find(parent, ends[2 * e + 1])
                                    if a == b { continue }
                                    let w = costs[e]
                                    let ta = inner[Int(a)] + k / Float(size[Int(a)])
                                    let tb = inner[Int(b)] + k / Float(size[Int(b)])
                                    if w < min(ta, tb) {
                                        let root = Self.union(parent, size, a, b)
                                        inner[Int(root)] = w
                                    }
                                }
                                if minSize > 1 {
                                    for e in order {
                                        let e = Int(e)
                                        let a = Self.find(parent, ends[2 * e])
                                        let b = Self.find(parent, ends[2 * e + 1])
                                        if a != b && (size[Int(a)] < minSize || size[Int(b)] < minSize) {
                                            _ = Self.union(parent, size, a, b)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        var labels = [Int32](repeating: 0, count: n)
        var labelOfRoot = [Int32](repeating: -1, count: n)
        var next: Int32 = 0
        parent.withUnsafeMutableBufferPointer { parent in
            for p in 0..<n {
                let r = Int(Self.find(parent, Int32(p)))
                if labelOfRoot[r] < 0 {
                    labelOfRoot[r] = next
                    next += 1
                }
                labels[p] = labelOfRoot[r]
            }
        }
        return FelzenszwalbLabelMap(width: width, height: height, labels: labels, count: Int(next))
    }

    @inline(__always)
    static func find(_ parent: UnsafeMutableBufferPointer<Int32>, _ x: Int32) -> Int32 {
        var x = x
        while parent[Int(x)] != x {
            let grand = parent[Int(parent[Int(x)])]
            parent[Int(x)] = grand  // path halving
            x = grand
        }
        return x
    }

    /// Joins two roots by size; returns the new root with the summed size.
    @inline(__always)
    static func union(_ parent: UnsafeMutableBufferPointer<Int32>, _ size: UnsafeMutableBufferPointer<Int32>,
                      _ a: Int32, _ b: Int32) -> Int32 {
        let (big, small) = size[Int(a)] >= size[Int(b)] ? (a, b) : (b, a)
        parent[Int(small)] = big
        size[Int(big)] += size[Int(small)]
        return big
    }

    /// The 8-connected grid graph in skimage's edge order (right, down, down-right, up-right):
    /// weights and flattened endpoint pairs.
    static func gridEdges(_ image: SelectiveSearchPlanarImage) -> ([Float], [Int32]) {
        let w = image.width, h = image.height, plane = w * h, channels = image.channels
        let count = h * (w - 1) + (h - 1) * w + 2 * (h - 1) * (w - 1)
        var costs = [Float](repeating: 0, count: count)
        var ends = [Int32](repeating: 0, count: 2 * count)
        // (dy, dx) from the first endpoint to the second; up-right starts one row down.
        let offsets: [(y0: Int, dy: Int, dx: Int, rows: Int, cols: Int)] = [
            (0, 0, 1, h, w - 1), (0, 1, 0, h - 1, w), (0, 1, 1, h - 1, w - 1), (1, -1, 1, h - 1, w - 1),
        ]
        image.values.withUnsafeBufferPointer { v in
            costs.withUnsafeMutableBufferPointer { costs in
                ends.withUnsafeMutableBufferPointer { ends in
                    var e = 0
                    for o in offsets where o.rows > 0 && o.cols > 0 {
                        for r in 0..<o.rows {
                            let y = r + o.y0
                            for x in 0..<o.cols {
                                let p = y * w + x
                                let q = (y + o.dy) * w + x + o.dx
                                var sum: Float = 0
                                for c in 0..<channels {
                                    let d = v[c * plane + p] - v[c * plane + q]
                                    sum += d * d
                                }
                                costs[e] = sum.squareRoot()
                                ends[2 * e] = Int32(p)
                                ends[2 * e + 1] = Int32(q)
                                e += 1
                            }
                        }
                    }
                }
            }
        }
        return (costs, ends)
    }

    /// Indices of `costs` in increasing order, ties in index order: an LSD radix sort on the
    /// IEEE bit patterns (monotone for non-negative floats), two 16-bit passes.
    static func sortedOrder(_ costs: [Float]) -> [Int32] {
        let n = costs.count
        var keys = costs.map { $0.bitPattern }
        var index = [Int32](0..<Int32(n))
        var keys2 = [UInt32](repeating: 0, count: n)
        var index2 = [Int32](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 65537)
        for shift in [UInt32(0), 16] {
            for i in counts.indices { counts[i] = 0 }
            keys.withUnsafeBufferPointer { k in
                counts.withUnsafeMutableBufferPointer { c in
                    for i in 0..<n { c[Int((k[i] >> shift) & 0xFFFF) + 1] += 1 }
                    for d in 1...65536 { c[d] += c[d - 1] }
                    index.withUnsafeBufferPointer { idx in
                        keys2.withUnsafeMutableBufferPointer { k2 in
                            index2.withUnsafeMutableBufferPointer { i2 in
                                for i in 0..<n {
                                    let d = Int((k[i] >> shift) & 0xFFFF)
                                    let at = c[d]
                                    c[d] = at + 1
                                    k2[at] = k[i]
                                    i2[at] = idx[i]
                                }
                            }
                        }
                    }
                }
            }
            swap(&keys, &keys2)
            swap(&index, &index2)
        }
        return index
    }
}
