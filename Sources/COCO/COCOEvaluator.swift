/// COCO detection evaluation (AP and AR over IoU thresholds, area ranges and detection limits),
/// reproducing pycocotools' `COCOeval` (`evaluate`, `accumulate`, `summarize`) number for number.
///
/// ```swift
/// let gt = try COCODataset(contentsOf: instancesURL)
/// let dt = try gt.loadResults(contentsOf: resultsURL)
/// let result = try COCOEvaluator(groundTruth: gt, detections: dt, iouType: .bbox).evaluate()
/// print(result.summary)      // the 12 lines COCOeval.summarize() prints
/// result.stats.ap            // AP @[.50:.95], -1 when undefined
/// ```
///
/// A value type holding immutable datasets; `evaluate()` does not mutate it and may run on any
/// thread.
public struct COCOEvaluator: Sendable {
    /// The reference annotations.
    public let groundTruth: COCODataset
    /// The detections, normally from `groundTruth.loadResults(_:)` (which sets ids, areas and
    /// `score`). A detection without a score counts as score 0.
    public let detections: COCODataset
    /// The evaluation settings.
    public var parameters: COCOEvalParameters

    /// An evaluator with explicit settings.
    public init(groundTruth: COCODataset, detections: COCODataset, parameters: COCOEvalParameters) {
        self.groundTruth = groundTruth
        self.detections = detections
        self.parameters = parameters
    }

    /// An evaluator with pycocotools' default settings for the given overlap.
    public init(groundTruth: COCODataset, detections: COCODataset, iouType: COCOIoUType) {
        self.init(groundTruth: groundTruth, detections: detections,
                  parameters: COCOEvalParameters(iouType: iouType))
    }

    /// Matches detections to ground truth image by image and accumulates precision and recall.
    ///
    /// - Throws: `COCOError.missingField` when an annotation lacks the box or segmentation the
    ///   overlap needs, `COCOError.unknownImage` when an evaluated annotation's image is not in
    ///   the ground truth (only polygons need the image size).
    public func evaluate() throws -> COCOEvaluation {
        let p = resolvedParameters()
        let gt = try Objects(groundTruth, sizes: groundTruth, parameters: p)
        let dt = try Objects(detections, sizes: groundTruth, parameters: p)
        var accumulator = Accumulator(parameters: p)
        let imageCount = (p.imageIDs ?? []).count
        let categoryCount = p.useCategories ? (p.categoryIDs ?? []).count : 1
        let maxDetections = p.maxDetections.last!
        var perArea = [[ImageEvaluation?]](repeating: [], count: p.areaRanges.count)
        for k in 0..<categoryCount {
            for a in perArea.indices { perArea[a].removeAll(keepingCapacity: true) }
            for i in 0..<imageCount {
                let gtIndices = gt.members(category: k, image: i, parameters: p)
                var dtIndices = dt.members(category: k, image: i, parameters: p)
                if gtIndices.isEmpty && dtIndices.isEmpty {
                    for a in perArea.indices { perArea[a].append(nil) }
                    continue
                }
                // np.argsort(-scores, kind='mergesort'): stable, so ties keep file order.
                dtIndices = Array(stableSortedByScore(dtIndices, dt).prefix(maxDetections))
                let gtObjects = gtIndices.map { gt.annotation($0) }, dtObjects = dtIndices.map { dt.annotation($0) }
                let ious = try overlaps(dt: dtIndices, in: dt, gt: gtIndices, in: gt, type: p.iouType)
                for (a, range) in p.areaRanges.enumerated() {
                    perArea[a].append(ImageEvaluation(gt: gtObjects, dt: dtObjects, ious: ious, areaRange: range,
                                                      iouThresholds: p.iouThresholds))
                }
            }
            for a in perArea.indices { accumulator.add(perArea[a], category: k, area: a) }
        }
        return accumulator.result()
    }

    /// pycocotools' normalisation of `Params` at the start of `evaluate()`.
    func resolvedParameters() -> COCOEvalParameters {
        var p = parameters
        p.imageIDs = Array(Set(parameters.imageIDs ?? groundTruth.imageIDs)).sorted()
        let categories = parameters.categoryIDs ?? groundTruth.categoryIDs
        p.categoryIDs = p.useCategories ? Array(Set(categories)).sorted() : categories
        p.maxDetections = parameters.maxDetections.sorted()
        precondition(!p.maxDetections.isEmpty, "COCOEvalParameters.maxDetections must not be empty")
        return p
    }

    private func stableSortedByScore(_ indices: [Int], _ objects: Objects) -> [Int] {
        indices.enumerated().sorted { lhs, rhs in
            let a = objects.scores[lhs.element], b = objects.scores[rhs.element]
            return a != b ? a > b : lhs.offset < rhs.offset
        }.map(\.element)
    }

    /// `COCOeval.computeIoU`: detections (sorted, capped) by ground truths (in order); empty
    /// when either side is empty.
    private func overlaps(dt: [Int], in dts: Objects, gt: [Int], in gts: Objects,
                          type: COCOIoUType) throws -> IoUMatrix {
        if dt.isEmpty || gt.isEmpty { return IoUMatrix(rows: 0, columns: 0) }
        let crowd = gt.map { gts.annotation($0).isCrowd }
        switch type {
        case .bbox:
            return COCOBox.iou(try dt.map { try dts.box($0) }, try gt.map { try gts.box($0) }, isCrowd: crowd)
        case .segm:
            return RLE.iou(dt.map { dts.masks[$0]! }, gt.map { gts.masks[$0]! }, isCrowd: crowd)
        }
    }
}
