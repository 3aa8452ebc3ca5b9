import Detection
import Dispatch
import Foundation
import Imaging

/// A detection request checked against the model that will run it: every client value resolved
/// (pipeline, class ids) before any image is decoded, so a bad request costs nothing heavy.
struct DetectionPlan {
    let model: DetectionModel
    let request: DetectRequest
    /// The pipeline that runs (the model's own when the request named none).
    let pipeline: DetectionModel.Pipeline
    /// Class ids to keep, nil for all.
    let classIDs: Set<Int>?
    /// Whether the mask head runs.
    let wantsMasks: Bool
    /// Whether the keypoint head runs (a keypoint model, a pipeline with one, and the request's
    /// `keypoints`).
    let wantsKeypoints: Bool
    /// Per-class score thresholds by class id.
    let classThresholds: [Int: Float]?
}

extension DetectionService {
    /// Resolves `request` against `model`: the pipeline (proposals imply `fast`), the class names.
    /// Errors are 422s naming the field.
    func plan(_ request: DetectRequest, model: DetectionModel) throws -> DetectionPlan {
        if let asked = request.proposals != nil ? request.pipeline : nil, asked != .fast && asked != .rcnn {
            throw APIError.unprocessable("proposals are used by the fast and rcnn pipelines, not '\(asked.rawValue)'")
        }
        let defaultPipeline = request.proposals != nil ? "fast" : model.defaultPipeline
        let name = request.pipeline?.rawValue ?? defaultPipeline
        guard model.pipelines.contains(name), let pipeline = DetectionModel.Pipeline(rawValue: name) else {
            throw APIError.unprocessable("model '\(model.name)' runs pipelines \(model.pipelines.joined(separator: ", ")), not '\(name)'")
        }
        var classIDs: Set<Int>?
        if let names = request.classes {
            var ids = Set<Int>()
            for n in names {
                guard let i = model.classes.firstIndex(of: n), i > 0 else {
                    throw APIError.unprocessable("unknown class '\(n)' for model '\(model.name)'")
                }
                ids.insert(i)
            }
            classIDs = ids
        }
        var classThresholds: [Int: Float]?
        if let named = request.classThresholds {
            var byID: [Int: Float] = [:]
            for (n, t) in named {
                guard let i = model.classes.firstIndex(of: n), i > 0 else {
                    throw APIError.unprocessable("class_thresholds: unknown class '\(n.prefix(64))' for model '\(model.name)'")
                }
                byID[i] = t
            }
            classThresholds = byID
        }
        if request.slice != .off && request.proposals != nil {
            throw APIError.unprocessable("slice and proposals cannot be combined: proposals are in whole-image pixels")
        }
        let wantsMasks = pipeline == .mask && (request.masks != .none || request.format != .json)
        let wantsKeypoints = model.hasKeypoints && pipeline != .rcnn && request.keypoints
        return DetectionPlan(model: model, request: request, pipeline: pipeline, classIDs: classIDs, wantsMasks: wantsMasks,
                             wantsKeypoints: wantsKeypoints, classThresholds: classThresholds)
    }

