import ArgumentParser
import Detection
import Foundation
import Imaging
import Tensor

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detect objects in an image and print the JSON document to stdout.")

    @OptionGroup var model: ModelOptions

    @Argument(help: "A JPEG or PNG image.")
    var image: String

    @Option(name: .long, help: "Keep detections scoring above this (default: the model's box_score_thresh).")
    var scoreThreshold: Float?

    @Option(name: .long, help: "Keep at most this many detections (default: the model's box_detections_per_img).")
    var maxDetections: Int?

    @Flag(name: .long, help: "Leave out masks.")
    var noMasks = false

    @Flag(name: .long, help: "Leave out keypoints (a keypoint model's keypoint head does not run).")
    var noKeypoints = false

    @Option(name: .long, help: "Pipeline: mask (Mask R-CNN), faster (Faster R-CNN), fast (Fast R-CNN) or rcnn (R-CNN); fast and rcnn use --proposals or selective search. Default: the model's own.")
    var pipeline: String?

    @Option(name: .long, help: "Proposals for fast/rcnn: a JSON file holding [[x1, y1, x2, y2], ...] in image pixels (implies --pipeline fast unless rcnn is given).")
    var proposals: String?

    @Flag(name: .long, help: "Pretty-print the JSON.")
    var pretty = false

    @Flag(name: .long, help: "Keep the pixels as stored: do not apply the file's EXIF orientation (by default the photo is turned upright, as viewers show it, and boxes and masks are in that frame).")
    var storedOrientation = false

    @OptionGroup var slicing: SliceArguments

    @Option(name: .long, help: "What a transparent PNG is composited over: #RRGGBB, white or black; none drops the alpha channel.")
    var background: String = "white"

    func run() throws {
        let detector = try model.loadModel()
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: image))) } catch {
            throw ValidationError("cannot read \(image): \(error.localizedDescription)")
        }
        var timings = StageTimings()
        let over: RGBColor?
        if background.lowercased() == "none" { over = nil } else {
            guard let c = RGBColor(parsing: background) else { throw ValidationError("--background must be #RRGGBB, white, black or none") }
            over = c
        }
        let decoded: DecodedImage
        do {
            decoded = try timings.measure("decode") {
                try ImageDecoder.decodeWithInfo(bytes, applyEXIFOrientation: !storedOrientation, background: over)
            }
        } catch {
            throw ValidationError("\(image): \(error)")
        }
        let rgb = decoded.image
        if let s = scoreThreshold, !(0...1).contains(s) { throw ValidationError("--score-threshold must be in [0, 1]") }
        var options = DetectionModel.Options(scoreThreshold: scoreThreshold, maxDetections: maxDetections, masks: !noMasks)
        options.keypoints = !noKeypoints
        if let proposals {
            guard let data = FileManager.default.contents(atPath: proposals),
                  let list = (try? JSONSerialization.jsonObject(with: data)) as? [[Double]],
                  !list.isEmpty, list.allSatisfy({ $0.count == 4 && $0[2] > $0[0] && $0[3] > $0[1] }) else {
                throw ValidationError("\(proposals): expected a JSON array of [x1, y1, x2, y2] boxes with x2 > x1 and y2 > y1")
            }
            options.proposals = list.map { Box(Float($0[0]), Float($0[1]), Float($0[2]), Float($0[3])) }
            options.pipeline = .fast
        }
        if let pipeline {
            guard detector.pipelines.contains(pipeline), let p = DetectionModel.Pipeline(rawValue: pipeline) else {
                throw ValidationError("--pipeline must be one of \(detector.pipelines.joined(separator: ", "))")
            }
            guard options.proposals == nil || p == .fast || p == .rcnn else {
                throw ValidationError("--proposals is for --pipeline fast or rcnn")
            }
            options.pipeline = p
        }
        let sliceOptions = slicing.options(for: rgb, model: detector)
        if sliceOptions != nil && options.proposals != nil { throw ValidationError("--slice and --proposals cannot be combined") }
        let det: Detections
        var report: SliceReport?
        if let sliceOptions {
            let r = detector.detectSliced(rgb, options: options, slicing: sliceOptions)
            det = r.detections
            timings.append(r.timings)
            report = r.report
        } else {
            let (d, t) = detector.detect(rgb, options: options)
            det = d
            timings.append(t)
        }
        let ran = options.pipeline == .default ? detector.pipelines[0] : options.pipeline.rawValue
        var doc = DetectionDocument(model: detector.name, pipeline: ran,
                                    imageWidth: rgb.width, imageHeight: rgb.height, detections: det,
                                    classes: detector.classes, timings: timings,
                                    orientation: decoded.exifOrientation?.rawValue ?? 1, orientationApplied: decoded.orientationApplied)
        if ran != DetectionModel.Pipeline.rcnn.rawValue {
            let input = sliceOptions.map { s in s.tiles(width: rgb.width, height: rgb.height)[0] }.map { ($0.height, $0.width) } ?? (rgb.height, rgb.width)
            let p = detector.preprocessor, size = p.resizedSize(h: input.0, w: input.1)
            doc.preprocessing = .init(resizedHeight: size.h, resizedWidth: size.w, scale: p.scale(h: input.0, w: input.1))
        }
        if let sliceOptions, let report { doc.slicing = .init(sliceOptions, report) }
        FileHandle.standardOutput.write(try doc.jsonData(pretty: pretty))
        FileHandle.standardOutput.write("\n".data(using: .utf8)!)
    }
}
