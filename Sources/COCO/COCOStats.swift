/// The standard COCO summary numbers, in `COCOeval.stats` order. Each is a fraction in [0, 1],
/// or -1 when undefined (no ground truth that counts in that setting).
///
/// Box and mask evaluation give 12 numbers (`Kind.detection`): AP, AP50, AP75, APs, APm, APl,
/// AR1, AR10, AR100, ARs, ARm, ARl. Keypoint evaluation gives 10 (`Kind.keypoints`), all at 20
/// detections per image: AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl. The named accessors
/// read the number of either kind; one the kind does not have (`apSmall` for keypoints, `ar50`
/// for boxes) is -1.
public struct COCOStats: Sendable, Hashable, CustomStringConvertible {
    /// Which summary the numbers are.
    public enum Kind: Sendable, Hashable {
        /// Boxes or masks: 12 numbers.
        case detection
        /// Keypoints: 10 numbers.
        case keypoints

        /// The names of the numbers, in order.
        public var names: [String] {
            switch self {
            case .detection: return COCOStats.names
            case .keypoints: return COCOStats.keypointNames
            }
        }
    }

    /// Which summary these are.
    public let kind: Kind
    /// The numbers in pycocotools order (`kind.names`).
    public let values: [Double]

    /// Wraps the 12 box or mask numbers in pycocotools order.
    public init(values: [Double]) {
        self.init(kind: .detection, values: values)
    }

    /// Wraps the numbers of a summary kind in pycocotools order (12 or 10 of them).
    public init(kind: Kind, values: [Double]) {
        precondition(values.count == kind.names.count,
                     "COCOStats(\(kind)) needs \(kind.names.count) values, got \(values.count)")
        self.kind = kind
        self.values = values
    }

    /// The number called `name` in `kind.names` (such as "AP50" or "ARm"), if this kind has it.
    public subscript(name: String) -> Double? {
        kind.names.firstIndex(of: name).map { values[$0] }
    }

    private func value(_ name: String) -> Double { self[name] ?? -1 }

    /// AP averaged over IoU (or OKS) 0.50:0.95, all areas, the largest detection limit (the
    /// COCO metric).
    public var ap: Double { values[0] }
    /// AP at IoU (or OKS) 0.50 (the PASCAL VOC metric, with COCO's 101-point interpolation).
    public var ap50: Double { values[1] }
    /// AP at IoU (or OKS) 0.75.
    public var ap75: Double { values[2] }
    /// AP for small objects (area < 32²); -1 for keypoints.
    public var apSmall: Double { value("APs") }
    /// AP for medium objects (32² to 96²).
    public var apMedium: Double { value("APm") }
    /// AP for large objects (area > 96²).
    public var apLarge: Double { value("APl") }
    /// AR with 1 detection per image; -1 for keypoints.
    public var ar1: Double { value("AR1") }
    /// AR with 10 detections per image; -1 for keypoints.
    public var ar10: Double { value("AR10") }
    /// AR with 100 detections per image; -1 for keypoints.
    public var ar100: Double { value("AR100") }
    /// AR over IoU (or OKS) 0.50:0.95, all areas, at the largest detection limit: `ar100` for
    /// boxes and masks, AR at 20 detections for keypoints.
    public var ar: Double { kind == .keypoints ? values[5] : values[8] }
    /// AR at OKS 0.50 (keypoints only; -1 for boxes and masks).
    public var ar50: Double { value("AR50") }
    /// AR at OKS 0.75 (keypoints only; -1 for boxes and masks).
    public var ar75: Double { value("AR75") }
    /// AR for small objects; -1 for keypoints.
    public var arSmall: Double { value("ARs") }
    /// AR for medium objects.
    public var arMedium: Double { value("ARm") }
    /// AR for large objects.
    public var arLarge: Double { value("ARl") }

    /// The names of the 12 box and mask numbers, such as in a JSON report.
    public static let names = ["AP", "AP50", "AP75", "APs", "APm", "APl",
                               "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]

    /// The names of the 10 keypoint numbers (AR is at 20 detections per image).
    public static let keypointNames = ["AP", "AP50", "AP75", "APm", "APl",
                                       "AR", "AR50", "AR75", "ARm", "ARl"]

    public var description: String {
        zip(kind.names, values).map { "\($0)=\(($1 * 1000).rounded() / 1000)" }.joined(separator: " ")
    }
}
