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

    @Flag(name: .long, help: "Pretty-print the JSON.")
    var pretty = false

    func run() throws {
        if let t = model.threads { BLAS.threads = t; Parallelism.workers = t }
        let url = try model.configURL()
        let detector: DetectionModel
        do { detector = try DetectionModel(configURL: url) } catch {
            throw ValidationError("\(error)")
        }
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: image))) } catch {
            throw ValidationError("cannot read \(image): \(error.localizedDescription)")
        }
        var timings = StageTimings()
        let rgb: RGBImage
        do { rgb = try timings.measure("decode") { try ImageDecoder.decode(bytes) } } catch {
            throw ValidationError("\(image): \(error)")
        }
        if let s = scoreThreshold, !(0...1).contains(s) { throw ValidationError("--score-threshold must be in [0, 1]") }
        let options = DetectionModel.Options(scoreThreshold: scoreThreshold, maxDetections: maxDetections, masks: !noMasks)
        let (det, t) = detector.detect(rgb, options: options)
        timings.append(t)
        let doc = DetectionDocument(model: detector.name, pipeline: detector.hasMasks ? "mask" : "faster",
                                    imageWidth: rgb.width, imageHeight: rgb.height, detections: det,
                                    classes: detector.classes, timings: timings)
        FileHandle.standardOutput.write(try doc.jsonData(pretty: pretty))
        FileHandle.standardOutput.write("\n".data(using: .utf8)!)
    }
}
