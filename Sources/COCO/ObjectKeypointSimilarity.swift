import Foundation

/// Object keypoint similarity (OKS), the overlap measure of COCO keypoint evaluation: how close a
/// detection's keypoints are to a ground truth's, on a 0...1 scale like IoU. Computed as
/// pycocotools' `COCOeval.computeOks` computes it.
///
/// For ground-truth keypoints `(x_i, y_i, v_i)` with area `s²` (the annotation's `area`, not the
/// box's) and per-keypoint sigmas `σ_i`:
///
///     e_i = d_i² / (2σ_i)² / (s² + ε) / 2        OKS = mean of exp(-e_i) over labelled i (v_i > 0)
///
/// where `d_i` is the distance from the detection's keypoint `i` to the ground truth's, and `ε`
/// is `np.spacing(1)` (2.2e-16). A ground truth with no labelled keypoints instead measures `d_i`
/// to the ground truth's box enlarged to three times its width and height about its centre (0
/// inside it) and averages over every keypoint. The detection's third values (its keypoint
/// scores) are not used.
///
/// Stateless; callable from any thread.
public enum ObjectKeypointSimilarity {
    /// COCO's per-keypoint sigmas for its 17 person keypoints (nose, eyes, ears, shoulders,
    /// elbows, wrists, hips, knees, ankles), as pycocotools writes them: `[.26, .25, ...] / 10`.
    public static let cocoPersonSigmas: [Double] = [
        0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89,
    ].map { $0 / 10.0 }

    /// OKS between every detection and every ground truth, rows in `detections` order and
    /// columns in `groundTruths` order (`computeOks` takes the detections sorted by decreasing
    /// score and capped; the caller does that). Empty (0 x 0) when either side is empty.
    ///
    /// Crowd ground truths are measured like any other; `ImageEvaluation` treats them specially.
    ///
    /// - Throws: `COCOError.invalidParameters` unless every sigma is finite and positive,
    ///   `COCOError.missingField` for an annotation without keypoints (or a ground truth with no
    ///   labelled keypoints and no box), `COCOError.invalidKeypoints` for keypoints that are not
    ///   finite `(x, y, v)` triples, one per sigma.
    public static func matrix(detections: [COCOAnnotation], groundTruths: [COCOAnnotation],
                              sigmas: [Double]) throws -> IoUMatrix {
        if detections.isEmpty || groundTruths.isEmpty { return IoUMatrix(rows: 0, columns: 0) }
        try validate(sigmas: sigmas)
        let variances = sigmas.map { ($0 * 2) * ($0 * 2) }
        let dtKeypoints = try detections.map { try keypoints(of: $0, count: sigmas.count, role: "detection") }
        var result = IoUMatrix(rows: detections.count, columns: groundTruths.count)
        for (g, gt) in groundTruths.enumerated() {
            let gtKeypoints = try keypoints(of: gt, count: sigmas.count, role: "ground truth")
            let labelled = stride(from: 2, to: gtKeypoints.count, by: 3).contains { gtKeypoints[$0] > 0 }
            var box: COCOBox?
            if !labelled {
                guard let bbox = gt.bbox else { throw COCOError.missingField(annotationID: gt.id, field: "bbox") }
                box = bbox
            }
            for (d, dt) in dtKeypoints.enumerated() {
                result[d, g] = similarity(detection: dt, groundTruth: gtKeypoints, box: box, area: gt.area,
                                          variances: variances)
            }
        }
        return result
    }

    /// One OKS value; `box` is the ground truth's box when it has no labelled keypoints (then
    /// distances are measured to the enlarged box), nil otherwise.
    static func similarity(detection: [Double], groundTruth: [Double], box: COCOBox?, area: Double,
                           variances: [Double]) -> Double {
        // Same operation order as numpy's, so values agree to the last bit but for exp.
        let scale = area + Double.ulpOfOne  // np.spacing(1)
        var terms: [Double] = []
        terms.reserveCapacity(variances.count)
        for (k, variance) in variances.enumerated() {
            let xd = detection[3 * k], yd = detection[3 * k + 1]
            let dx: Double, dy: Double
            if let box {
                // The box enlarged by its own size on every side: [x - w, x + 2w] x [y - h, y + 2h].
                let x0 = box.x - box.width, x1 = box.x + box.width * 2
                let y0 = box.y - box.height, y1 = box.y + box.height * 2
                dx = Swift.max(0, x0 - xd) + Swift.max(0, xd - x1)
                dy = Swift.max(0, y0 - yd) + Swift.max(0, yd - y1)
            } else {
                if !(groundTruth[3 * k + 2] > 0) { continue }
                dx = xd - groundTruth[3 * k]
                dy = yd - groundTruth[3 * k + 1]
            }
            let e = (dx * dx + dy * dy) / variance / scale / 2
            terms.append(Foundation.exp(-e))
        }
        return numpySum(terms) / Double(terms.count)
    }

    /// What is wrong with a keypoints list, or nil when it is a list of finite triples.
    static func problem(with keypoints: [Double]) -> String? {
        if keypoints.count % 3 != 0 {
            return "keypoints must be (x, y, v) triples, but the list has \(keypoints.count) numbers"
        }
        if let index = keypoints.firstIndex(where: { !$0.isFinite }) {
            return "keypoints must be finite numbers, but value \(index) is \(keypoints[index])"
        }
        return nil
    }

    /// Refuses sigmas that would make OKS undefined.
    static func validate(sigmas: [Double]) throws {
        if sigmas.isEmpty { throw COCOError.invalidParameters("OKS needs at least one keypoint sigma") }
        if let bad = sigmas.first(where: { !($0.isFinite && $0 > 0) }) {
            throw COCOError.invalidParameters("OKS sigmas must be finite and positive, got \(bad)")
        }
    }

    /// The annotation's keypoints, checked to be `count` finite triples.
    private static func keypoints(of annotation: COCOAnnotation, count: Int, role: String) throws -> [Double] {
        guard let values = annotation.keypoints else {
            throw COCOError.missingField(annotationID: annotation.id, field: "keypoints")
        }
        if let problem = problem(with: values) {
            throw COCOError.invalidKeypoints(annotationID: annotation.id, reason: "\(role) \(problem)")
        }
        guard values.count == 3 * count else {
            throw COCOError.invalidKeypoints(annotationID: annotation.id, reason:
                "\(role) of category \(annotation.categoryID) has \(values.count / 3) keypoints, but there are "
                + "\(count) OKS sigmas (set COCOEvalParameters.keypointSigmasByCategory[\(annotation.categoryID)])")
        }
        return values
    }
}
