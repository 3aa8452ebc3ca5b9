import ArgumentParser
import COCO
import Detection
import Foundation
import Imaging
import Tensor

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run a model over a COCO-format dataset and print the COCO metrics (bbox, segm for mask models, keypoints for keypoint models).",
        discussion: "Images are read in their stored frame: an EXIF orientation tag is not applied, since COCO annotations are in stored pixels (rcnn detect and the server apply it by default). A PNG's alpha channel is dropped, as the torchvision reference reads images.")

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "COCO instances.json with the ground truth.")
    var annotations: String

    @Option(name: .long, help: "Folder holding the images named by the annotations' file_name.")
    var images: String

    @Option(name: .long, help: "Write the detections here in COCO results format.")
    var output: String?

    @Option(name: .long, help: "Score threshold for the detections (default: the model's box_score_thresh).")
    var scoreThreshold: Float?

    @Option(name: .long, help: "Evaluate only the first N images.")
    var limit: Int?

    @Flag(name: .long, help: "Print the metrics as JSON instead of pycocotools' summary lines.")
    var json = false

    @Flag(name: .long, help: "Leave out keypoints: a keypoint model's keypoint head does not run and keypoints are not scored.")
    var noKeypoints = false

    @OptionGroup var slicing: SliceArguments

    func run() throws {
        let detector = try model.loadModel()
        let dataset: COCODataset
        do { dataset = try COCODataset(contentsOf: URL(fileURLWithPath: annotations)) } catch { throw ValidationError("\(error)") }

        var ids = dataset.imageIDs
        if let limit { ids = Array(ids.prefix(limit)) }
        let evaluator = DatasetEvaluator(model: detector, dataset: dataset, imagesDirectory: URL(fileURLWithPath: images))
        let progress = ProgressBar(total: ids.count)
        let results: [COCODetection]
        do {
            var options = DetectionModel.Options(scoreThreshold: scoreThreshold)
            options.keypoints = !noKeypoints
            results = try evaluator.detections(imageIDs: ids, options: options,
                                               slicing: { slicing.options(for: $0, model: detector) }) { _, _ in progress.advance() }
        } catch { throw ValidationError("\(error)") }
        progress.finish()

        if let output {
            let encoder = JSONEncoder()
            try encoder.encode(results).write(to: URL(fileURLWithPath: output))
        }
        var report: [String: [String: Double]] = [:]
        for (iouType, evaluation) in try evaluator.evaluate(results, imageIDs: ids, keypoints: !noKeypoints) {
            if json {
                report[iouType.rawValue] = Dictionary(uniqueKeysWithValues: zip(evaluation.stats.kind.names, evaluation.stats.values))
            } else {
                print("\(iouType.rawValue): \(ids.count) images, \(results.count) detections")
                print(evaluation.summary)
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }
}

/// A one-line progress bar on standard error: `[=====>    ] 120/500  4.1 img/s  ETA 93 s`.
final class ProgressBar {
    let total: Int
    var done = 0
    let start = Date()
    let interactive = isatty(2) != 0

    init(total: Int) { self.total = total }

    func advance() {
        done += 1
        guard interactive || done == total || done % max(1, total / 10) == 0 else { return }
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        let line = String(format: "[%@] %d/%d  %.1f img/s  ETA %.0f s", bar, done, total, rate, eta)
        FileHandle.standardError.write(((interactive ? "\r" : "") + line + (interactive ? "" : "\n")).data(using: .utf8)!)
    }

    func finish() {
        if interactive { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }
}
