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
/// Keypoint evaluation (OKS) is `iouType: .keypoints`; for keypoint sets other than COCO's 17
/// person keypoints, give the sigmas in the parameters:
///
/// ```swift
/// var parameters = COCOEvalParameters(iouType: .keypoints)
/// parameters.keypointSigmasByCategory[handID] = [0.025, 0.035, 0.035, 0.035, 0.035]
/// let result = try COCOEvaluator(groundTruth: gt, detections: dt, parameters: parameters).evaluate()
/// result.stats               // 10 numbers: AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl
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
        if p.iouType == .keypoints { try checkKeypointParameters(p) }
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
                let ious = try overlaps(dt: dtObjects, gt: gtObjects, dtIndices: dtIndices, in: dt,
                                        gtIndices: gtIndices, in: gt, category: k, parameters: p)
                let gtIgnored = try gtObjects.map { try isIgnored($0, type: p.iouType) }
                for (a, range) in p.areaRanges.enumerated() {
                    perArea[a].append(ImageEvaluation(gt: gtObjects, gtIgnored: gtIgnored, dt: dtObjects, ious: ious,
                                                      areaRange: range, iouThresholds: p.iouThresholds))
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

    /// `COCOeval.computeIoU` or `computeOks`: detections (sorted, capped) by ground truths (in
    /// order); empty when either side is empty. `category` is the row in `p.categoryIDs`.
    private func overlaps(dt: [COCOAnnotation], gt: [COCOAnnotation], dtIndices: [Int], in dts: Objects,
                          gtIndices: [Int], in gts: Objects, category k: Int,
                          parameters p: COCOEvalParameters) throws -> IoUMatrix {
        if dt.isEmpty || gt.isEmpty { return IoUMatrix(rows: 0, columns: 0) }
        let crowd = gt.map(\.isCrowd)
        switch p.iouType {
        case .bbox:
            return COCOBox.iou(try dtIndices.map { try dts.box($0) }, try gtIndices.map { try gts.box($0) },
                               isCrowd: crowd)
        case .segm:
            return RLE.iou(dtIndices.map { dts.masks[$0]! }, gtIndices.map { gts.masks[$0]! }, isCrowd: crowd)
        case .keypoints:
            // Keypoint evaluation is per category (checked in checkKeypointParameters).
            let sigmas = p.keypointSigmas(forCategory: (p.categoryIDs ?? [])[k])
            return try ObjectKeypointSimilarity.matrix(detections: dt, groundTruths: gt, sigmas: sigmas)
        }
    }

    /// Whether a ground truth is ignored before area ranges are applied (pycocotools'
    /// `_prepare`): crowd regions, and for keypoints also `num_keypoints` 0.
    private func isIgnored(_ gt: COCOAnnotation, type: COCOIoUType) throws -> Bool {
        guard type == .keypoints else { return gt.isCrowd }
        guard let count = gt.numKeypoints else {
            throw COCOError.missingField(annotationID: gt.id, field: "num_keypoints")
        }
        return count == 0 || gt.isCrowd
    }

    /// Refuses keypoint settings pycocotools would fail on or get wrong.
    ///
    /// Across categories (`useCategories` false) pycocotools' `computeOks` finds no ground truth
    /// (it looks them up under category -1) and matches nothing; and one category's keypoints
    /// cannot be compared with another's, so this is refused. Every evaluated category must have
    /// valid sigmas, as many as the keypoint names its ground-truth record lists.
    private func checkKeypointParameters(_ p: COCOEvalParameters) throws {
        guard p.useCategories else {
            throw COCOError.invalidParameters("keypoint evaluation compares keypoints within a category; "
                + "useCategories must be true")
        }
        var names: [Int: [String]] = [:]
        for category in groundTruth.categories { names[category.id] = category.keypoints }
        for id in p.categoryIDs ?? [] {
            let sigmas = p.keypointSigmas(forCategory: id)
            try ObjectKeypointSimilarity.validate(sigmas: sigmas)
            if let keypoints = names[id], !keypoints.isEmpty, keypoints.count != sigmas.count {
                throw COCOError.invalidParameters("category \(id) has \(keypoints.count) keypoints but "
                    + "\(sigmas.count) OKS sigmas; give its sigmas in keypointSigmasByCategory[\(id)]")
            }
        }
    }
}
