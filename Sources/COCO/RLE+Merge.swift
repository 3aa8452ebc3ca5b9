/// Set operations and overlap on run-length encoded masks, walking the runs of two masks in step
/// without decoding them (pycocotools' `rleMerge` and `rleIou`).
extension RLE {
    /// The union (or, with `intersect`, the intersection) of masks of one size
    /// (pycocotools' `rleMerge`, `mask.merge(rles, intersect)`).
    ///
    /// No masks give an empty 0x0 RLE, one mask is returned as is, and a size mismatch gives a 0x0
    /// RLE with no counts, all as pycocotools does.
    public static func merge(_ masks: [RLE], intersect: Bool = false) -> RLE {
        guard let first = masks.first else { return RLE(height: 0, width: 0, counts: []) }
        if masks.count == 1 { return first }
        var height = first.height, width = first.width
        var merged = first.counts
        for other in masks.dropFirst() {
            if other.height != height || other.width != width {
                height = 0
                width = 0
                merged = []
                break
            }
            merged = mergeCounts(merged, other.counts, intersect: intersect)
        }
        return RLE(height: height, width: width, counts: merged)
    }

    /// One step of `rleMerge`: combines two count lists of the same mask size.
    private static func mergeCounts(_ a: [UInt32], _ b: [UInt32], intersect: Bool) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(a.count + b.count)
        var ca = a.first ?? 0, cb = b.first ?? 0
        var v = false, va = false, vb = false
        var ia = 1, ib = 1
        var cc: UInt32 = 0
        var ct: UInt32 = 1
        while ct > 0 {
            let c = min(ca, cb)
            cc &+= c
            ct = 0
            ca &-= c
            if ca == 0 && ia < a.count { ca = a[ia]; ia += 1; va.toggle() }
            ct &+= ca
            cb &-= c
            if cb == 0 && ib < b.count { cb = b[ib]; ib += 1; vb.toggle() }
            ct &+= cb
            let vp = v
            v = intersect ? (va && vb) : (va || vb)
            if v != vp || ct == 0 {
                out.append(cc)
                cc = 0
            }
        }
        return out
    }

    /// Number of pixels set in both masks and in either, counted run by run.
    /// The masks must have the same size.
    static func overlap(_ dt: RLE, _ gt: RLE) -> (intersection: UInt32, union: UInt32) {
        let a = dt.counts, b = gt.counts
        var ca = a.first ?? 0, cb = b.first ?? 0
        var va = false, vb = false
        var ia = 1, ib = 1
        var intersection: UInt32 = 0, union: UInt32 = 0
        var ct: UInt32 = 1
        while ct > 0 {
            let c = min(ca, cb)
            if va || vb {
                union &+= c
                if va && vb { intersection &+= c }
            }
            ct = 0
            ca &-= c
            if ca == 0 && ia < a.count { ca = a[ia]; ia += 1; va.toggle() }
            ct &+= ca
            cb &-= c
            if cb == 0 && ib < b.count { cb = b[ib]; ib += 1; vb.toggle() }
            ct &+= cb
        }
        return (intersection, union)
    }

    /// Intersection over union between every detection mask and every ground-truth mask
    /// (pycocotools' `rleIou`, `mask.iou(dts, gts, iscrowd)`).
    ///
    /// For a crowd ground truth the denominator is the detection's area instead of the union.
    /// Pairs whose bounding boxes do not overlap get 0 without looking at the runs, and pairs of
    /// different mask sizes get -1, both as in pycocotools.
    ///
    /// - Parameters:
    ///   - detections: the masks to score (rows of the result).
    ///   - groundTruths: the reference masks (columns of the result).
    ///   - isCrowd: one flag per ground truth.
    public static func iou(_ detections: [RLE], _ groundTruths: [RLE], isCrowd: [Bool]) -> IoUMatrix {
        precondition(isCrowd.count == groundTruths.count, "iou(isCrowd:) must have one flag per ground truth")
        var result = COCOBox.iou(detections.map(\.boundingBox), groundTruths.map(\.boundingBox), isCrowd: isCrowd)
        for g in groundTruths.indices {
            let gt = groundTruths[g]
            for d in detections.indices where result[d, g] > 0 {
                let dt = detections[d]
                if dt.height != gt.height || dt.width != gt.width {
                    result[d, g] = -1
                    continue
                }
                var (intersection, union) = overlap(dt, gt)
                if intersection == 0 {
                    union = 1
                } else if isCrowd[g] {
                    union = UInt32(truncatingIfNeeded: dt.area)
                }
                result[d, g] = Double(intersection) / Double(union)
            }
        }
        return result
    }
}
