import COCO
import Detection
import Foundation
import HTTP

/// The KServe / Triton open inference protocol v2 (REST), beside the native `/v1` API.
///
/// Each model takes one input, `image` (`BYTES`, shape `[1]`): the encoded JPEG or PNG, base64 in
/// the JSON `data` array, or raw with the binary tensor data extension (the JSON header's length in
/// `Inference-Header-Content-Length`, the input's `parameters.binary_data_size` bytes after it:
/// a 4-byte little-endian length, then the image). Outputs, always as JSON data: `boxes` (`FP32`,
/// `[N, 4]`, x1 y1 x2 y2 in original pixels), `scores` (`FP32`, `[N]`), `labels` (`INT64`, `[N]`,
/// class ids), `class_names` (`BYTES`, `[N]`) and, for the mask pipeline, `masks` (`BYTES`, `[N]`,
/// each a COCO RLE JSON object `{"size": [h, w], "counts": "..."}`). Request `parameters`:
/// `score_threshold`, `max_detections`, `pipeline`; other parameters (such as Triton's
/// `binary_data_output`) are ignored. Errors are `{"error": "message"}`. The only version is `1`.
extension DetectionService {
    static let serverName = "rcnn"
    static let serverVersion = "1.0.0"
    static let modelVersion = "1"

    func openInference(_ r: HTTPRequest, _ route: Route, _ params: [String: String]) throws -> HTTPResponse {
        if let v = params["version"], v != Self.modelVersion {
            throw APIError.notFound("model '\(params["name"] ?? "")' has no version '\(v)'; versions: \(Self.modelVersion)")
        }
        switch route.template {
        case "/v2":
            return .json(ServerMetadata(name: Self.serverName, version: Self.serverVersion, extensions: []))
        case "/v2/health/live":
            return .json(["live": true])
        case "/v2/health/ready":
            return .json(["ready": registry.ready], status: registry.ready ? 200 : 400)
        case "/v2/models/{name}", "/v2/models/{name}/versions/{version}":
            return .json(ModelMetadata(try model(params["name"]!)))
        case "/v2/models/{name}/ready", "/v2/models/{name}/versions/{version}/ready":
            _ = try model(params["name"]!)
            return .json(ModelReadiness(name: params["name"]!, ready: registry.ready), status: registry.ready ? 200 : 400)
        case "/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer":
            return try infer(r, model: try model(params["name"]!))
        default:
            throw APIError.notFound("no route for \(r.path)")
        }
    }

    struct ServerMetadata: Encodable {
        var name: String
        var version: String
        var extensions: [String]
    }

    struct ModelReadiness: Encodable {
        var name: String
        var ready: Bool
    }

    struct TensorMetadata: Encodable {
        var name: String
        var datatype: String
        var shape: [Int]
    }

    struct ModelMetadata: Encodable {
        var name: String
        var versions: [String]
        var platform: String
        var inputs: [TensorMetadata]
        var outputs: [TensorMetadata]

        init(_ m: DetectionModel) {
            name = m.name
            versions = [DetectionService.modelVersion]
            platform = "rcnn_\(m.config.architecture)"
            inputs = [TensorMetadata(name: "image", datatype: "BYTES", shape: [1])]
            outputs = [
                TensorMetadata(name: "boxes", datatype: "FP32", shape: [-1, 4]),
                TensorMetadata(name: "scores", datatype: "FP32", shape: [-1]),
                TensorMetadata(name: "labels", datatype: "INT64", shape: [-1]),
                TensorMetadata(name: "class_names", datatype: "BYTES", shape: [-1]),
            ]
            if m.hasMasks { outputs.append(TensorMetadata(name: "masks", datatype: "BYTES", shape: [-1])) }
        }
    }

    /// The output names a model produces, in order.
    static func outputNames(_ m: DetectionModel) -> [String] { ModelMetadata(m).outputs.map(\.name) }

