extension COCOEvaluator {
    /// Builds the precision, recall and score arrays from per-image matches, one category and
    /// area range at a time (pycocotools' `COCOeval.accumulate`).
    struct Accumulator {
        private let p: COCOEvalParameters
        private let T: Int, R: Int, K: Int, A: Int, M: Int
        private var precision: [Double]
        private var recall: [Double]
        private var scores: [Double]

        /// `p` must be resolved (`COCOEvaluator.resolvedParameters()`).
        init(parameters p: COCOEvalParameters) {
            self.p = p
            T = p.iouThresholds.count
            R = p.recallThresholds.count
            K = p.useCategories ? (p.categoryIDs ?? []).count : 1
            A = p.areaRanges.count
            M = p.maxDetections.count
            precision = [Double](repeating: -1, count: T * R * K * A * M)
            recall = [Double](repeating: -1, count: T * K * A * M)
            scores = precision
        }

        /// Adds the evaluations of every image (nil where the image has neither ground truth nor
        /// detections), in image order, for category row `k` and area range `a`.
        mutating func add(_ images: [ImageEvaluation?], category k: Int, area a: Int) {
            let evaluated = images.compactMap { $0 }
            if evaluated.isEmpty { return }
            let regular = evaluated.reduce(0) { $0 + $1.regularGroundTruths }
            if regular == 0 { return }
            // All detections, in image order, stably sorted by decreasing score (np.argsort(
            // -scores, kind='mergesort')). A smaller detection limit keeps a prefix of each
            // image's list, and a stable sort of a subsequence is the same subsequence of the
            // sorted whole, so one sort serves every limit.
            var entries: [(score: Double, image: Int, rank: Int)] = []
            for (image, evaluation) in evaluated.enumerated() {
                for (rank, score) in evaluation.scores.enumerated() { entries.append((score, image, rank)) }
            }
            let sorted = entries.indices.sorted { lhs, rhs in
                let x = entries[lhs].score, y = entries[rhs].score
                return x != y ? x > y : lhs < rhs
            }.map { entries[$0] }

            let npig = Double(regular)
            for (m, maxDet) in p.maxDetections.enumerated() {
                let kept = sorted.filter { $0.rank < maxDet }
                let nd = kept.count
                var rc = [Double](repeating: 0, count: nd)
                var pr = [Double](repeating: 0, count: nd)
                for t in 0..<T {
                    var tp = 0.0, fp = 0.0
                    for (j, entry) in kept.enumerated() {
                        let evaluation = evaluated[entry.image]
                        let index = t * evaluation.scores.count + entry.rank
                        if !evaluation.ignored[index] {
                            if evaluation.matched[index] { tp += 1 } else { fp += 1 }
                        }
                        rc[j] = tp / npig
                        pr[j] = tp / (fp + tp + Double.ulpOfOne)  // np.spacing(1)
                    }
                    recall[((t * K + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1] : 0
                    // Make precision non-increasing from the right (the interpolated envelope).
                    if nd > 1 {
                        for i in stride(from: nd - 1, to: 0, by: -1) where pr[i] > pr[i - 1] { pr[i - 1] = pr[i] }
                    }
                    // Precision at the first detection reaching each recall point
                    // (np.searchsorted(rc, recThrs, side='left')); 0 from the first point past
                    // the highest recall on (pycocotools leaves the loop at the IndexError).
                    var reachable = true
                    for (r, threshold) in p.recallThresholds.enumerated() {
                        let index = (((t * R + r) * K + k) * A + a) * M + m
                        let position = reachable ? lowerBound(rc, threshold) : nd
                        reachable = position < nd
                        precision[index] = reachable ? pr[position] : 0
                        scores[index] = reachable ? kept[position].score : 0
                    }
                }
            }
        }

        /// The accumulated arrays.
        func result() -> COCOEvaluation {
            COCOEvaluation(parameters: p, precision: precision, recall: recall, scores: scores)
        }
    }
}

/// The first index whose value is not less than `value` in an ascending array.
private func lowerBound(_ values: [Double], _ value: Double) -> Int {
    var low = 0, high = values.count
    while low < high {
        let middle = (low + high) / 2
        if values[middle] < value { low = middle + 1 } else { high = middle }
    }
    return low
}
