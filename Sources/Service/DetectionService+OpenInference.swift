import COCO
import Detection
import Foundation
import HTTP

/// The KServe / Triton open inference protocol v2 (REST), beside the native `/v1` API.
///
/// Each model takes one input, `image` (`BYTES`, shape `[1]`; see `OpenInferenceRequest`, which
/// decodes it into the same `DetectRequest` as `/v1/detect`). Outputs, always as JSON data: `boxes` (`FP32`,
/// `[N, 4]`, x1 y1 x2 y2 in original pixels), `scores` (`FP32`, `[N]`), `labels` (`INT64`, `[N]`,
/// class ids), `class_names` (`BYTES`, `[N]`) and, for the mask pipeline, `masks` (`BYTES`, `[N]`,
/// each a COCO RLE JSON object `{"size": [h, w], "counts": "..."}`). Request `parameters`:
/// the `/v1` options (`score_threshold`, `max_detections`, `pipeline`, `classes`, `proposals`),
/// validated as there; other parameters (such as Triton's `binary_data_output`) are ignored. Errors are `{"error": "message"}`. The only version is `1`.
extension DetectionService {
    static let serverName = "rcnn"
    static let serverVersion = "1.0.0"
    static let modelVersion = "1"

    func openInference(_ r: HTTPRequest, _ route: Route, _ params: [String: String]) throws -> HTTPResponse {
        if let v = params["version"], v != Self.modelVersion {
            throw APIError.notFound("model '\(params["name"] ?? "")' has no version '\(v)'; versions: \(Self.modelVersion)")
        }
        switch route.endpoint {
        case .v2Server:
            return .json(ServerMetadata(name: Self.serverName, version: Self.serverVersion,
                                        extensions: repository == nil ? [] : ["model_repository"]))
        case .v2Live:
            return .json(["live": true])
        case .v2Ready:
            return .json(["ready": registry.ready], status: registry.ready ? 200 : 400)
        case .v2Model:
            return .json(ModelMetadata(try model(params["name"]!)))
        case .v2ModelReady:
            _ = try model(params["name"]!)
            return .json(ModelReadiness(name: params["name"]!, ready: registry.ready), status: registry.ready ? 200 : 400)
        case .v2Infer:
            let lease = try self.lease(params["name"]!)
            defer { lease.release() }
            return try infer(r, model: lease.model)
        case .webPage, .health, .readiness, .metrics, .openAPI, .listModels, .describeModel, .detect, .detectWithModel,
             .v2RepositoryIndex, .v2RepositoryLoad, .v2RepositoryUnload:
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
            if m.hasKeypoints {
                outputs.append(TensorMetadata(name: "keypoints", datatype: "FP32", shape: [-1, m.config.keypointPredictor?.numKeypoints ?? -1, 3]))
            }
        }
    }

    /// The output names a model produces, in order.
    static func outputNames(_ m: DetectionModel) -> [String] { ModelMetadata(m).outputs.map(\.name) }

    /// `POST /v2/models/{name}/infer`.
    func infer(_ r: HTTPRequest, model: DetectionModel) throws -> HTTPResponse {
        let request = try OpenInferenceRequest(r)
        // Names and pipeline are checked before any image is decoded.
        let plan = try plan(request.detect, model: model)
        // Masks come from the mask pipeline only; keypoints from every pipeline but R-CNN's, unless
        // the parameters say `keypoints: false`.
        let available = Self.outputNames(model).filter {
            (plan.pipeline == .mask || $0 != "masks") && (plan.wantsKeypoints || $0 != "keypoints")
        }
        let wanted = request.outputs ?? available
        if let unknown = wanted.first(where: { !available.contains($0) }) {
            throw APIError.badRequest("unknown output '\(unknown.prefix(64))' for model '\(model.name)' (pipeline \(plan.pipeline.rawValue)); outputs: \(available.joined(separator: ", "))")
        }
        let id = request.id ?? r.requestID
        let body = try run(plan) { decoded, detections, timings, sliced in
            let image = decoded.image
            var doc = DetectionDocument(model: model.name, pipeline: plan.pipeline.rawValue, imageWidth: image.width,
                                        imageHeight: image.height, detections: detections, classes: model.classes,
                                        timings: timings, masks: plan.wantsMasks ? .rle : .none)
            doc.boxFormat = plan.request.boxFormat
            let response = InferResponse(modelName: model.name, modelVersion: Self.modelVersion, id: id,
                                         parameters: ["pipeline": .string(plan.pipeline.rawValue),
                                                      "orientation": .int(decoded.exifOrientation?.rawValue ?? 1),
                                                      "orientation_applied": .bool(decoded.orientationApplied),
                                                      "slice_tiles": .int(sliced?.report.tiles ?? 0)],
                                         outputs: try wanted.map { try Self.output($0, of: doc, keypointCount: model.config.keypointPredictor?.numKeypoints ?? 0) })
            return try InferResponse.encoder.encode(response)
        }
        return .json(body)
    }

    /// One output tensor of the answer, from the same document `/v1/detect` returns.
    static func output(_ name: String, of doc: DetectionDocument, keypointCount: Int = 0) throws -> InferResponse.Output {
        let n = doc.detections.count
        switch name {
        case "boxes":
            return .init(name: name, datatype: "FP32", shape: [n, 4], data: .float(doc.detections.flatMap { doc.formattedBox($0.box) }))
        case "scores":
            return .init(name: name, datatype: "FP32", shape: [n], data: .float(doc.detections.map(\.score)))
        case "labels":
            return .init(name: name, datatype: "INT64", shape: [n], data: .int(doc.detections.map(\.classId)))
        case "class_names":
            return .init(name: name, datatype: "BYTES", shape: [n], data: .string(doc.detections.map(\.label)))
        case "keypoints":  // [n, K, 3]: x, y, score per keypoint
            return .init(name: name, datatype: "FP32", shape: [n, keypointCount, 3],
                         data: .float(doc.detections.flatMap { ($0.keypoints ?? []).flatMap { $0 } }))
        default:  // "masks": each element is the COCO RLE object as JSON text
            let masks = try doc.detections.map { d -> String in
                guard let m = d.mask else { return "" }
                return String(decoding: try InferResponse.encoder.encode(m), as: UTF8.self)
            }
            return .init(name: name, datatype: "BYTES", shape: [masks.count], data: .string(masks))
        }
    }
}

/// The open inference protocol's response body, written by `JSONEncoder`.
struct InferResponse: Encodable {
    var modelName: String
    var modelVersion: String
    var id: String
    var parameters: [String: Parameter]
    var outputs: [Output]

    /// A response parameter: the protocol allows strings, numbers and booleans.
    enum Parameter: Encodable, ExpressibleByStringLiteral {
        case string(String), int(Int), bool(Bool)

        init(stringLiteral value: String) { self = .string(value) }

        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .string(let s): try c.encode(s)
            case .int(let i): try c.encode(i)
            case .bool(let b): try c.encode(b)
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case modelName = "model_name", modelVersion = "model_version", id, parameters, outputs
    }

    struct Output: Encodable {
        var name: String
        var datatype: String
        var shape: [Int]
        var data: TensorData
    }

    /// A flat tensor's elements, in the JSON type of its datatype.
    enum TensorData: Encodable {
        case float([Float]), int([Int]), string([String])

        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case let .float(v): try c.encode(v)
            case let .int(v): try c.encode(v)
            case let .string(v): try c.encode(v)
            }
        }
    }

    /// Non-finite floats (never produced: boxes are clipped, scores are probabilities) would be
    /// written as strings rather than fail the response.
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()
}
