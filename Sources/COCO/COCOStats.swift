/// The 12 standard COCO detection numbers, in `COCOeval.stats` order. Each is a fraction in
/// [0, 1], or -1 when undefined (no ground truth that counts in that setting).
public struct COCOStats: Sendable, Hashable, CustomStringConvertible {
    /// The numbers in pycocotools order: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs,
    /// ARm, ARl.
    public let values: [Double]

    /// Wraps the 12 numbers in pycocotools order.
    public init(values: [Double]) {
        precondition(values.count == 12, "COCOStats needs 12 values, got \(values.count)")
        self.values = values
    }

    /// AP averaged over IoU 0.50:0.95, all areas, 100 detections (the COCO metric).
    public var ap: Double { values[0] }
    /// AP at IoU 0.50 (the PASCAL VOC metric, with COCO's 101-point interpolation).
    public var ap50: Double { values[1] }
    /// AP at IoU 0.75.
    public var ap75: Double { values[2] }
    /// AP for small objects (area < 32²).
    public var apSmall: Double { values[3] }
    /// AP for medium objects (32² to 96²).
    public var apMedium: Double { values[4] }
    /// AP for large objects (area > 96²).
    public var apLarge: Double { values[5] }
    /// AR with 1 detection per image.
    public var ar1: Double { values[6] }
    /// AR with 10 detections per image.
    public var ar10: Double { values[7] }
    /// AR with 100 detections per image.
    public var ar100: Double { values[8] }
    /// AR for small objects.
    public var arSmall: Double { values[9] }
    /// AR for medium objects.
    public var arMedium: Double { values[10] }
    /// AR for large objects.
    public var arLarge: Double { values[11] }

    /// The names used for the values, such as in a JSON report.
    public static let names = ["AP", "AP50", "AP75", "APs", "APm", "APl",
                               "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]

    public var description: String {
        zip(Self.names, values).map { "\($0)=\(($1 * 1000).rounded() / 1000)" }.joined(separator: " ")
    }
}
