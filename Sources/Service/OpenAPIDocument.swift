import Foundation

/// The OpenAPI 3.0 description of every route in `Route.all`, served at `GET /openapi.json`.
///
/// Written out by hand as nested literals (shared pieces, such as the detection options and the
/// error responses, are built once and reused); `OpenAPITests` checks that every route the router
/// serves is described, with the same methods.
enum OpenAPIDocument {
    static let json: String = {
        let data = (try? JSONSerialization.data(withJSONObject: document(), options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }()

    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    static func jsonContent(_ schema: [String: Any]) -> [String: Any] { ["application/json": ["schema": schema]] }
    static func response(_ description: String, _ schema: String, headers: [String: Any]? = nil) -> [String: Any] {
        var r: [String: Any] = ["description": description, "content": jsonContent(ref(schema))]
        if let headers { r["headers"] = headers }
        return r
    }

    static let retryAfter: [String: Any] = ["Retry-After": ["description": "Seconds to wait before retrying.", "schema": ["type": "integer"]]]
    static let allow: [String: Any] = ["Allow": ["description": "The methods the route serves.", "schema": ["type": "string"]]]
    static let wwwAuthenticate: [String: Any] = ["WWW-Authenticate": ["description": "`Bearer realm=\"rcnn\"`", "schema": ["type": "string"]]]

    /// Error responses every route can give (in the route family's error schema).
    static func errors(_ schema: String, _ statuses: [Int], auth: Bool) -> [String: Any] {
        let text: [Int: String] = [
            400: "Bad request: invalid parameters, body or image.", 401: "An API key is configured and the request lacks it.",
            404: "No such route or model.", 405: "Method not allowed.", 408: "The request was not received in time.",
            411: "A body without a length.", 413: "The body or the image is too large.", 415: "Unsupported Content-Type.",
            422: "Invalid option values.", 431: "Header section too large.", 503: "Overloaded, past the deadline, not ready or shutting down.",
        ]
        var out: [String: Any] = [:]
        for s in statuses + (auth ? [401] : []) {
            var headers: [String: Any]?
            if s == 503 { headers = retryAfter } else if s == 405 { headers = allow } else if s == 401 { headers = wwwAuthenticate }
            out[String(s)] = response(text[s] ?? "Error.", schema, headers: headers)
        }
        return out
    }

    static func pathParam(_ name: String, _ description: String) -> [String: Any] {
        ["name": name, "in": "path", "required": true, "description": description, "schema": ["type": "string"]]
    }

    static let optionSchemas: [String: [String: Any]] = [
        "score_threshold": ["type": "number", "minimum": 0, "maximum": 1, "description": "Drop detections scoring below this (default: the model's box_score_thresh)."],
        "max_detections": ["type": "integer", "minimum": 1, "maximum": 1000, "description": "Keep at most this many detections (default: the model's)."],
        "classes": ["type": "string", "description": "Class names to keep, comma-separated (in JSON bodies also an array of names)."],
        "masks": ["type": "string", "enum": ["rle", "polygon", "probabilities", "none"], "default": "rle", "description": "Mask encoding: COCO compressed RLE, polygons, the mask head's 28x28 probabilities with the box they cover (for clients that paste masks themselves), or none."],
        "keypoints": ["type": "boolean", "default": true, "description": "Keypoint models: false leaves keypoints out of the answer and the annotated image, and the keypoint head does not run."],
        "keypoint_threshold": ["type": "number", "minimum": -1e6, "maximum": 1e6, "default": 0, "description": "Keypoint models: keypoints whose score (heatmap logit) is at or under this are not drawn on the annotated image; the JSON lists every keypoint."],
        "mask_threshold": ["type": "number", "exclusiveMinimum": true, "minimum": 0, "exclusiveMaximum": true, "maximum": 1, "default": 0.5, "description": "The probability a pixel must exceed to be in a mask (RLE, polygons, the annotated image)."],
        "class_thresholds": ["type": "string", "description": "Per-class score thresholds as a JSON object of class name to threshold in [0, 1], e.g. {\"person\": 0.9, \"car\": 0.5}; classes not named keep score_threshold (in JSON bodies also an object)."],
        "box_format": ["type": "string", "enum": ["xyxy", "xywh", "normalized"], "default": "xyxy", "description": "Boxes as [x1, y1, x2, y2] pixels, [x, y, width, height] pixels, or [x1, y1, x2, y2] divided by the image's width and height."],
        "pipeline": ["type": "string", "enum": ["mask", "faster", "fast", "rcnn"], "description": "Pipeline to run: mask (Mask R-CNN, mask models only), faster (Faster R-CNN), fast (Fast R-CNN on the client's proposals, or selective search's), rcnn (R-CNN: each proposal warped and run through the network alone; at most 100 regions). Default: the model's first."],
        "proposals": ["type": "string", "description": "Proposals for the fast or rcnn pipeline as a JSON array of [x1, y1, x2, y2] boxes in image pixels (at most 5000); implies pipeline=fast unless rcnn is asked for."],
        "format": ["type": "string", "enum": ["json", "png", "jpeg"], "default": "json", "description": "JSON detections, or the image annotated with them (also chosen by `Accept: image/png|image/jpeg`)."],
        "background": ["type": "string", "default": "white", "pattern": "^(#?[0-9A-Fa-f]{6}|white|black|none)$", "description": "What a transparent PNG is composited over: #RRGGBB, white or black; none drops the alpha channel (the colours stored under transparent pixels show)."],
        "slice": ["type": "string", "enum": ["off", "on", "auto"], "default": "off", "description": "Sliced inference for large images: cut into overlapping tiles, detect per tile, merge. auto slices only when the image's longer side exceeds twice the model's max_size or its shorter side twice its min_size."],
        "slice_size": ["type": "integer", "minimum": 64, "maximum": 4096, "description": "Tile side in pixels (default: the model's min_size)."],
        "slice_overlap": ["type": "number", "minimum": 0, "maximum": 0.9, "default": 0.2, "description": "Fraction of a tile shared with its neighbour."],
        "slice_full_pass": ["type": "boolean", "default": false, "description": "Also detect on the whole image (for objects larger than a tile)."],
        "slice_merge": ["type": "string", "enum": ["greedy", "nms"], "default": "greedy", "description": "greedy: the best detection absorbs its matches (box union, mask union); nms: the best survives as it is."],
        "slice_match": ["type": "string", "enum": ["iou", "ios"], "default": "iou", "description": "Match metric: intersection over union, or over the smaller box."],
        "slice_match_threshold": ["type": "number", "minimum": 0, "maximum": 1, "default": 0.5, "description": "Detections of a class match above this."],
        "orientation": ["type": "string", "enum": ["upright", "stored"], "default": "upright", "description": "upright: apply the file's EXIF orientation (as browsers show the photo); boxes, masks, width and height are in that frame. stored: keep the pixels as stored."],
    ]

    static var queryOptions: [[String: Any]] {
        optionSchemas.keys.sorted().map { ["name": $0, "in": "query", "required": false, "schema": optionSchemas[$0]!] }
    }

    static func detectOperation(named: Bool) -> [String: Any] {
        var jsonBody = optionSchemas
        jsonBody["image"] = ["type": "string", "format": "byte", "minLength": 8, "pattern": "^(data:image/[a-z]+;base64,)?(/9j/|iVBORw0KGgo)",
                             "description": "The JPEG or PNG, base64 (a `data:` URL prefix is allowed)."]
        jsonBody["classes"] = ["oneOf": [["type": "string"], ["type": "array", "items": ["type": "string"]]], "description": "Class names to keep."]
        jsonBody["class_thresholds"] = ["oneOf": [["type": "string"], ["type": "object", "additionalProperties": ["type": "number", "minimum": 0, "maximum": 1]]],
                                        "description": "Per-class score thresholds: class name to threshold."]
        jsonBody["proposals"] = ["type": "array", "minItems": 1, "maxItems": 5000,
                                 "items": ["type": "array", "items": ["type": "number"], "minItems": 4, "maxItems": 4],
                                 "description": "Fast R-CNN proposals, [x1, y1, x2, y2] in image pixels; implies pipeline=fast."]
        var multipart = optionSchemas
        multipart["image"] = ["type": "string", "format": "binary"]
        let binary: [String: Any] = ["schema": ["type": "string", "format": "binary"]]
        var responses: [String: Any] = [
            "200": ["description": "The detections (JSON), or the annotated image.",
                    "content": ["application/json": ["schema": ref("DetectionDocument")],
                                "image/png": binary, "image/jpeg": binary]],
        ]
        responses.merge(errors("Error", [400, 404, 405, 408, 411, 413, 415, 422, 431, 503], auth: true)) { $1 }
        return [
            "operationId": named ? "detectWithModel" : "detect",
            "summary": named ? "Detect objects with the named model." : "Detect objects with the default model.",
            "parameters": (named ? [pathParam("name", "The model's name.")] : []) + queryOptions,
            "requestBody": [
                "required": true,
                "description": "The image, raw or wrapped. Options in the body win over the query.",
                "content": [
                    "image/jpeg": binary, "image/png": binary, "application/octet-stream": binary,
                    "multipart/form-data": ["schema": ["type": "object", "required": ["image"], "properties": multipart, "additionalProperties": false]],
                    "application/json": ["schema": ["type": "object", "required": ["image"], "properties": jsonBody, "additionalProperties": false]],
                ],
            ],
            "responses": responses,
        ]
    }

    static func get(_ id: String, _ summary: String, _ ok: [String: Any], params: [[String: Any]] = [], errors errs: [String: Any]) -> [String: Any] {
        var responses: [String: Any] = ["200": ok]
        responses.merge(errs) { $1 }
        var op: [String: Any] = ["operationId": id, "summary": summary, "responses": responses]
        if !params.isEmpty { op["parameters"] = params }
        return op
    }

    static func document() -> [String: Any] {
        let name = pathParam("name", "The model's name.")
        let version = pathParam("version", "The model version; only `1` exists.")
        let v2Errors = { (statuses: [Int]) in errors("V2Error", statuses, auth: true) }
        let text: ([String]) -> [String: Any] = { types in Dictionary(uniqueKeysWithValues: types.map { ($0, ["schema": ["type": "string"]]) }) }

        var paths: [String: [String: Any]] = [
            "/": ["get": get("webPage", "The web page: upload an image and see the detections drawn.",
                             ["description": "A self-contained HTML page.", "content": text(["text/html; charset=utf-8"])], errors: errors("Error", [405], auth: true))],
            "/healthz": ["get": get("healthz", "Liveness: the process answers.", response("Alive.", "Status"), errors: errors("Error", [405], auth: false))],
            "/readyz": ["get": get("readyz", "Readiness: every model loaded and warmed up.", response("Ready.", "Status"),
                                   errors: errors("Error", [405, 503], auth: false))],
            "/metrics": ["get": get("metrics", "Prometheus metrics, text exposition format 0.0.4.",
                                    ["description": "Metrics.", "content": text(["text/plain; version=0.0.4; charset=utf-8"])], errors: errors("Error", [405], auth: true))],
            "/openapi.json": ["get": get("openapi", "This document.", ["description": "OpenAPI 3.0 document.", "content": jsonContent(["type": "object"])],
                                         errors: errors("Error", [405], auth: true))],
            "/v1/models": ["get": get("listModels", "The models served.", response("The models.", "ModelList"), errors: errors("Error", [405], auth: true))],
            "/v1/models/{name}": ["get": get("getModel", "One model.", response("The model.", "ModelInfo"), params: [name], errors: errors("Error", [404, 405], auth: true))],
            "/v1/detect": ["post": detectOperation(named: false)],
            "/v1/models/{name}/detect": ["post": detectOperation(named: true)],
            "/v2": ["get": get("v2ServerMetadata", "Open inference protocol: server metadata.", response("Server metadata.", "V2ServerMetadata"), errors: v2Errors([405]))],
            "/v2/health/live": ["get": get("v2Live", "Open inference protocol: liveness.", response("Live.", "V2Live"), errors: errors("V2Error", [405], auth: false))],
            "/v2/health/ready": ["get": get("v2Ready", "Open inference protocol: readiness (400 while not ready).",
                                            response("Ready.", "V2Ready"), errors: ["400": response("Not ready.", "V2Ready"), "405": response("Method not allowed.", "V2Error", headers: allow)])],
        ]
        for versioned in [false, true] {
            let prefix = versioned ? "/v2/models/{name}/versions/{version}" : "/v2/models/{name}"
            let params = versioned ? [name, version] : [name]
            let suffix = versioned ? "Version" : ""
            paths[prefix] = ["get": get("v2ModelMetadata" + suffix, "Open inference protocol: model metadata.", response("Model metadata.", "V2ModelMetadata"),
                                        params: params, errors: v2Errors([404, 405]))]
            var readyErrors = v2Errors([404, 405])
            readyErrors["400"] = response("Not ready.", "V2ModelReady")
            paths[prefix + "/ready"] = ["get": get("v2ModelReady" + suffix, "Open inference protocol: model readiness (400 while not ready).",
                                                   response("Ready.", "V2ModelReady"), params: params, errors: readyErrors)]
            var inferResponses: [String: Any] = ["200": response("The output tensors.", "V2InferResponse")]
            inferResponses.merge(v2Errors([400, 404, 405, 408, 411, 413, 431, 503])) { $1 }
            paths[prefix + "/infer"] = ["post": [
                "operationId": "v2Infer" + suffix,
                "summary": "Open inference protocol: detect objects in one image.",
                "parameters": params,
                "requestBody": ["required": true,
                                "description": "JSON, or (binary tensor data extension) a JSON header followed by the input's bytes, with the header's length in the `Inference-Header-Content-Length` request header and `parameters.binary_data_size` on the input.",
                                "content": ["application/json": ["schema": ref("V2InferRequest")]]],
                "responses": inferResponses,
            ]]
        }
        paths.merge(repositoryPaths(name: name, v2Errors: v2Errors)) { $1 }
        // Every route answers OPTIONS (204 with Allow; the CORS preflight headers for allowed origins).
        for (path, var item) in paths {
            var op: [String: Any] = [
                "operationId": "options" + path.replacingOccurrences(of: "[^A-Za-z0-9]", with: "_", options: .regularExpression),
                "summary": "Allowed methods; CORS preflight.",
                "security": [[String: Any]](),
                "responses": ["204": ["description": "The methods in `Allow`."]],
            ]
            if let p = (item.values.first as? [String: Any])?["parameters"] as? [[String: Any]] {
                op["parameters"] = p.filter { $0["in"] as? String == "path" }
            }
            item["options"] = op
            paths[path] = item
        }
        for probe in ["/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"] {
            var get = paths[probe]!["get"] as! [String: Any]
            get["security"] = [[String: Any]]()
            paths[probe]!["get"] = get
        }

        return [
            "openapi": "3.0.3",
            "info": [
                "title": "rcnn object-detection server",
                "version": DetectionService.serverVersion,
                "description": "R-CNN family detection over HTTP: the native JSON API under /v1, the KServe/Triton open inference protocol v2 under /v2, Prometheus metrics and probes. Native errors are {\"error\": {\"code\", \"message\"}}; /v2 errors are {\"error\": \"message\"}. GET routes also answer HEAD. When the server has an API key, every route except the probes needs `Authorization: Bearer <key>`.",
            ],
            "security": [[String: Any](), ["bearerAuth": [String]()]],
            "paths": paths,
            "components": ["securitySchemes": ["bearerAuth": ["type": "http", "scheme": "bearer"]], "schemas": schemas()],
        ]
    }

    /// The model repository extension (`DetectionService+Repository.swift`).
    static func repositoryPaths(name: [String: Any], v2Errors: ([Int]) -> [String: Any]) -> [String: [String: Any]] {
        let optionalJSON = { (schema: [String: Any]) -> [String: Any] in ["required": false, "content": jsonContent(schema)] }
        let indexErrors = v2Errors([400, 404, 405])
        let index: [String: Any] = ["description": "Every served model and every NAME.json in the repository directory.",
                                    "content": jsonContent(["type": "array", "items": ref("V2RepositoryEntry")])]
        var paths: [String: [String: Any]] = [:]
        var post = get("v2RepositoryIndexPost", "Model repository: the index, optionally only the ready models.", index, errors: indexErrors)
        post["requestBody"] = optionalJSON(["type": "object", "properties": ["ready": ["type": "boolean"]], "additionalProperties": false])
        paths["/v2/repository/index"] = ["get": get("v2RepositoryIndex", "Model repository: the index.", index, errors: indexErrors), "post": post]
        for action in ["load", "unload"] {
            var op = get("v2Repository" + action.prefix(1).uppercased() + action.dropFirst(),
                         action == "load"
                             ? "Model repository: load NAME.json from the repository directory and serve it (replacing a served model of that name once warmed up)."
                             : "Model repository: stop serving the model; answers once the requests in flight on it have finished.",
                         response(action == "load" ? "Loaded and serving." : "Unloaded.", "V2RepositoryAnswer"),
                         params: [name], errors: v2Errors(action == "load" ? [400, 404, 405] : [400, 404, 405, 409]))
            op["requestBody"] = optionalJSON(["type": "object", "properties": ["parameters": ["type": "object"]], "additionalProperties": false])
            paths["/v2/repository/models/{name}/\(action)"] = ["post": op]
        }
        return paths
    }

    static func schemas() -> [String: Any] {
        let str: [String: Any] = ["type": "string"]
        let int: [String: Any] = ["type": "integer"]
        let num: [String: Any] = ["type": "number"]
        // OpenAPI 3.0 (JSON Schema draft 4/5) requires a non-empty `required` list when present.
        func object(_ props: [String: Any], required: [String]? = nil) -> [String: Any] {
            let names = required ?? props.keys.sorted()
            var schema: [String: Any] = ["type": "object", "properties": props]
            if !names.isEmpty { schema["required"] = names }
            return schema
        }
        func array(_ items: [String: Any]) -> [String: Any] { ["type": "array", "items": items] }
        let tensor = object(["name": str, "datatype": ["type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"]],
                             "shape": array(int), "parameters": ["type": "object"],
                             "data": ["type": "array", "items": [:] as [String: Any], "description": "Row-major, flat or nested."]],
                            required: ["name", "datatype", "shape"])
        return [
            "Error": object(["error": object(["code": str, "message": str])]),
            "V2Error": object(["error": str]),
            "Status": object(["status": str]),
            "ModelInfo": object(["name": str, "architecture": str, "task": str, "pipelines": array(str), "classes": array(str),
                                 "min_size": int, "max_size": int, "weights": str, "weights_sha256": ["type": "string", "nullable": true], "ready": ["type": "boolean"],
                                 "precision": ["type": "string", "enum": ["float32", "int8"], "description": "int8 for a variant written by rcnn calibrate."],
                                 "int8_layers": ["type": "integer", "description": "int8 variants: layers that run in int8."],
                                 "float_layers": ["type": "integer", "description": "int8 variants: layers left in float32."],
                                 "float_weight_layers": ["type": "integer", "description": "int8 variants: int8 layers that read their input levels with float32 weights (the RPN's objectness and box layers)."],
                                 "weight_bits": ["type": "integer", "enum": [7, 8], "description": "int8 variants: bits of the int8 layers' weight levels."],
                                 "activation_bits": ["type": "integer", "enum": [7, 8], "description": "int8 variants: bits of the activation levels (7 for variants calibrated before 8-bit activations)."],
                                 "residual_joins": ["type": "string", "enum": ["float", "int8"], "description": "int8 variants: how ResNet blocks add their identity shortcut (int8: from the input's levels)."],
                                 "box_head_svd": ["type": "array", "description": "present when the box head runs its truncated SVD (svd_rank / svd_energy in the server config)",
                                                  "items": object(["out_features": int, "in_features": int, "rank": int, "energy": ["type": "number"]],
                                                                  required: ["out_features", "in_features", "rank", "energy"])],
                                 "keypoints": ["type": "array", "items": str, "description": "Keypoint models: keypoint names, in the order each detection's keypoints are listed."],
                                 "skeleton": ["type": "array", "items": ["type": "array", "items": int, "minItems": 2, "maxItems": 2],
                                              "description": "Keypoint models: pairs of keypoint indices joined when a pose is drawn."]],
                                required: ["name", "architecture", "task", "pipelines", "classes", "min_size", "max_size", "weights", "ready", "precision"]),
            "ModelList": object(["models": array(ref("ModelInfo"))]),
            "Mask": object(["size": ["type": "array", "items": int, "minItems": 2, "maxItems": 2, "description": "[height, width] of the image (rle, polygon)."],
                            "counts": ["type": "string", "description": "COCO compressed RLE (column-major)."],
                            "polygons": array(array(num)),
                            "resolution": ["type": "array", "items": int, "minItems": 2, "maxItems": 2, "description": "[rows, columns] of probabilities (masks=probabilities)."],
                            "box": ["type": "array", "items": num, "minItems": 4, "maxItems": 4, "description": "[x1, y1, x2, y2] in image pixels that the probability grid covers."],
                            "probabilities": ["type": "array", "items": num, "description": "Row-major mask probabilities of the detected class."]], required: []),
            "Detection": object(["label": str, "class_id": int, "score": num,
                                 "box": ["type": "array", "items": num, "minItems": 4, "maxItems": 4, "description": "[x1, y1, x2, y2] in original-image pixels, or as box_format asks."],
                                 "mask": ref("Mask"),
                                 "keypoints": ["type": "array", "items": ["type": "array", "items": num, "minItems": 3, "maxItems": 3],
                                               "description": "Keypoint models: [x, y, score] per keypoint in the model's keypoint order (GET /v1/models/{name} names them), in original-image pixels; score is the heatmap logit at the point."]],
                                required: ["label", "class_id", "score", "box"]),
            "DetectionDocument": object(["model": str, "pipeline": str, "image": object(["width": int, "height": int,
                                                                                                   "orientation": ["type": "integer", "minimum": 1, "maximum": 8, "description": "The file's EXIF orientation tag (1 when it has none)."],
                                                                                                   "orientation_applied": ["type": "boolean", "description": "Whether the image was turned upright by it before detection."]]),
                                         "preprocessing": object(["resized": ["type": "array", "items": int, "minItems": 2, "maxItems": 2, "description": "[height, width] after the model's resize, before padding."],
                                                                  "scale": ["type": "number", "description": "The resize factor."]]),
                                         "box_format": ["type": "string", "enum": ["xywh", "normalized"], "description": "Present when boxes are not [x1, y1, x2, y2] pixels."],
                                         "slicing": object(["tiles": int, "size": int, "overlap": num, "full_pass": ["type": "boolean"], "merge": str, "match": str,
                                                            "match_threshold": num, "candidates": int,
                                                            "threads": ["type": "integer", "description": "Inference workers that ran tiles (idle workers help a sliced request)."],
                                                            "wall_ms": ["type": "number", "description": "Wall-clock time of the tiles; timings_ms sums the stages over tiles."]]),
                                         "detections": array(ref("Detection")),
                                         "timings_ms": ["type": "object", "additionalProperties": num, "description": "Milliseconds per stage in the order they ran, plus total."]],
                                        required: ["model", "pipeline", "image", "detections", "timings_ms"]),
            "V2ServerMetadata": object(["name": str, "version": str, "extensions": array(str)]),
            "V2Live": object(["live": ["type": "boolean"]]),
            "V2Ready": object(["ready": ["type": "boolean"]]),
            "V2ModelReady": object(["name": str, "ready": ["type": "boolean"]]),
            "V2TensorMetadata": object(["name": str, "datatype": str, "shape": array(int)]),
            "V2ModelMetadata": object(["name": str, "versions": array(str), "platform": str,
                                       "inputs": array(ref("V2TensorMetadata")), "outputs": array(ref("V2TensorMetadata"))]),
            "V2Tensor": tensor,
            "V2ImageInput": object(["name": ["type": "string", "enum": ["image"]], "datatype": ["type": "string", "enum": ["BYTES"]],
                                    "shape": ["type": "array", "items": ["type": "integer", "enum": [1]], "minItems": 1, "maxItems": 1],
                                    "data": ["type": "array", "minItems": 1, "maxItems": 1,
                                             "items": ["type": "string", "format": "byte", "pattern": "^(/9j/|iVBORw0KGgo)", "description": "The JPEG or PNG, base64."]]],
                                   required: ["name", "datatype", "shape", "data"]),
            "V2InferRequest": object(["id": str,
                                      "parameters": object(Dictionary(uniqueKeysWithValues: ["score_threshold", "max_detections", "pipeline", "classes", "proposals",
                                                                                             "orientation", "background", "class_thresholds", "mask_threshold", "box_format",
                                                                                             "keypoints", "keypoint_threshold", "slice", "slice_size", "slice_overlap", "slice_full_pass", "slice_merge", "slice_match",
                                                                                             "slice_match_threshold"]
                                                                .map { ($0, optionSchemas[$0]!) }), required: []),
                                      "inputs": ["type": "array", "items": ref("V2ImageInput"), "minItems": 1, "maxItems": 1,
                                                 "description": "One input: image, BYTES, shape [1], data [base64] (or binary_data_size with the binary extension)."],
                                      "outputs": array(object(["name": ["type": "string", "enum": ["boxes", "scores", "labels", "class_names", "masks", "keypoints"],
                                                                          "description": "masks only with the mask pipeline; keypoints only for keypoint models, with any pipeline but rcnn (the keypoint head runs only when keypoints is requested, or when outputs is left out)."],
                                                                 "parameters": ["type": "object"]], required: ["name"]))],
                                     required: ["inputs"]),
            "V2RepositoryEntry": object(["name": str, "version": str, "state": ["type": "string", "enum": ["READY", "UNAVAILABLE", "LOADING", "UNLOADING"]], "reason": str]),
            "V2RepositoryAnswer": object(["name": str, "load": ["type": "boolean"], "unload": ["type": "boolean"]], required: ["name"]),
            "V2InferResponse": object(["model_name": str, "model_version": str, "id": str, "parameters": ["type": "object"],
                                       "outputs": ["type": "array", "items": ref("V2Tensor"),
                                                   "description": "boxes FP32 [N,4], scores FP32 [N], labels INT64 [N], class_names BYTES [N], masks BYTES [N] (COCO RLE JSON strings; mask pipeline)."]],
                                      required: ["model_name", "outputs"]),
        ]
    }
}