    /// `POST /v2/models/{name}/infer`.
    func infer(_ r: HTTPRequest, model: DetectionModel) throws -> HTTPResponse {
        let (header, binary) = try Self.splitInferBody(r)
        guard let doc = (try? JSONSerialization.jsonObject(with: Data(header))) as? [String: Any] else {
            throw APIError.badRequest("the inference request is not a JSON object")
        }
        let imageBytes = try Self.imageInput(doc, binary: binary)

        // Parameters: ours are validated, the rest (Triton's binary_data_output, ...) ignored.
        let parameters = doc["parameters"] as? [String: Any] ?? [:]
        var options = DetectionModel.Options()
        if let v = parameters["score_threshold"] {
            guard let d = DetectRequest.number(v), d >= 0, d <= 1 else { throw APIError.badRequest("parameter score_threshold must be a number in [0, 1]") }
            options.scoreThreshold = Float(d)
        }
        if let v = parameters["max_detections"] {
            guard let d = DetectRequest.number(v), d == d.rounded(), d >= 1, d <= Double(DetectRequest.maxDetectionsLimit) else {
                throw APIError.badRequest("parameter max_detections must be an integer in [1, \(DetectRequest.maxDetectionsLimit)]")
            }
            options.maxDetections = Int(d)
        }
        var requestedPipeline: String?
        if let v = parameters["pipeline"] {
            guard let s = v as? String else { throw APIError.badRequest("parameter pipeline must be a string") }
            requestedPipeline = s
        }
        let pipeline = try pipeline(requestedPipeline, of: model)

        // Requested outputs: all by default.
        let available = Self.outputNames(model).filter { pipeline == "mask" || $0 != "masks" }
        var wanted = available
        if let outs = doc["outputs"] {
            guard let list = outs as? [[String: Any]] else { throw APIError.badRequest("\"outputs\" must be an array of objects") }
            wanted = []
            for o in list {
                guard let n = o["name"] as? String else { throw APIError.badRequest("every requested output needs a \"name\"") }
                guard available.contains(n) else {
                    throw APIError.badRequest("unknown output '\(n)' for model '\(model.name)' (pipeline \(pipeline)); outputs: \(available.joined(separator: ", "))")
                }
                wanted.append(n)
            }
        }
        options.masks = pipeline == "mask" && wanted.contains("masks")

        var timings = StageTimings()
        let image = try decodeImage(imageBytes, timings: &timings)
        let det = try infer(model, pipeline: pipeline, image: image, options: options).detections

        var outputs: [String] = []
        for name in wanted {
            let n = det.count
            switch name {
            case "boxes":
                let data = det.boxes.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2] }.map { JSONText.number($0) }
                outputs.append(Self.tensorJSON(name, "FP32", [n, 4], data))
            case "scores":
                outputs.append(Self.tensorJSON(name, "FP32", [n], det.scores.map { JSONText.number($0) }))
            case "labels":
                outputs.append(Self.tensorJSON(name, "INT64", [n], det.labels.map(String.init)))
            case "class_names":
                let names = det.labels.map { $0 < model.classes.count ? model.classes[$0] : "class_\($0)" }
                outputs.append(Self.tensorJSON(name, "BYTES", [n], names.map(JSONText.string)))
            case "masks":
                let masks = (det.masks ?? []).map { m -> String in
                    let rle = m.rle()
                    return JSONText.string("{\"size\":[\(image.height),\(image.width)],\"counts\":\(JSONText.string(rle.compressedCounts))}")
                }
                outputs.append(Self.tensorJSON(name, "BYTES", [masks.count], masks))
            default:
                break
            }
        }
        let id = (doc["id"] as? String) ?? r.requestID
        var body = "{\"model_name\":\(JSONText.string(model.name)),\"model_version\":\(JSONText.string(Self.modelVersion)),"
        body += "\"id\":\(JSONText.string(id)),\"parameters\":{\"pipeline\":\(JSONText.string(pipeline))},"
        body += "\"outputs\":[" + outputs.joined(separator: ",") + "]}"
        return .json(Data(body.utf8))
    }

    static func tensorJSON(_ name: String, _ datatype: String, _ shape: [Int], _ data: [String]) -> String {
        "{\"name\":\(JSONText.string(name)),\"datatype\":\"\(datatype)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data\":[\(data.joined(separator: ","))]}"
    }

    /// The JSON header and the binary tail (binary tensor data extension), or the whole body and
    /// nothing.
    static func splitInferBody(_ r: HTTPRequest) throws -> ([UInt8], ArraySlice<UInt8>) {
        guard let h = r.headers["Inference-Header-Content-Length"] else { return (r.body, []) }
        guard let n = Int(h.trimmingCharacters(in: .whitespaces)), n >= 0, n <= r.body.count else {
            throw APIError.badRequest("Inference-Header-Content-Length \(h) is not a length within the body (\(r.body.count) bytes)")
        }
        return (Array(r.body[..<n]), r.body[n...])
    }

    /// The bytes of the single `image` input.
    static func imageInput(_ doc: [String: Any], binary: ArraySlice<UInt8>) throws -> [UInt8] {
        guard let inputs = doc["inputs"] as? [[String: Any]], !inputs.isEmpty else {
            throw APIError.badRequest("the request needs \"inputs\": [{\"name\": \"image\", \"datatype\": \"BYTES\", \"shape\": [1], \"data\": [\"<base64>\"]}]")
        }
        guard inputs.count == 1, let input = inputs.first, input["name"] as? String == "image" else {
            let names = inputs.map { ($0["name"] as? String) ?? "?" }
            throw APIError.badRequest("expected exactly one input named 'image', got \(names)")
        }
        guard input["datatype"] as? String == "BYTES" else {
            throw APIError.badRequest("input 'image' must have datatype BYTES, not \(input["datatype"] ?? "nothing")")
        }
        guard let shape = input["shape"] as? [Int], shape.reduce(1, *) == 1 else {
            throw APIError.badRequest("input 'image' must have shape [1] (one image per request)")
        }
        if let size = (input["parameters"] as? [String: Any])?["binary_data_size"] {
            // Binary tensor data: 4-byte little-endian length, then the bytes.
            guard let size = DetectRequest.number(size).map(Int.init), size == binary.count, size >= 4 else {
                throw APIError.badRequest("binary_data_size does not match the \(binary.count) bytes after the JSON header")
            }
            let b = Array(binary)
            let len = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
            guard len == b.count - 4, len > 0 else { throw APIError.badRequest("the BYTES element length \(len) does not match its \(b.count - 4) bytes") }
            return Array(b[4...])
        }
        var data: Any? = input["data"]
        while let a = data as? [Any], a.count == 1, a[0] is [Any] { data = a[0] }  // nested [[...]]
        guard let items = data as? [Any], items.count == 1, let b64 = items[0] as? String else {
            throw APIError.badRequest("input 'image' needs \"data\": [\"<base64 of the JPEG or PNG>\"]")
        }
        let cleaned = b64.hasPrefix("data:") ? String(b64.drop(while: { $0 != "," }).dropFirst()) : b64
        guard let bytes = Data(base64Encoded: cleaned, options: .ignoreUnknownCharacters), !bytes.isEmpty else {
            throw APIError.badRequest("input 'image' is not valid base64")
        }
        return [UInt8](bytes)
    }
}
