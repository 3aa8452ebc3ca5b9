import Foundation
import HTTP

/// The model repository extension of the open inference protocol (Triton's and KServe's):
///
/// - `GET /v2/repository/index`, or `POST` with an optional `{"ready": true}`: a JSON array of
///   `{"name", "version", "state", "reason"}` for every model served and every `NAME.json` in the
///   repository directory (`state` READY, UNAVAILABLE, LOADING or UNLOADING).
/// - `POST /v2/repository/models/{name}/load`: loads `NAME.json` (a served model of that name is
///   replaced once the new one is warmed up); answers `{"name", "load": true}`.
/// - `POST /v2/repository/models/{name}/unload`: stops serving the model, answering once the
///   requests in flight on it have finished; `{"name", "unload": true}`.
///
/// Behind the API key like every non-probe route; off (404) unless `model_repository` is set.
/// Load and unload bodies may be empty or a JSON object; load `parameters` (Triton's config and
/// file overrides) are refused, since the repository is the directory.
extension DetectionService {
    func repositoryRequest(_ r: HTTPRequest, _ route: Route, _ params: [String: String]) throws -> HTTPResponse {
        guard let repository else {
            throw APIError.notFound("the model repository API is off: set model_repository (RCNN_MODEL_REPOSITORY, rcnn serve --model-repository) to a directory of model configs")
        }
        let body = try Self.repositoryBody(r)
        switch route.endpoint {
        case .v2RepositoryIndex:
            var readyOnly = false
            if let ready = body["ready"] {
                guard let number = ready as? NSNumber, ClientValue.isBoolean(number) else {
                    throw APIError.badRequest("\"ready\" must be true or false")
                }
                readyOnly = number.boolValue
            }
            try Self.refuseUnknownKeys(body, allowed: ["ready"])
            return .json(repository.index(readyOnly: readyOnly))
        case .v2RepositoryLoad, .v2RepositoryUnload:
            try Self.refuseUnknownKeys(body, allowed: ["parameters"])
            if let p = body["parameters"] {
                guard let parameters = p as? [String: Any] else { throw APIError.badRequest("\"parameters\" must be an object") }
                let allowed: Set<String> = route.endpoint == .v2RepositoryUnload ? ["unload_dependents"] : []
                if let key = parameters.keys.sorted().first(where: { !allowed.contains($0) }) {
                    throw APIError.badRequest("parameter '\(key.prefix(64))' is not supported: models load from NAME.json in the repository directory")
                }
            }
            let name = params["name"]!
            let load = route.endpoint == .v2RepositoryLoad
            let action = load ? "load" : "unload"
            do {
                if load { try repository.load(name) } else { try repository.unload(name) }
                metrics.repositoryOperations.inc([action, "ok"])
            } catch let failure as ModelRepository.Failure {
                metrics.repositoryOperations.inc([action, "error"])
                switch failure {
                case .invalidName(let m): throw APIError.badRequest(m)
                case .notFound(let m): throw APIError.notFound(m)
                case .conflict(let m): throw APIError(409, "conflict", m)
                case .invalidModel(let m): throw APIError.badRequest(m, code: "invalid_model")
                }
            }
            return .json(load ? RepositoryAnswer(name: name, load: true) : RepositoryAnswer(name: name, unload: true))
        default:
            throw APIError.notFound("no route for \(r.path)")
        }
    }

    struct RepositoryAnswer: Encodable {
        var name: String
        var load: Bool?
        var unload: Bool?
    }

    /// An empty body, or a JSON object.
    private static func repositoryBody(_ r: HTTPRequest) throws -> [String: Any] {
        guard r.method == "POST", !r.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else { return [:] }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] else {
            throw APIError.badRequest("the body must be empty or a JSON object")
        }
        return object
    }

    private static func refuseUnknownKeys(_ body: [String: Any], allowed: Set<String>) throws {
        if let key = body.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.badRequest("unknown field '\(key.prefix(64))'; allowed: \(allowed.sorted().joined(separator: ", "))")
        }
    }
}
