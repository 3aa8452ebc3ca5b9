import Detection
import HTTP
import Imaging

extension DetectionService {
    /// `POST /v1/detect` and `POST /v1/models/{name}/detect`: JSON (boxes, labels, scores, masks,
    /// timings) or the annotated image.
    func detect(_ r: HTTPRequest, model: DetectionModel) throws -> HTTPResponse {
        var request = try DetectRequest.parse(r)
        if request.format == .json, let accept = r.headers["Accept"]?.lowercased() {
            if accept.contains("image/png") { request.format = .png } else if accept.contains("image/jpeg") { request.format = .jpeg }
        }
        let plan = try plan(request, model: model)
        return try run(plan) { decoded, detections, timings in
            let image = decoded.image
            switch request.format {
            case .png, .jpeg:
                let drawn = Annotator.draw(image, detections, classes: model.classes)
                let png = request.format == .png
                var resp = HTTPResponse(status: 200, body: png ? try ImageEncoder.png(drawn) : try ImageEncoder.jpeg(drawn, quality: 90))
                resp.headers.replaceOrAdd(name: "Content-Type", value: png ? "image/png" : "image/jpeg")
                return resp
            case .json:
                let doc = DetectionDocument(model: model.name, pipeline: plan.pipeline.rawValue, imageWidth: image.width,
                                            imageHeight: image.height, detections: detections, classes: model.classes,
                                            timings: timings, masks: DetectionDocument.MaskEncoding(rawValue: request.masks.rawValue) ?? .rle,
                                            orientation: decoded.exifOrientation?.rawValue ?? 1, orientationApplied: decoded.orientationApplied)
                return .json(try doc.jsonData())
            }
        }
    }
}
