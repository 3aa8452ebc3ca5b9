import Detection
import Foundation
import Imaging
import HTTP

/// A detection request: the one typed model that every protocol decodes into. `/v1/detect` parses
/// it from the raw image (`image/jpeg`, `image/png`, `application/octet-stream`),
/// `multipart/form-data` with an `image` part (other parts are options) or `application/json`
/// `{"image": "<base64>", ...options}`, with options also as query parameters (body fields win);
/// the open inference protocol (`OpenInferenceRequest`) fills it from its input tensor and
/// `parameters`. Every client value is checked in `apply(_:)`, the one place that validates
/// thresholds, limits, classes, pipelines and proposals; a bad value is an `APIError` naming the
/// field, never a trap.
public struct DetectRequest {
    public enum MaskFormat: String, Sendable { case rle, polygon, probabilities, none }
    public enum OutputFormat: String, Sendable { case json, png, jpeg }
    /// The frame detections are in: `upright` applies the file's EXIF orientation (as browsers
    /// and Pillow's `exif_transpose` show the photo); `stored` keeps the pixels as stored.
    public enum Orientation: String, Sendable { case upright, stored }

    public var image: [UInt8]
    public var scoreThreshold: Float?
    public var maxDetections: Int?
    public var classes: [String]?
    public var masks: MaskFormat = .rle
    /// The generation to run; nil: the model's own.
    public var pipeline: DetectionModel.Pipeline?
    /// Client proposals for the fast pipeline, `[x1, y1, x2, y2]` in image pixels, finite.
    public var proposals: [[Float]]?
    public var format: OutputFormat = .json
    public var orientation: Orientation = .upright
    /// What a transparent PNG is composited over; nil drops its alpha (the stored colours under
    /// transparent pixels show, as in torchvision's reading).
    public var background: RGBColor? = .white
    /// Per-class score thresholds by class name (beside the global `scoreThreshold`, which the
    /// classes not named here keep).
    public var classThresholds: [String: Float]?
    /// The mask probability a pixel must exceed to be in the mask (torchvision: 0.5).
    public var maskThreshold: Float = 0.5
    /// Whether a keypoint model's keypoint head runs (false leaves `keypoints` out of the answer
    /// and saves the head's time, as `masks=none` does for masks).
    public var keypoints = true
    /// Keypoints scoring at or under this heatmap logit are left out of the annotated image (the
    /// JSON lists every keypoint with its score).
    public var keypointThreshold: Float = 0
    public var boxFormat: DetectionDocument.BoxFormat = .xyxy
    /// Sliced inference: off (default), on, or auto (only for images much larger than the model's
    /// input); the tile settings, whose size defaults to the model's `min_size`.
    public enum SliceMode: String, Sendable { case off, on, auto }
    public var slice: SliceMode = .off
    public var slicing = SliceOptions()
    /// Whether the client named a tile size (else the model's `min_size` is used).
    public var sliceSizeGiven = false

    /// Largest `max_detections` a client may ask for.
    public static let maxDetectionsLimit = 1000
    /// Most client proposals one request may carry.
    public static let maxProposals = 5000
    /// Most class names one request may list.
    public static let maxClasses = 1000
    /// The pipelines a client may name, in the order they are listed in errors.
    public static let pipelineNames = DetectionModel.Pipeline.allCases.filter { $0 != .default }.map(\.rawValue)
    /// Options every protocol understands.
    static let knownOptions: Set<String> = ["score_threshold", "max_detections", "classes", "masks", "pipeline", "format", "proposals",
                                            "orientation", "background", "class_thresholds", "mask_threshold", "box_format",
                                            "keypoints", "keypoint_threshold", "slice", "slice_size", "slice_overlap", "slice_full_pass", "slice_merge", "slice_match",
                                            "slice_match_threshold"]

    public init(image: [UInt8]) { self.image = image }

    /// A boolean option: JSON true/false, or the text "true"/"false" (query and form fields).
    static func flag(_ v: Any, field: String) throws -> Bool {
        if let s = v as? String, s == "true" || s == "false" { return s == "true" }
        // JSONSerialization gives booleans as NSNumber; only a real boolean counts (not 0 or 1).
        if let n = v as? NSNumber, ClientValue.isBoolean(n) { return n.boolValue }
        throw APIError.unprocessable("\(field) must be true or false")
    }

