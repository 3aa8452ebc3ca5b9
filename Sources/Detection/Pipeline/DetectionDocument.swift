import COCO
import Foundation

/// The JSON document that `rcnn detect` prints and the server returns for one image:
/// `{"model", "pipeline", "image": {"width", "height"}, "detections": [{"label", "class_id", "score",
/// "box": [x1, y1, x2, y2], "mask": {"size": [h, w], "counts": "<COCO compressed RLE>"}}],
/// "timings_ms": {stage: ms, ..., "total": ms}}`. Boxes are in original-image pixels; `mask` is present
/// only for mask models (and when masks were requested).
public struct DetectionDocument: Codable, Sendable {
    /// The image as detected: its size in the frame the boxes and masks are in, the EXIF
    /// orientation its file carried (1 when it carried none) and whether it was applied (the
    /// pixels turned upright, as viewers show them) or not (the stored frame).
    public struct ImageInfo: Codable, Sendable {
        public var width: Int
        public var height: Int
        public var orientation: Int = 1
        public var orientationApplied: Bool = false

        enum CodingKeys: String, CodingKey {
            case width, height, orientation, orientationApplied = "orientation_applied"
        }
    }

    /// A mask as COCO compressed RLE (`size` + `counts`), as polygons (`size` + `polygons`), or as
    /// the mask head's probabilities (`resolution` + `probabilities` + `box`).
    public struct Mask: Codable, Sendable {
        /// `[height, width]` of the image, as COCO writes it (RLE and polygons).
        public var size: [Int]?
        public var counts: String?
        /// Outer boundaries, `[x0, y0, x1, y1, ...]` through boundary pixel centres.
        public var polygons: [[Double]]?
        /// The predicted class's mask probabilities, row-major `resolution[0] x resolution[1]`
        /// (28 x 28), before pasting: the grid covers `box` (x1, y1, x2, y2 in image pixels);
        /// resized bilinearly to the box and thresholded, it gives the mask.
        public var probabilities: [Float]?
        public var resolution: [Int]?
        public var box: Box?
    }

    /// How masks are written.
    public enum MaskEncoding: String, Sendable { case rle, polygon, probabilities, none }

    /// How boxes are written: corners (`[x1, y1, x2, y2]`), corner and size (`[x, y, w, h]`), or
    /// corners divided by the image's width and height (0-1).
    public enum BoxFormat: String, Sendable, CaseIterable { case xyxy, xywh, normalized }

    /// What preprocessing did to the image: its size after the model's resize (before padding) and
    /// the scale factor (torchvision's `min(min_size / short side, max_size / long side)`).
    public struct Preprocessing: Codable, Sendable {
        public var resized: [Int]
        public var scale: Float

        public init(resizedHeight: Int, resizedWidth: Int, scale: Float) {
            resized = [resizedHeight, resizedWidth]
            self.scale = scale
        }
    }

    public struct Item: Codable, Sendable {
        public var label: String
        public var classId: Int
        public var score: Float
        public var box: Box
        public var mask: Mask?
        /// `[x, y, score]` per keypoint in the model's keypoint order, in original-image pixels
        /// whatever the box format (keypoint models).
        public var keypoints: [[Float]]?

        enum CodingKeys: String, CodingKey {
            case label, classId = "class_id", score, box, mask, keypoints
        }
    }

    public var model: String
    public var pipeline: String
    public var image: ImageInfo
    public var detections: [Item]
    public var timingsMs: OrderedTimings
    public var boxFormat: BoxFormat = .xyxy
    public var preprocessing: Preprocessing?
    public var slicing: Slicing?

    /// How a sliced run cut and merged (`SliceOptions`, `SliceReport`).
    public struct Slicing: Codable, Sendable {
        public var tiles: Int
        public var size: Int
        public var overlap: Double
        public var fullPass: Bool
        public var merge: String
        public var match: String
        public var matchThreshold: Float
        public var candidates: Int
        public var threads: Int
        public var wallMs: Double

        public init(_ o: SliceOptions, _ r: SliceReport) {
            tiles = r.tiles; size = o.tileSize; overlap = o.overlap; fullPass = r.fullImagePass
            merge = o.merge.rawValue; match = o.metric.rawValue; matchThreshold = o.matchThreshold; candidates = r.candidates
            threads = r.threads; wallMs = (r.tilesWallMs * 1000).rounded() / 1000
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, pipeline, image, detections, timingsMs = "timings_ms"
    }

