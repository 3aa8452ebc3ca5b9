/// What overlap the evaluation measures between a detection and a ground truth.
public enum COCOIoUType: String, Sendable, Hashable, Codable {
    /// Box IoU on `[x, y, width, height]` boxes.
    case bbox
    /// Mask IoU on run-length encoded masks (polygons are rasterized first).
    case segm
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

/// The settings of a COCO evaluation, with pycocotools' `Params` defaults for boxes and masks:
/// IoU thresholds 0.50:0.05:0.95, 101 recall points 0:0.01:1, at most 1, 10 and 100 detections
/// per image, areas all / small (< 32²) / medium (32²...96²) / large (> 96²), per category.
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

    /// pycocotools' defaults for `iouType` 'bbox' or 'segm'.
    public init(iouType: COCOIoUType) {
        self.iouType = iouType
        self.imageIDs = nil
        self.categoryIDs = nil
        // pycocotools: np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1)
        self.iouThresholds = Self.linspace(0.5, 0.95, count: Int(((0.95 - 0.5) / 0.05).rounded()) + 1)
        self.recallThresholds = Self.linspace(0.0, 1.0, count: Int(((1.0 - 0.0) / 0.01).rounded()) + 1)
        self.maxDetections = [1, 10, 100]
        self.areaRanges = [
            COCOAreaRange(label: "all", lowerBound: 0, upperBound: 1e10),
            COCOAreaRange(label: "small", lowerBound: 0, upperBound: 32 * 32),
            COCOAreaRange(label: "medium", lowerBound: 32 * 32, upperBound: 96 * 96),
            COCOAreaRange(label: "large", lowerBound: 96 * 96, upperBound: 1e10),
        ]
        self.useCategories = true
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
