import Foundation
import HTTP

/// A detection request, parsed from any of the accepted bodies: the raw image (`image/jpeg`,
/// `image/png`, `application/octet-stream`), `multipart/form-data` with an `image` part (other parts
/// are options), or `application/json` `{"image": "<base64>", ...options}`. Options may also come as
/// query parameters; body fields win over the query.
public struct DetectRequest {
    public enum MaskFormat: String, Sendable { case rle, polygon, none }
    public enum OutputFormat: String, Sendable { case json, png, jpeg }

    public var image: [UInt8]
    public var scoreThreshold: Float?
    public var maxDetections: Int?
    public var classes: [String]?
    public var masks: MaskFormat = .rle
    public var pipeline: String?
    /// Client proposals for the fast pipeline, `[x1, y1, x2, y2]` in image pixels.
    public var proposals: [[Float]]?
    public var format: OutputFormat = .json

    /// Largest `max_detections` a client may ask for.
    public static let maxDetectionsLimit = 1000
    /// Most client proposals one request may carry.
    public static let maxProposals = 5000

    public init(image: [UInt8]) { self.image = image }

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
            let cleaned = b64.hasPrefix("data:") ? String(b64.drop(while: { $0 != "," }).dropFirst()) : b64
            guard let data = Data(base64Encoded: cleaned, options: .ignoreUnknownCharacters) else {
                throw APIError.badRequest("\"image\" is not valid base64", code: "invalid_base64")
            }
            image = [UInt8](data)
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

    mutating func apply(_ o: [String: Any]) throws {
        let known: Set<String> = ["score_threshold", "max_detections", "classes", "masks", "pipeline", "format", "proposals"]
        if let unknown = o.keys.first(where: { !known.contains($0) }) {
            throw APIError.unprocessable("unknown option '\(unknown)'; known: \(known.sorted().joined(separator: ", "))")
        }
        if let v = o["score_threshold"] {
            guard let d = Self.number(v), d >= 0, d <= 1 else {
                throw APIError.unprocessable("score_threshold must be a number in [0, 1]")
            }
            scoreThreshold = Float(d)
        }
        if let v = o["max_detections"] {
            guard let d = Self.number(v), d == d.rounded(), d >= 1, d <= Double(Self.maxDetectionsLimit) else {
                throw APIError.unprocessable("max_detections must be an integer in [1, \(Self.maxDetectionsLimit)]")
            }
            maxDetections = Int(d)
        }
        if let v = o["classes"] {
            if let s = v as? String {
                classes = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            } else if let a = v as? [Any], a.allSatisfy({ $0 is String }) {
                classes = a.map { $0 as! String }
            } else {
                throw APIError.unprocessable("classes must be a comma-separated string or an array of class names")
            }
        }
        if let v = o["masks"] {
            guard let s = v as? String, let m = MaskFormat(rawValue: s) else {
                throw APIError.unprocessable("masks must be one of rle, polygon, none")
            }
            masks = m
        }
        if let v = o["pipeline"] {
            guard let s = v as? String, !s.isEmpty else { throw APIError.unprocessable("pipeline must be a string") }
            pipeline = s
        }
        if let v = o["proposals"] {
            // A JSON array in a JSON body; a JSON-encoded string in a query or multipart field.
            var value: Any = v
            if let s = v as? String {
                guard let parsed = try? JSONSerialization.jsonObject(with: Data(s.utf8)) else {
                    throw APIError.unprocessable("proposals must be a JSON array of [x1, y1, x2, y2] boxes")
                }
                value = parsed
            }
            guard let list = value as? [Any], !list.isEmpty, list.count <= Self.maxProposals else {
                throw APIError.unprocessable("proposals must be a non-empty JSON array of at most \(Self.maxProposals) [x1, y1, x2, y2] boxes")
            }
            proposals = try list.enumerated().map { i, item in
                guard let a = item as? [Any], a.count == 4 else {
                    throw APIError.unprocessable("proposals[\(i)] is not [x1, y1, x2, y2]")
                }
                let n = a.compactMap { Self.number($0) }
                guard n.count == 4, n[2] > n[0], n[3] > n[1] else {
                    throw APIError.unprocessable("proposals[\(i)] must be four finite numbers with x2 > x1 and y2 > y1")
                }
                return n.map { Float($0) }
            }
        }
        if let v = o["format"] {
            guard let s = v as? String, let f = OutputFormat(rawValue: s) else {
                throw APIError.unprocessable("format must be one of json, png, jpeg")
            }
            format = f
        }
    }

    static func number(_ v: Any) -> Double? {
        if let s = v as? String { return Double(s.trimmingCharacters(in: .whitespaces)).flatMap { $0.isFinite ? $0 : nil } }
        if let i = v as? Int { return Double(i) }
        if let d = v as? Double { return d.isFinite ? d : nil }
        if let n = v as? NSNumber { return n.doubleValue.isFinite ? n.doubleValue : nil }
        return nil
    }
}
