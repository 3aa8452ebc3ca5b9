/// What overlap the evaluation measures between a detection and a ground truth.
public enum COCOIoUType: String, Sendable, Hashable, Codable {
    /// Box IoU on `[x, y, width, height]` boxes.
    case bbox
    /// Mask IoU on run-length encoded masks (polygons are rasterized first).
    case segm
    /// Object keypoint similarity (OKS) on `(x, y, v)` keypoints, with per-keypoint sigmas
    /// (`COCOEvalParameters.keypointSigmas`).
    case keypoints
}

/// A named range of object areas in square pixels; an object is in it when
/// `lowerBound <= area <= upperBound` (both ends inclusive, as in pycocotools).
public struct COCOAreaRange: Sendable, Hashable {
    /// The name `summarize` refers to it by: "all", "small", "medium" or "large" by default.
    public var label: String
    /// Smallest area in the range.
    public var lowerBound: Double
    /// Largest area in the range.
    public var upperBound: Double

    /// A labelled area range.
    public init(label: String, lowerBound: Double, upperBound: Double) {
        self.label = label
        self.lowerBound = lowerBound
        self.upperBound = upperBound
    }
}

/// The settings of a COCO evaluation, with pycocotools' `Params` defaults.
///
/// Boxes and masks: IoU thresholds 0.50:0.05:0.95, 101 recall points 0:0.01:1, at most 1, 10 and
/// 100 detections per image, areas all / small (< 32²) / medium (32²...96²) / large (> 96²), per
/// category.
///
/// Keypoints: the same OKS thresholds and recall points, at most 20 detections per image, areas
/// all / medium / large (there is no small range: COCO does not label keypoints on small
/// people), per category, with COCO's 17 person sigmas for every category unless
/// `keypointSigmasByCategory` gives a category its own.
public struct COCOEvalParameters: Sendable, Hashable {
    /// Box or mask overlap.
    public var iouType: COCOIoUType
    /// Images to evaluate; nil means every ground-truth image. Evaluated sorted, without repeats.
    public var imageIDs: [Int]?
    /// Categories to evaluate; nil means every ground-truth category. Sorted and de-duplicated
    /// when `useCategories`, used in the given order otherwise.
    public var categoryIDs: [Int]?
    /// IoU thresholds T, each giving one precision/recall curve.
    public var iouThresholds: [Double]
    /// Recall points R at which precision is sampled.
    public var recallThresholds: [Double]
    /// Per-image detection limits M; the largest also caps detections during matching.
    public var maxDetections: [Int]
    /// Area ranges A.
    public var areaRanges: [COCOAreaRange]
    /// Match only within a category (true, the COCO metric) or across all (proposal recall).
    public var useCategories: Bool
    /// OKS sigmas, one per keypoint, for categories without an entry in
    /// `keypointSigmasByCategory` (keypoint evaluation only). The default is COCO's 17 person
    /// sigmas, `ObjectKeypointSimilarity.cocoPersonSigmas`.
    public var keypointSigmas: [Double]
    /// OKS sigmas of particular categories, by category id, for keypoint sets other than COCO's
    /// person (pycocotools has one hard-coded list; this is the way to evaluate other datasets).
    public var keypointSigmasByCategory: [Int: [Double]]

    /// pycocotools' defaults for `iouType` 'bbox', 'segm' or 'keypoints'.
    public init(iouType: COCOIoUType) {
        self.iouType = iouType
        self.imageIDs = nil
        self.categoryIDs = nil
        // pycocotools: np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1)
        self.iouThresholds = Self.linspace(0.5, 0.95, count: Int(((0.95 - 0.5) / 0.05).rounded()) + 1)
        self.recallThresholds = Self.linspace(0.0, 1.0, count: Int(((1.0 - 0.0) / 0.01).rounded()) + 1)
        let all = COCOAreaRange(label: "all", lowerBound: 0, upperBound: 1e10)
        let small = COCOAreaRange(label: "small", lowerBound: 0, upperBound: 32 * 32)
        let medium = COCOAreaRange(label: "medium", lowerBound: 32 * 32, upperBound: 96 * 96)
        let large = COCOAreaRange(label: "large", lowerBound: 96 * 96, upperBound: 1e10)
        switch iouType {
        case .bbox, .segm:
            self.maxDetections = [1, 10, 100]
            self.areaRanges = [all, small, medium, large]
        case .keypoints:
            self.maxDetections = [20]
            self.areaRanges = [all, medium, large]
        }
        self.useCategories = true
        self.keypointSigmas = ObjectKeypointSimilarity.cocoPersonSigmas
        self.keypointSigmasByCategory = [:]
    }

    /// The OKS sigmas used for a category: its entry in `keypointSigmasByCategory`, else
    /// `keypointSigmas`.
    public func keypointSigmas(forCategory categoryID: Int) -> [Double] {
        keypointSigmasByCategory[categoryID] ?? keypointSigmas
    }

    /// `count` evenly spaced values from `start` to `stop` inclusive, computed as numpy's
    /// `linspace` does (`start + i * step`, last value exactly `stop`), so that thresholds such
    /// as 0.35000000000000003 compare exactly as they do in pycocotools.
    public static func linspace(_ start: Double, _ stop: Double, count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (stop - start) / Double(count - 1)
        var values = (0..<count).map { Double($0) * step + start }
        values[count - 1] = stop
        return values
    }
}
