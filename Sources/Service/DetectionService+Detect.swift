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
        return try run(plan) { decoded, detections, timings, sliced in
            let image = decoded.image
            switch request.format {
            case .png, .jpeg:
                let drawn = Annotator.draw(image, detections, classes: model.classes, skeleton: model.config.keypointSkeleton ?? [],
                                           keypointThreshold: request.keypointThreshold)
                let png = request.format == .png
                var resp = HTTPResponse(status: 200, body: png ? try ImageEncoder.png(drawn) : try ImageEncoder.jpeg(drawn, quality: 90))
                resp.headers.replaceOrAdd(name: "Content-Type", value: png ? "image/png" : "image/jpeg")
                return resp
            case .json:
                var doc = DetectionDocument(model: model.name, pipeline: plan.pipeline.rawValue, imageWidth: image.width,
                                            imageHeight: image.height, detections: detections, classes: model.classes,
                                            timings: timings, masks: DetectionDocument.MaskEncoding(rawValue: request.masks.rawValue) ?? .rle,
                                            orientation: decoded.exifOrientation?.rawValue ?? 1, orientationApplied: decoded.orientationApplied)
                doc.boxFormat = request.boxFormat
                doc.preprocessing = self.preprocessing(plan, sliced.map { s in
                    let tile = s.options.tiles(width: image.width, height: image.height)[0]
                    return (tile.height, tile.width)
                } ?? (image.height, image.width))
                doc.slicing = sliced.map { DetectionDocument.Slicing($0.options, $0.report) }
                return .json(try doc.jsonData())
            }
        }
    }
}

extension DetectionService {
    /// The model's resize of `image` (size and scale), for pipelines that resize the whole image;
    /// nil for R-CNN, which warps each region to a fixed size instead.
    /// `input` is the image's size, or a tile's when the request was sliced.
    func preprocessing(_ plan: DetectionPlan, _ input: (h: Int, w: Int)) -> DetectionDocument.Preprocessing? {
        guard plan.pipeline != .rcnn else { return nil }
        let p = plan.model.preprocessor
        let size = p.resizedSize(h: input.h, w: input.w)
        return DetectionDocument.Preprocessing(resizedHeight: size.h, resizedWidth: size.w, scale: p.scale(h: input.h, w: input.w))
    }
}
