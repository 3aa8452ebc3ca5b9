import COCO
import Foundation

/// The JSON document that `rcnn detect` prints and the server returns for one image:
/// `{"model", "pipeline", "image": {"width", "height"}, "detections": [{"label", "class_id", "score",
/// "box": [x1, y1, x2, y2], "mask": {"size": [h, w], "counts": "<COCO compressed RLE>"}}],
/// "timings_ms": {stage: ms, ..., "total": ms}}`. Boxes are in original-image pixels; `mask` is present
/// only for mask models (and when masks were requested).
public struct DetectionDocument: Codable, Sendable {
    public struct ImageInfo: Codable, Sendable {
        public var width: Int
        public var height: Int
    }

    public struct Mask: Codable, Sendable {
        /// `[height, width]`, as COCO writes it.
        public var size: [Int]
        public var counts: String
    }

    public struct Item: Codable, Sendable {
        public var label: String
        public var classId: Int
        public var score: Float
        public var box: Box
        public var mask: Mask?

        enum CodingKeys: String, CodingKey {
            case label, classId = "class_id", score, box, mask
        }
    }

    public var model: String
    public var pipeline: String
    public var image: ImageInfo
    public var detections: [Item]
    public var timingsMs: OrderedTimings

    enum CodingKeys: String, CodingKey {
        case model, pipeline, image, detections, timingsMs = "timings_ms"
    }

    public init(model: String, pipeline: String, imageWidth: Int, imageHeight: Int,
                detections: Detections, classes: [String], timings: StageTimings) {
        self.model = model
        self.pipeline = pipeline
        image = ImageInfo(width: imageWidth, height: imageHeight)
        self.detections = detections.boxes.indices.map { i in
            let label = detections.labels[i]
            var mask: Mask?
            if let m = detections.masks?[i] {
                let rle = RLE(rowMajorMask: m, height: imageHeight, width: imageWidth)
                mask = Mask(size: [imageHeight, imageWidth], counts: rle.compressedCounts)
            }
            return Item(label: label < classes.count ? classes[label] : "class_\(label)", classId: label,
                        score: detections.scores[i], box: detections.boxes[i], mask: mask)
        }
        timingsMs = OrderedTimings(timings)
    }

    public func jsonData(pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .withoutEscapingSlashes] : [.withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// Stage timings as a JSON object whose keys keep the order the stages ran, plus `"total"`.
public struct OrderedTimings: Codable, Sendable {
    public var stages: [(String, Double)]

    public init(_ t: StageTimings) {
        stages = t.stages.map { ($0.name, ($0.ms * 1000).rounded() / 1000) }
        stages.append(("total", (t.totalMs * 1000).rounded() / 1000))
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        stages = try c.allKeys.map { ($0.stringValue, try c.decode(Double.self, forKey: $0)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (k, v) in stages { try c.encode(v, forKey: Key(stringValue: k)) }
    }
}
