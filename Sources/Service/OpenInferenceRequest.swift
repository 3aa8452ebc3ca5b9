import Foundation
import HTTP

/// A `POST /v2/models/{name}/infer` body (the KServe / Triton open inference protocol), decoded
/// into the same `DetectRequest` as `/v1/detect`, so both protocols share one validation.
///
/// The only input is `image`: `BYTES`, shape `[1]`, the encoded JPEG or PNG as base64 in `data`,
/// or raw with the binary tensor data extension (the JSON header's length in
/// `Inference-Header-Content-Length`, the input's `parameters.binary_data_size` bytes after it: a
/// 4-byte little-endian element length, then the image). Request `parameters` are the `/v1`
/// options (`score_threshold`, `max_detections`, `pipeline`, `classes`, `proposals`), validated
/// by `DetectRequest.apply`; others (Triton's `binary_data_output`, ...) are ignored, as the
/// protocol allows. Masks are an output (COCO RLE), requested by naming it or by naming none.
struct OpenInferenceRequest {
    var detect: DetectRequest
    /// The request's `id`, echoed in the response.
    var id: String?
    /// Requested output names in order; nil for all.
    var outputs: [String]?

    init(_ r: HTTPRequest) throws {
        let (header, binary) = try Self.splitBody(r)
        guard let doc = (try? JSONSerialization.jsonObject(with: Data(header))) as? [String: Any] else {
            throw APIError.badRequest("the inference request is not a JSON object", code: "invalid_json")
        }
        detect = DetectRequest(image: try Self.imageInput(doc, binary: binary))
        if let p = doc["parameters"] {
            guard let parameters = p as? [String: Any] else { throw APIError.badRequest("\"parameters\" must be an object") }
            // The answer is always JSON tensors, and masks are asked for as an output (always RLE),
            // so `format` and `masks` are not parameters here.
            let ours = parameters.filter { DetectRequest.knownOptions.contains($0.key) && $0.key != "format" && $0.key != "masks" }
            try detect.apply(ours)
        }
        if let v = doc["id"] {
            guard let s = v as? String, s.utf8.count <= 256 else { throw APIError.badRequest("\"id\" must be a string of at most 256 bytes") }
            id = s
        }
        if let outs = doc["outputs"] {
            guard let list = outs as? [[String: Any]] else { throw APIError.badRequest("\"outputs\" must be an array of objects") }
            let names = try list.map { o in
                guard let n = o["name"] as? String else { throw APIError.badRequest("every requested output needs a \"name\"") }
                return n
            }
            guard Set(names).count == names.count else { throw APIError.badRequest("\"outputs\" names an output more than once") }
            outputs = names
            if !names.contains("masks") { detect.masks = .none }
            // The keypoint head runs only for a requested keypoints output.
            if !names.contains("keypoints") { detect.keypoints = false }
        }
    }

    /// The JSON header and the binary tail (binary tensor data extension), or the whole body and
    /// nothing.
    static func splitBody(_ r: HTTPRequest) throws -> ([UInt8], ArraySlice<UInt8>) {
        guard let h = r.headers["Inference-Header-Content-Length"] else { return (r.body, []) }
        let n = try ClientValue.length(h, field: "Inference-Header-Content-Length", limit: r.body.count)
        return (Array(r.body[..<n]), r.body[n...])
    }

    /// The bytes of the single `image` input.
    static func imageInput(_ doc: [String: Any], binary: ArraySlice<UInt8>) throws -> [UInt8] {
        guard let inputs = doc["inputs"] as? [[String: Any]], !inputs.isEmpty else {
            throw APIError.badRequest("the request needs \"inputs\": [{\"name\": \"image\", \"datatype\": \"BYTES\", \"shape\": [1], \"data\": [\"<base64>\"]}]")
        }
        guard inputs.count == 1, let input = inputs.first, input["name"] as? String == "image" else {
            let names = inputs.map { ($0["name"] as? String).map { "'\($0.prefix(64))'" } ?? "?" }
            throw APIError.badRequest("expected exactly one input named 'image', got \(names.prefix(8).joined(separator: ", "))")
        }
        guard input["datatype"] as? String == "BYTES" else {
            throw APIError.badRequest("input 'image' must have datatype BYTES")
        }
        // One image per request: the shape is exactly [1] (a shape's element count is never
        // multiplied out, so no shape can overflow).
        guard let shape = input["shape"] as? [Any], shape.count == 1,
              (try? ClientValue.integer(shape[0], field: "shape", in: 1...1, textAllowed: false)) != nil else {
            throw APIError.badRequest("input 'image' must have shape [1] (one image per request)")
        }
        let parameters = input["parameters"].map { $0 as? [String: Any] }
        if case .some(.none) = parameters { throw APIError.badRequest("input 'image' \"parameters\" must be an object") }
        if let size = parameters??["binary_data_size"] {
            guard input["data"] == nil else {
                throw APIError.badRequest("input 'image' has both \"data\" and binary_data_size; send one")
            }
            return try binaryElement(size, binary)
        }
        guard binary.isEmpty else {
            throw APIError.badRequest("\(binary.count) bytes follow the JSON header but input 'image' has no binary_data_size")
        }
        guard let data = input["data"] else {
            throw APIError.badRequest("input 'image' needs \"data\": [\"<base64 of the JPEG or PNG>\"] or binary data", code: "missing_image")
        }
        // `[["..."]]` is the same one element written as a nested row.
        var element: Any = data
        if let rows = element as? [Any], rows.count == 1, let row = rows[0] as? [Any] { element = row }
        guard let items = element as? [Any], items.count == 1, let b64 = items[0] as? String else {
            throw APIError.badRequest("input 'image' needs \"data\": [\"<base64 of the JPEG or PNG>\"] with exactly one element")
        }
        guard !b64.isEmpty else { throw APIError.badRequest("input 'image' data is empty", code: "missing_image") }
        return try DetectRequest.decodeBase64(b64, field: "image")
    }

    /// The one `BYTES` element of the binary tensor data: a 4-byte little-endian length, then
    /// that many bytes, exactly filling `binary_data_size`.
    static func binaryElement(_ declared: Any, _ binary: ArraySlice<UInt8>) throws -> [UInt8] {
        guard let size = try? ClientValue.integer(declared, field: "binary_data_size", in: 0...Int(Int32.max), textAllowed: false), size == binary.count else {
            throw APIError.badRequest("binary_data_size must be the number of bytes after the JSON header (\(binary.count))")
        }
        guard size >= 4 else {
            throw APIError.badRequest("binary_data_size \(size) is too small for a BYTES element (a 4-byte length, then the image)")
        }
        let b = binary.startIndex
        let length = Int(binary[b]) | Int(binary[b + 1]) << 8 | Int(binary[b + 2]) << 16 | Int(binary[b + 3]) << 24
        guard length == size - 4 else {
            throw APIError.badRequest("the BYTES element declares \(length) bytes but \(size - 4) follow its length prefix")
        }
        guard length > 0 else { throw APIError.badRequest("the BYTES element is empty: no image", code: "missing_image") }
        return Array(binary[(b + 4)...])
    }
}
