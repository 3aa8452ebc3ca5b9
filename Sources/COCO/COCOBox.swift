/// An axis-aligned box in COCO's `[x, y, width, height]` convention: `(x, y)` is the top-left
/// corner in pixels, `width` and `height` extend right and down. (Detection code elsewhere uses
/// `[x1, y1, x2, y2]`; this type exists so the two cannot be mixed up silently.)
///
/// Encodes to and decodes from the 4-number JSON array COCO uses.
public struct COCOBox: Sendable, Hashable, Codable {
    /// Left edge in pixels.
    public var x: Double
    /// Top edge in pixels.
    public var y: Double
    /// Extent to the right in pixels.
    public var width: Double
    /// Extent downwards in pixels.
    public var height: Double

    /// A box from its top-left corner and size.
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// A box from corners `[x1, y1, x2, y2]` (the detection pipeline's convention):
    /// `width = x2 - x1`, `height = y2 - y1`, as torchvision's COCO export converts them.
    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        self.init(x: x1, y: y1, width: x2 - x1, height: y2 - y1)
    }

    /// A box from `[x, y, width, height]`; nil unless there are exactly 4 values.
    public init?(_ values: [Double]) {
        guard values.count == 4 else { return nil }
        self.init(x: values[0], y: values[1], width: values[2], height: values[3])
    }

    /// `[x, y, width, height]`.
    public var values: [Double] { [x, y, width, height] }

    /// `width * height`, the area `COCO.loadRes` assigns to box detections.
    public var area: Double { width * height }

    public init(from decoder: Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var values: [Double] = []
        while !container.isAtEnd { values.append(try container.decode(Double.self)) }
        guard let box = COCOBox(values) else {
            throw DecodingError.dataCorruptedError(in: container,
                debugDescription: "a COCO bbox needs 4 numbers [x, y, width, height], got \(values.count)")
        }
        self = box
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(contentsOf: values)
    }

    /// Intersection over union between every detection box and every ground-truth box
    /// (pycocotools' `bbIou`, `mask.iou(dtBoxes, gtBoxes, iscrowd)`).
    ///
    /// For a crowd ground truth the denominator is the detection's area, so a detection inside a
    /// crowd region scores 1 however large the region is. Boxes that only touch score 0.
    public static func iou(_ detections: [COCOBox], _ groundTruths: [COCOBox], isCrowd: [Bool]) -> IoUMatrix {
        precondition(isCrowd.count == groundTruths.count, "iou(isCrowd:) must have one flag per ground truth")
        var result = IoUMatrix(rows: detections.count, columns: groundTruths.count)
        for (g, gt) in groundTruths.enumerated() {
            let gtArea = gt.width * gt.height
            let crowd = isCrowd[g]
            for (d, dt) in detections.enumerated() {
                let dtArea = dt.width * dt.height
                // Same operation order as the C code, so results agree to the last bit.
                // (Double.minimum/maximum are C's fmin/fmax.)
                let w = Double.minimum(dt.width + dt.x, gt.width + gt.x) - Double.maximum(dt.x, gt.x)
                if w <= 0 { continue }
                let h = Double.minimum(dt.height + dt.y, gt.height + gt.y) - Double.maximum(dt.y, gt.y)
                if h <= 0 { continue }
                let intersection = w * h
                let union = crowd ? dtArea : dtArea + gtArea - intersection
                result[d, g] = intersection / union
            }
        }
        return result
    }
}

/// A dense detections-by-ground-truths matrix of overlaps, row-major: `values[d * columns + g]`.
public struct IoUMatrix: Sendable, Equatable {
    /// Number of detections.
    public let rows: Int
    /// Number of ground truths.
    public let columns: Int
    /// The overlaps, row-major.
    public var values: [Double]

    /// A zero matrix.
    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        self.values = [Double](repeating: 0, count: rows * columns)
    }

    /// The overlap of detection `row` with ground truth `column`.
    public subscript(row: Int, column: Int) -> Double {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }
}