    /// Decodes the plan's image, runs the model and renders the answer with `render`, all as one
    /// job on an inference worker: decoding, inference and the full-size results (masks, an
    /// annotated image) are under the same admission bound, so at most `workers` requests hold
    /// decoded pixels at once and a refused request never costs a decode. Scheduler failures
    /// become 503s; errors thrown by the job (an undecodable image, proposals outside it) come
    /// back as they are.
    func run<T>(_ plan: DetectionPlan, render: @escaping (DecodedImage, Detections, StageTimings, SliceRun?) throws -> T) throws -> T {
        let deadline = DispatchTime.now() + .milliseconds(config.requestTimeoutMs)
        let job = { [self] () throws -> (T, StageTimings) in
            var timings = StageTimings()
            let decoded = try decodeImage(plan.request.image, upright: plan.request.orientation == .upright,
                                          background: plan.request.background, timings: &timings)
            let image = decoded.image
            var options = DetectionModel.Options(scoreThreshold: plan.request.scoreThreshold, maxDetections: plan.request.maxDetections,
                                                 masks: plan.wantsMasks, pipeline: plan.pipeline,
                                                 proposals: try clippedProposals(plan.request.proposals, image))
            options.classes = plan.classIDs
            options.classScoreThresholds = plan.classThresholds
            options.maskThreshold = plan.request.maskThreshold
            options.keypoints = plan.wantsKeypoints
            if let slicing = Self.slicing(plan, image) {
                let result = plan.model.detectSliced(image, options: options, slicing: slicing) { [scheduler] count, body in
                    scheduler.spread(count, body)
                }
                timings.append(result.timings)
                metrics.sliceTiles.inc([plan.model.name], by: Double(result.report.tiles))
                return (try render(decoded, result.detections, timings, SliceRun(options: slicing, report: result.report)), result.timings)
            }
            let result = plan.model.detect(image, options: options)
            timings.append(result.timings)
            return (try render(decoded, result.detections, timings, nil), result.timings)
        }
        do {
            let (value, modelTimings) = try scheduler.run(deadline: deadline, job)
            metrics.observeInference(model: plan.model.name, pipeline: plan.pipeline.rawValue, stages: modelTimings.stages)
            return value
        } catch InferenceScheduler.Failure.queueFull {
            metrics.inferenceRejected.inc(["queue_full"])
            throw Self.overloaded
        } catch InferenceScheduler.Failure.deadlineExceeded {
            metrics.inferenceRejected.inc(["deadline_exceeded"])
            throw APIError(503, "deadline_exceeded", "the request did not finish within \(config.requestTimeoutMs) ms", headers: [("Retry-After", "1")])
        } catch InferenceScheduler.Failure.stopped {
            metrics.inferenceRejected.inc(["shutting_down"])
            throw APIError(503, "shutting_down", "the server is shutting down")
        }
    }

    /// The tile settings when the request slices this image: `slice=on`, or `slice=auto` and the
    /// image's longer side is more than twice the model's `max_size` or its shorter side more than
    /// twice its `min_size`. The tile size defaults to the model's `min_size` (tiles are then run
    /// at about their own scale).
    static func slicing(_ plan: DetectionPlan, _ image: RGBImage) -> SliceOptions? {
        let t = plan.model.config.transform
        switch plan.request.slice {
        case .off: return nil
        case .auto:
            guard max(image.width, image.height) > 2 * t.maxSize || min(image.width, image.height) > 2 * t.minSize else { return nil }
        case .on: break
        }
        var s = plan.request.slicing
        if !plan.request.sliceSizeGiven { s.tileSize = t.minSize }
        return s
    }

    /// Client proposals clipped to the image; a box left empty by clipping is an error, not
    /// silently dropped.
    func clippedProposals(_ given: [[Float]]?, _ image: RGBImage) throws -> [Box]? {
        try given?.enumerated().map { i, b in
            let c = Box(b[0], b[1], b[2], b[3]).clipped(width: Float(image.width), height: Float(image.height))
            guard c.width > 0, c.height > 0 else {
                throw APIError.unprocessable("proposals[\(i)] \(b) lies outside the \(image.width)x\(image.height) image")
            }
            return c
        }
    }

    /// Decodes `bytes` (counting it in the metrics) into `timings` under `decode`, turned upright
    /// by its EXIF orientation when `upright`, transparency composited over `background` (nil:
    /// alpha dropped).
    func decodeImage(_ bytes: [UInt8], upright: Bool, background: RGBColor?, timings: inout StageTimings) throws -> DecodedImage {
        do {
            let image = try timings.measure("decode") {
                try ImageDecoder.decodeWithInfo(bytes, maxPixels: config.maxImagePixels, applyEXIFOrientation: upright,
                                                background: background)
            }
            metrics.imagesDecoded.inc([ImageFormat.sniff(bytes)?.rawValue ?? "unknown"])
            return image
        } catch let e as ImageDecodingError {
            metrics.imageDecodeFailures.inc([e.code])
            if case .tooLarge = e { throw APIError(413, e.code, e.description) }
            throw APIError.badRequest(e.description, code: e.code)
        }
    }
}

/// A sliced run's settings and what it did, for the answer.
struct SliceRun {
    let options: SliceOptions
    let report: SliceReport
}
