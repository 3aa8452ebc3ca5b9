import Foundation

/// The result of `COCOEvaluator.evaluate()`: pycocotools' `COCOeval.eval` arrays and the
/// `summarize()` numbers derived from them.
///
/// Array layout is numpy's C order over the dimensions T (IoU thresholds), R (recall points),
/// K (categories, or 1 across categories), A (area ranges), M (detection limits), in the order
/// of `parameters`. Entries are -1 where a category has no ground truth that counts.
public struct COCOEvaluation: Sendable {
    /// The settings used, with `imageIDs` and `categoryIDs` filled in and `maxDetections`
    /// sorted.
    public let parameters: COCOEvalParameters
    /// Interpolated precision, `[T][R][K][A][M]`.
    public let precision: [Double]
    /// Highest recall reached, `[T][K][A][M]`.
    public let recall: [Double]
    /// Score of the detection at which each precision point is read, `[T][R][K][A][M]`.
    public let scores: [Double]

    private var T: Int { parameters.iouThresholds.count }
    private var R: Int { parameters.recallThresholds.count }
    private var K: Int { recall.count / max(T * A * M, 1) }
    private var A: Int { parameters.areaRanges.count }
    private var M: Int { parameters.maxDetections.count }

    /// Precision at IoU threshold `t`, recall point `r`, category row `k`, area range `a` and
    /// detection limit `m` (indices into the arrays of `parameters`).
    public func precision(iou t: Int, recall r: Int, category k: Int, area a: Int, maxDetections m: Int) -> Double {
        precision[(((t * R + r) * K + k) * A + a) * M + m]
    }

    /// Highest recall at IoU threshold `t`, category row `k`, area range `a`, detection limit `m`.
    public func recall(iou t: Int, category k: Int, area a: Int, maxDetections m: Int) -> Double {
        recall[((t * K + k) * A + a) * M + m]
    }

    /// One summary number, as `COCOeval.summarize`'s inner `_summarize`: the mean of the defined
    /// (> -1) precision values (`averagePrecision`) or recall values over every IoU threshold
    /// (or only the one equal to `iouThreshold`), recall point and category, for the area range
    /// labelled `areaRange` and the limit `maxDetections`. -1 when nothing is defined.
    public func summarize(averagePrecision: Bool, iouThreshold: Double? = nil,
                          areaRange: String = "all", maxDetections: Int = 100) -> Double {
        guard let a = parameters.areaRanges.firstIndex(where: { $0.label == areaRange }),
              let m = parameters.maxDetections.firstIndex(of: maxDetections) else { return -1 }
        // Exact comparison, as np.where(iouThr == p.iouThrs).
        let thresholds = iouThreshold.map { value in (0..<T).filter { parameters.iouThresholds[$0] == value } }
            ?? Array(0..<T)
        var defined: [Double] = []
        for t in thresholds {
            if averagePrecision {
                for r in 0..<R {
                    for k in 0..<K {
                        let value = precision(iou: t, recall: r, category: k, area: a, maxDetections: m)
                        if value > -1 { defined.append(value) }
                    }
                }
            } else {
                for k in 0..<K {
                    let value = recall(iou: t, category: k, area: a, maxDetections: m)
                    if value > -1 { defined.append(value) }
                }
            }
        }
        return defined.isEmpty ? -1 : numpyMean(defined)
    }

    /// The standard summary numbers (`COCOeval.stats` after `summarize()`): the 12 detection
    /// numbers for boxes and masks, using the first, second and third detection limits as
    /// pycocotools does; the 10 keypoint numbers for keypoints, at the largest detection limit
    /// (20 by default, which pycocotools hard-codes). `COCOStats.Kind` lists the order.
    public var stats: COCOStats {
        let kind: COCOStats.Kind = parameters.iouType == .keypoints ? .keypoints : .detection
        return COCOStats(kind: kind, values: summaryRows.map {
            summarize(averagePrecision: $0.averagePrecision, iouThreshold: $0.iouThreshold,
                      areaRange: $0.areaRange, maxDetections: $0.maxDetections)
        })
    }