    public init(model: String, pipeline: String, imageWidth: Int, imageHeight: Int,
                detections: Detections, classes: [String], timings: StageTimings, masks: MaskEncoding = .rle,
                orientation: Int = 1, orientationApplied: Bool = false) {
        self.model = model
        self.pipeline = pipeline
        image = ImageInfo(width: imageWidth, height: imageHeight, orientation: orientation, orientationApplied: orientationApplied)
        self.detections = detections.boxes.indices.map { i in
            let label = detections.labels[i]
            var mask: Mask?
            if masks == .probabilities, let p = detections.maskProbabilities?[i] {
                let side = Int(Double(p.count).squareRoot())
                mask = Mask(probabilities: p, resolution: [side, side], box: detections.boxes[i])
            } else if let m = detections.masks?[i] {
                switch masks {
                case .rle:
                    mask = Mask(size: [imageHeight, imageWidth], counts: m.rle().compressedCounts)
                case .polygon:
                    mask = Mask(size: [imageHeight, imageWidth], polygons: MaskPolygons.polygons(m))
                case .probabilities, .none:
                    break
                }
            }
            return Item(label: label < classes.count ? classes[label] : "class_\(label)", classId: label,
                        score: detections.scores[i], box: detections.boxes[i], mask: mask,
                        keypoints: detections.keypoints?[i].map { [$0.x, $0.y, $0.score] })
        }
        timingsMs = OrderedTimings(timings)
    }

    /// The document as JSON with keys in a fixed, readable order (`model`, `pipeline`, `image`,
    /// `detections`, `timings_ms`; stages in the order they ran). `pretty` adds newlines between
    /// detections.
    public func jsonData(pretty: Bool = false) throws -> Data {
        var out = "{\"model\":\(JSONText.string(model)),\"pipeline\":\(JSONText.string(pipeline)),"
        out += "\"image\":{\"width\":\(image.width),\"height\":\(image.height),\"orientation\":\(image.orientation),"
        out += "\"orientation_applied\":\(image.orientationApplied)},"
        if let p = preprocessing {
            out += "\"preprocessing\":{\"resized\":[\(p.resized[0]),\(p.resized[1])],\"scale\":\(JSONText.number(p.scale))},"
        }
        if let s = slicing {
            out += "\"slicing\":{\"tiles\":\(s.tiles),\"size\":\(s.size),\"overlap\":\(JSONText.number(s.overlap)),"
            out += "\"full_pass\":\(s.fullPass),\"merge\":\(JSONText.string(s.merge)),\"match\":\(JSONText.string(s.match)),"
            out += "\"match_threshold\":\(JSONText.number(s.matchThreshold)),\"candidates\":\(s.candidates),"
            out += "\"threads\":\(s.threads),\"wall_ms\":\(JSONText.number(s.wallMs))},"
        }
        if boxFormat != .xyxy { out += "\"box_format\":\(JSONText.string(boxFormat.rawValue))," }
        out += "\"detections\":["
        for (i, d) in detections.enumerated() {
            if i > 0 { out += "," }
            if pretty { out += "\n  " }
            out += "{\"label\":\(JSONText.string(d.label)),\"class_id\":\(d.classId),\"score\":\(JSONText.number(d.score)),"
            out += "\"box\":[" + formattedBox(d.box).map { JSONText.number($0) }.joined(separator: ",") + "]"
            if let m = d.mask {
                out += ",\"mask\":{"
                if let size = m.size { out += "\"size\":[\(size[0]),\(size[1])]" }
                if let p = m.probabilities, let r = m.resolution, let b = m.box {
                    out += "\"resolution\":[\(r[0]),\(r[1])],\"box\":[\(JSONText.number(b.x1)),\(JSONText.number(b.y1)),\(JSONText.number(b.x2)),\(JSONText.number(b.y2))],"
                    out += "\"probabilities\":[" + p.map { JSONText.number($0) }.joined(separator: ",") + "]"
                }
                if let c = m.counts { out += ",\"counts\":\(JSONText.string(c))" }
                if let polys = m.polygons {
                    out += ",\"polygons\":[" + polys.map { "[" + $0.map { JSONText.number($0) }.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
                }
                out += "}"
            }
            if let k = d.keypoints {
                out += ",\"keypoints\":[" + k.map { "[" + $0.map { JSONText.number($0) }.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
            }
            out += "}"
        }
        if pretty && !detections.isEmpty { out += "\n" }
        out += "],\"timings_ms\":{"
        out += timingsMs.stages.map { "\(JSONText.string($0.0)):\(JSONText.number($0.1))" }.joined(separator: ",")
        out += "}}"
        return Data(out.utf8)
    }
}

extension DetectionDocument {
    /// `box` (x1, y1, x2, y2 in image pixels) in the document's `boxFormat`.
    public func formattedBox(_ box: Box) -> [Float] {
        switch boxFormat {
        case .xyxy: return [box.x1, box.y1, box.x2, box.y2]
        case .xywh: return [box.x1, box.y1, box.x2 - box.x1, box.y2 - box.y1]
        case .normalized:
            let w = Float(max(image.width, 1)), h = Float(max(image.height, 1))
            return [box.x1 / w, box.y1 / h, box.x2 / w, box.y2 / h]
        }
    }
}

/// Minimal JSON text helpers for hand-written documents.
public enum JSONText {
    /// A JSON string literal with the required escapes.
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// Shortest round-tripping decimal for a finite number; `null` for NaN or infinity.
    public static func number<F: BinaryFloatingPoint & LosslessStringConvertible>(_ v: F) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
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
