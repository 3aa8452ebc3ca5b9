/// The matching of one image's detections to its ground truths for one category and area
/// range at every IoU threshold (pycocotools' `COCOeval.evaluateImg`).
///
/// Greedy, in decreasing score: each detection takes the unmatched ground truth it overlaps
/// most (at least the threshold), preferring regular ground truths to ignored ones. Crowd
/// regions can absorb any number of detections (also in keypoint evaluation). Detections matched to an ignored ground truth,
/// and unmatched detections outside the area range, are ignored: neither true nor false
/// positives.
struct ImageEvaluation {
    /// Detection scores, highest first (at most the largest detection limit).
    let scores: [Double]
    /// `matched[t * D + d]`: detection `d` matched a ground truth at threshold `t`.
    let matched: [Bool]
    /// `ignored[t * D + d]`: detection `d` does not count at threshold `t`.
    let ignored: [Bool]
    /// Ground truths that count (not crowd, inside the area range).
    let regularGroundTruths: Int

    /// - Parameters:
    ///   - gt: ground truths in dataset order.
    ///   - gtIgnored: whether each ground truth is ignored whatever its area (crowd regions;
    ///     for keypoints also `num_keypoints` 0).
    ///   - dt: detections sorted by decreasing score and capped.
    ///   - ious: `dt.count x gt.count` overlaps, or empty when either side is empty.
    init(gt: [COCOAnnotation], gtIgnored baseIgnored: [Bool], dt: [COCOAnnotation], ious: IoUMatrix,
         areaRange: COCOAreaRange, iouThresholds: [Double]) {
        func outside(_ area: Double) -> Bool { area < areaRange.lowerBound || area > areaRange.upperBound }
        // Ignored ground truths go last, otherwise in order (a stable sort on the flag).
        let gtIgnored = gt.indices.map { baseIgnored[$0] || outside(gt[$0].area) }
        let order = gt.indices.filter { !gtIgnored[$0] } + gt.indices.filter { gtIgnored[$0] }
        let isIgnored = order.map { gtIgnored[$0] }
        let isCrowd = order.map { gt[$0].isCrowd }
        let gtIDs = order.map { gt[$0].id }
        let G = gt.count, D = dt.count, T = iouThresholds.count
        // ious with columns in `order`, row-major.
        var iou = [Double](repeating: 0, count: D * G)
        if ious.rows > 0 && ious.columns > 0 {
            for d in 0..<D {
                for (g, column) in order.enumerated() { iou[d * G + g] = ious[d, column] }
            }
        }

        var matchedGT = [Int](repeating: 0, count: T * G)      // id of the matching detection, 0 if none
        var matchedDT = [Bool](repeating: false, count: T * D) // matching ground truth id != 0
        var ignored = [Bool](repeating: false, count: T * D)
        if ious.rows > 0 && ious.columns > 0 {
            for (t, threshold) in iouThresholds.enumerated() {
                for d in 0..<D {
                    var best = Swift.min(threshold, 1 - 1e-10)
                    var m = -1
                    for g in 0..<G {
                        // Already matched and not a crowd: taken.
                        if matchedGT[t * G + g] > 0 && !isCrowd[g] { continue }
                        // Matched a regular ground truth and only ignored ones remain: stop.
                        if m > -1 && !isIgnored[m] && isIgnored[g] { break }
                        if iou[d * G + g] < best { continue }
                        best = iou[d * G + g]
                        m = g
                    }
                    if m == -1 { continue }
                    ignored[t * D + d] = isIgnored[m]
                    // pycocotools stores the ids and later tests them for nonzero.
                    matchedDT[t * D + d] = gtIDs[m] != 0
                    matchedGT[t * G + m] = dt[d].id
                }
            }
        }
        // Unmatched detections outside the area range are ignored.
        for d in 0..<D where outside(dt[d].area) {
            for t in 0..<T where !matchedDT[t * D + d] { ignored[t * D + d] = true }
        }
        scores = dt.map { $0.score ?? 0 }
        matched = matchedDT
        self.ignored = ignored
        regularGroundTruths = isIgnored.filter { !$0 }.count
    }
}