    /// The lines `COCOeval.summarize()` prints (12 for boxes and masks, 10 for keypoints),
    /// character for character.
    public var summary: String {
        let thresholds = parameters.iouThresholds
        let range = String(format: "%0.2f:%0.2f", thresholds.first ?? 0, thresholds.last ?? 0)
        func pad(_ text: String, _ width: Int, left: Bool) -> String {
            let fill = String(repeating: " ", count: max(width - text.count, 0))
            return left ? text + fill : fill + text
        }
        // ' {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = {:0.3f}'
        return zip(summaryRows, stats.values).map { row, value in
            let title = pad(row.averagePrecision ? "Average Precision" : "Average Recall", 18, left: true)
            let kind = row.averagePrecision ? "(AP)" : "(AR)"
            let iou = row.iouThreshold.map { String(format: "%0.2f", $0) } ?? range
            return " \(title) \(kind) @[ IoU=\(pad(iou, 9, left: true)) | area=\(pad(row.areaRange, 6, left: false))"
                + " | maxDets=\(pad(String(row.maxDetections), 3, left: false)) ] = \(String(format: "%0.3f", value))"
        }.joined(separator: "\n")
    }

    /// The `_summarize` calls of `_summarizeDets` or `_summarizeKps`, in `stats` order.
    private var summaryRows: [(averagePrecision: Bool, iouThreshold: Double?, areaRange: String, maxDetections: Int)] {
        let limits = parameters.maxDetections
        if parameters.iouType == .keypoints {
            let most = limits.last ?? 20
            return [
                (true, nil, "all", most), (true, 0.5, "all", most), (true, 0.75, "all", most),
                (true, nil, "medium", most), (true, nil, "large", most),
                (false, nil, "all", most), (false, 0.5, "all", most), (false, 0.75, "all", most),
                (false, nil, "medium", most), (false, nil, "large", most),
            ]
        }
        precondition(limits.count >= 3, "the standard summary needs three detection limits")
        let most = limits[2]
        return [
            (true, nil, "all", most), (true, 0.5, "all", most), (true, 0.75, "all", most),
            (true, nil, "small", most), (true, nil, "medium", most), (true, nil, "large", most),
            (false, nil, "all", limits[0]), (false, nil, "all", limits[1]), (false, nil, "all", most),
            (false, nil, "small", most), (false, nil, "medium", most), (false, nil, "large", most),
        ]
    }
}

/// `np.mean` of a 1-D float64 array, bit for bit: `numpySum` divided by the count.
func numpyMean(_ values: [Double]) -> Double {
    numpySum(values) / Double(values.count)
}

/// `np.sum` of a contiguous 1-D float64 array, bit for bit: numpy sums in blocks of 8192
/// elements (its buffer size), each block by pairwise summation.
func numpySum(_ values: [Double]) -> Double {
    var total = 0.0
    var start = 0
    while start < values.count {
        let end = min(start + 8192, values.count)
        total += values.withUnsafeBufferPointer { pairwiseSum(UnsafeBufferPointer(rebasing: $0[start..<end])) }
        start = end
    }
    return total
}

/// numpy's `pairwise_sum_DOUBLE`: 8 interleaved accumulators up to 128 values, halving above.
private func pairwiseSum(_ a: UnsafeBufferPointer<Double>) -> Double {
    let n = a.count
    if n < 8 {
        var sum = 0.0
        for value in a { sum += value }
        return sum
    }
    if n <= 128 {
        var r = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
        var i = 8
        while i < n - n % 8 {
            r.0 += a[i]; r.1 += a[i + 1]; r.2 += a[i + 2]; r.3 += a[i + 3]
            r.4 += a[i + 4]; r.5 += a[i + 5]; r.6 += a[i + 6]; r.7 += a[i + 7]
            i += 8
        }
        var sum = ((r.0 + r.1) + (r.2 + r.3)) + ((r.4 + r.5) + (r.6 + r.7))
        while i < n {
            sum += a[i]
            i += 1
        }
        return sum
    }
    var half = n / 2
    half -= half % 8
    return pairwiseSum(UnsafeBufferPointer(rebasing: a[0..<half]))
        + pairwiseSum(UnsafeBufferPointer(rebasing: a[half..<n]))
}
