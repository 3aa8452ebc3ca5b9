import ArgumentParser
import COCO
import Detection
import Foundation
import Imaging
import Tensor

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run a model over a COCO-format dataset and print the COCO metrics (bbox, and segm for mask models).")

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

    func run() throws {
        if let t = model.threads { BLAS.threads = t; Parallelism.workers = t }
        let detector: DetectionModel
        let dataset: COCODataset
        do {
            detector = try DetectionModel(configURL: try model.configURL())
            dataset = try COCODataset(contentsOf: URL(fileURLWithPath: annotations))
        } catch let e as ValidationError { throw e } catch { throw ValidationError("\(error)") }

        // Class ids map to category ids by name when the names match, else by id.
        var byName: [String: Int] = [:]
        for c in dataset.categories { byName[c.name] = c.id }
        let categoryOf: (Int) -> Int = { classID in
            classID < detector.classes.count ? (byName[detector.classes[classID]] ?? classID) : classID
        }

        var ids = dataset.imageIDs
        if let limit { ids = Array(ids.prefix(limit)) }
        var results: [COCODetection] = []
        let progress = ProgressBar(total: ids.count)
        let options = DetectionModel.Options(scoreThreshold: scoreThreshold)
        for id in ids {
            guard let info = dataset.image(id: id), let name = info.fileName else {
                throw ValidationError("image \(id) has no file_name in \(annotations)")
            }
            let path = URL(fileURLWithPath: images).appendingPathComponent(name)
            let rgb: RGBImage
            do { rgb = try ImageDecoder.decode(try Data(contentsOf: path)) } catch {
                throw ValidationError("\(path.path): \(error)")
            }
            let (det, _) = detector.detect(rgb, options: options)
            for i in 0..<det.count {
                let b = det.boxes[i]
                var d = COCODetection(imageID: id, categoryID: categoryOf(det.labels[i]), score: Double(det.scores[i]),
                                      bbox: COCOBox(x: Double(b.x1), y: Double(b.y1), width: Double(b.x2 - b.x1), height: Double(b.y2 - b.y1)))
                if let m = det.masks?[i] {
                    d.segmentation = .rle(RLE(rowMajorMask: m, height: rgb.height, width: rgb.width))
                }
                results.append(d)
            }
            progress.advance()
        }
        progress.finish()

        if let output {
            let encoder = JSONEncoder()
            try encoder.encode(results).write(to: URL(fileURLWithPath: output))
        }
        var report: [String: [String: Double]] = [:]
        for iouType in detector.hasMasks ? [COCOIoUType.bbox, .segm] : [.bbox] {
            let dt = try dataset.loadResults(results.map { r in
                var r = r
                if iouType == .bbox { r.segmentation = nil }
                return r
            })
            var parameters = COCOEvalParameters(iouType: iouType)
            parameters.imageIDs = ids
            let evaluation = try COCOEvaluator(groundTruth: dataset, detections: dt, parameters: parameters).evaluate()
            if json {
                report[iouType == .bbox ? "bbox" : "segm"] = Dictionary(uniqueKeysWithValues: zip(COCOStats.names, evaluation.stats.values))
            } else {
                print("\(iouType == .bbox ? "bbox" : "segm"): \(ids.count) images, \(results.count) detections")
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
