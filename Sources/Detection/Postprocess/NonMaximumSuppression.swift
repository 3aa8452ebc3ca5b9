/// Greedy non-maximum suppression with torchvision's semantics: boxes visited by descending score,
/// a box is dropped when its IoU with a kept box is strictly greater than the threshold.
public enum NonMaximumSuppression {
    /// Indices of kept boxes, by descending score. Ties in score keep the lower index first.
    public static func nms(_ boxes: [Box], scores: [Float], iouThreshold: Float) -> [Int] {
        precondition(boxes.count == scores.count)
        let order = boxes.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        return suppress(boxes, order: order, iouThreshold: iouThreshold)
    }

    static func suppress(_ boxes: [Box], order: [Int], iouThreshold: Float) -> [Int] {
        var suppressed = [Bool](repeating: false, count: boxes.count)
        var keep: [Int] = []
        let areas = boxes.map(\.area)
        for (oi, i) in order.enumerated() where !suppressed[i] {
            keep.append(i)
            let b = boxes[i]
            for j in order[(oi + 1)...] where !suppressed[j] {
                let o = boxes[j]
                let w = max(0, min(b.x2, o.x2) - max(b.x1, o.x1))
                let h = max(0, min(b.y2, o.y2) - max(b.y1, o.y1))
                let inter = w * h
                if inter / (areas[i] + areas[j] - inter) > iouThreshold { suppressed[j] = true }
            }
        }
        return keep
    }

    /// NMS within each group (class or pyramid level) independently; the kept indices of all groups,
    /// by descending score (torchvision `batched_nms`).
    ///
    /// Among equal scores the lower index comes first. (torchvision sorts the union with torch's
    /// unstable CPU sort, so its order among exactly equal scores is arbitrary; the kept set is the
    /// same.)
    public static func batched(_ boxes: [Box], scores: [Float], groups: [Int], iouThreshold: Float) -> [Int] {
        precondition(boxes.count == scores.count && boxes.count == groups.count)
        var byGroup: [Int: [Int]] = [:]
        for i in boxes.indices { byGroup[groups[i], default: []].append(i) }
        var keep: [Int] = []
        for (_, members) in byGroup {
            let order = members.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            keep += suppress(boxes, order: order, iouThreshold: iouThreshold)
        }
        keep.sort { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        return keep
    }
}