    public static func parse(_ request: HTTPRequest) throws -> DetectRequest {
        var options: [String: Any] = [:]
        for (k, v) in request.query { options[k] = v }
        let contentType = (request.headers["Content-Type"] ?? "").lowercased()
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        var image: [UInt8]?
        switch mediaType {
        case "image/jpeg", "image/jpg", "image/png", "application/octet-stream":
            image = request.body
        case "multipart/form-data":
            guard let boundary = Multipart.boundary(from: request.headers["Content-Type"] ?? "") else {
                throw APIError.badRequest("multipart/form-data needs a boundary parameter", code: "invalid_multipart")
            }
            for part in try Multipart.parse(request.body, boundary: boundary) {
                if part.name == "image" { image = part.body } else { options[part.name] = String(decoding: part.body, as: UTF8.self) }
            }
            if image == nil { throw APIError.badRequest("multipart body has no 'image' part", code: "missing_image") }
        case "application/json":
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
                throw APIError.badRequest("body is not a JSON object", code: "invalid_json")
            }
            for (k, v) in obj where k != "image" { options[k] = v }
            guard let b64 = obj["image"] as? String else {
                throw APIError.badRequest("JSON body needs \"image\": a base64 string", code: "missing_image")
            }
            image = try decodeBase64(b64, field: "image")
        case "":
            throw APIError(415, "unsupported_media_type", "missing Content-Type: send image/jpeg, image/png, application/octet-stream, multipart/form-data or application/json")
        default:
            throw APIError(415, "unsupported_media_type", "Content-Type '\(mediaType)' is not image/jpeg, image/png, application/octet-stream, multipart/form-data or application/json")
        }
        guard let bytes = image, !bytes.isEmpty else {
            throw APIError.badRequest("the request carries no image", code: "missing_image")
        }
        var r = DetectRequest(image: bytes)
        try r.apply(options)
        return r
    }

    /// The bytes of a base64 (or `data:` URL) image; a string that is not base64 is an error
    /// naming `field`, never silently mangled.
    static func decodeBase64(_ text: String, field: String) throws -> [UInt8] {
        // Works on the UTF-8 bytes (one byte per character of base64), never on an array of
        // Characters, which would cost 16 bytes per character of a 20 MB body.
        var bytes = Array(text.utf8)
        if text.hasPrefix("data:") {
            guard let comma = bytes.firstIndex(of: UInt8(ascii: ",")) else {
                throw APIError.badRequest("\"\(field)\" is a data: URL without a comma", code: "invalid_base64")
            }
            bytes.removeSubrange(...comma)
        }
        // Whitespace (line breaks in wrapped base64) is allowed; any other stray byte is not. The
        // URL-safe alphabet (`-`, `_`) and missing padding are accepted as RFC 4648 §5 writes them.
        bytes.removeAll { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        for i in bytes.indices {
            if bytes[i] == UInt8(ascii: "-") { bytes[i] = UInt8(ascii: "+") } else if bytes[i] == UInt8(ascii: "_") { bytes[i] = UInt8(ascii: "/") }
        }
        if bytes.count % 4 != 0 && bytes.last != UInt8(ascii: "=") {
            bytes += [UInt8](repeating: UInt8(ascii: "="), count: 4 - bytes.count % 4)
        }
        guard let data = Data(base64Encoded: Data(bytes)) else {
            throw APIError.badRequest("\"\(field)\" is not valid base64", code: "invalid_base64")
        }
        return [UInt8](data)
    }

    /// Checks and applies options (query parameters, form fields, JSON members or the v2
    /// `parameters` this service uses). An unknown option is an error.
    mutating func apply(_ o: [String: Any]) throws {
        if let unknown = o.keys.sorted().first(where: { !Self.knownOptions.contains($0) }) {
            throw APIError.unprocessable("unknown option '\(unknown)'; known: \(Self.knownOptions.sorted().joined(separator: ", "))")
        }
        if let v = o["score_threshold"] {
            scoreThreshold = Float(try ClientValue.number(v, field: "score_threshold", in: 0...1))
        }
        if let v = o["max_detections"] {
            maxDetections = try ClientValue.integer(v, field: "max_detections", in: 1...Self.maxDetectionsLimit)
        }
        if let v = o["classes"] {
            let names: [String]
            if let s = v as? String {
                names = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            } else if let a = v as? [Any], let strings = a as? [String] {
                names = strings
            } else {
                throw APIError.unprocessable("classes must be a comma-separated string or an array of class names")
            }
            guard names.count <= Self.maxClasses else {
                throw APIError.unprocessable("classes lists \(names.count) names; at most \(Self.maxClasses)")
            }
            classes = names
        }
        if let v = o["masks"] {
            guard let s = v as? String, let m = MaskFormat(rawValue: s) else {
                throw APIError.unprocessable("masks must be one of rle, polygon, probabilities, none")
            }
            masks = m
        }
        if let v = o["pipeline"] {
            guard let s = v as? String, Self.pipelineNames.contains(s), let p = DetectionModel.Pipeline(rawValue: s) else {
                throw APIError.unprocessable("pipeline must be one of \(Self.pipelineNames.joined(separator: ", "))")
            }
            pipeline = p
        }
        if let v = o["proposals"] {
            proposals = try Self.parseProposals(v)
        }
        if let v = o["format"] {
            guard let s = v as? String, let f = OutputFormat(rawValue: s) else {
                throw APIError.unprocessable("format must be one of json, png, jpeg")
            }
            format = f
        }
        if let v = o["orientation"] {
            guard let s = v as? String, let f = Orientation(rawValue: s) else {
                throw APIError.unprocessable("orientation must be upright (apply the EXIF orientation, the default) or stored")
            }
            orientation = f
        }
        if let v = o["class_thresholds"] {
            var value: Any = v
            if let s = v as? String {
                guard let parsed = try? JSONSerialization.jsonObject(with: Data(s.utf8)) else {
                    throw APIError.unprocessable("class_thresholds must be a JSON object of class name to threshold, e.g. {\"person\": 0.9}")
                }
                value = parsed
            }
            guard let object = value as? [String: Any], !object.isEmpty, object.count <= Self.maxClasses else {
                throw APIError.unprocessable("class_thresholds must be a non-empty JSON object of at most \(Self.maxClasses) class names to thresholds")
            }
            var thresholds: [String: Float] = [:]
            for (name, t) in object {
                thresholds[name] = Float(try ClientValue.number(t, field: "class_thresholds[\(name.prefix(64))]", in: 0...1))
            }
            classThresholds = thresholds
        }
        if let v = o["mask_threshold"] {
            // Strictly inside (0, 1): at 0 every pixel of the pasted box is in, at 1 none is.
            let t = try ClientValue.number(v, field: "mask_threshold", in: 0...1)
            guard t > 0, t < 1 else { throw APIError.unprocessable("mask_threshold must be strictly between 0 and 1") }
            maskThreshold = Float(t)
        }
        if let v = o["keypoint_threshold"] {
            keypointThreshold = Float(try ClientValue.number(v, field: "keypoint_threshold", in: -1e6...1e6))
        }
        if let v = o["box_format"] {
            guard let s = v as? String, let f = DetectionDocument.BoxFormat(rawValue: s) else {
                throw APIError.unprocessable("box_format must be one of xyxy, xywh, normalized")
            }
            boxFormat = f
        }
        if let v = o["slice"] {
            if let s = v as? String, let m = SliceMode(rawValue: s) ?? (s == "true" ? .on : s == "false" ? .off : nil) {
                slice = m
            } else if let b = v as? Bool {
                slice = b ? .on : .off
            } else {
                throw APIError.unprocessable("slice must be off, on or auto")
            }
        }
        if let v = o["slice_size"] {
            slicing.tileSize = try ClientValue.integer(v, field: "slice_size", in: 64...4096)
            sliceSizeGiven = true
        }
        if let v = o["slice_overlap"] {
            slicing.overlap = try ClientValue.number(v, field: "slice_overlap", in: 0...0.9)
        }
        if let v = o["slice_full_pass"] { slicing.fullImagePass = try Self.flag(v, field: "slice_full_pass") }
        if let v = o["keypoints"] { keypoints = try Self.flag(v, field: "keypoints") }
        if let v = o["slice_merge"] {
            guard let s = v as? String, let m = SliceOptions.Merge(rawValue: s) else {
                throw APIError.unprocessable("slice_merge must be nms or greedy")
            }
            slicing.merge = m
        }
        if let v = o["slice_match"] {
            guard let s = v as? String, let m = SliceOptions.Metric(rawValue: s) else {
                throw APIError.unprocessable("slice_match must be iou or ios")
            }
            slicing.metric = m
        }
        if let v = o["slice_match_threshold"] {
            slicing.matchThreshold = Float(try ClientValue.number(v, field: "slice_match_threshold", in: 0...1))
        }
        if let v = o["background"] {
            guard let s = v as? String else {
                throw APIError.unprocessable("background must be a colour (#RRGGBB, white, black) or none")
            }
            if s.lowercased() == "none" {
                background = nil
            } else {
                guard let c = RGBColor(parsing: s) else {
                    throw APIError.unprocessable("background must be a colour (#RRGGBB, white, black) or none, not '\(s.prefix(32))'")
                }
                background = c
            }
        }
    }

    /// Proposals: a JSON array in a JSON body; a JSON-encoded string in a query or multipart field.
    static func parseProposals(_ v: Any) throws -> [[Float]] {
        var value: Any = v
        if let s = v as? String {
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(s.utf8), options: .fragmentsAllowed) else {
                throw APIError.unprocessable("proposals must be a JSON array of [x1, y1, x2, y2] boxes")
            }
            value = parsed
        }
        guard let list = value as? [Any], !list.isEmpty, list.count <= Self.maxProposals else {
            throw APIError.unprocessable("proposals must be a non-empty JSON array of at most \(Self.maxProposals) [x1, y1, x2, y2] boxes")
        }
        return try list.enumerated().map { i, item in
            guard let a = item as? [Any], a.count == 4 else {
                throw APIError.unprocessable("proposals[\(i)] is not [x1, y1, x2, y2]")
            }
            // Coordinates must stay finite in Float32, the precision the engine computes in.
            let n = try a.map { try ClientValue.number($0, field: "proposals[\(i)]", in: -ClientValue.maxCoordinate...ClientValue.maxCoordinate) }
            guard n[2] > n[0], n[3] > n[1] else {
                throw APIError.unprocessable("proposals[\(i)] must have x2 > x1 and y2 > y1")
            }
            return n.map { Float($0) }
        }
    }
}
