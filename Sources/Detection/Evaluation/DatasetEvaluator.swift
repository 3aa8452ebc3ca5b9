import COCO
import Foundation
import Imaging

/// Runs a model over a COCO-format dataset and scores the result with the COCO protocol
/// (pycocotools semantics, see the COCO module): the engine behind `rcnn eval`.
public struct DatasetEvaluator {
    public let model: DetectionModel
    public let dataset: COCODataset
    public let imagesDirectory: URL

    public init(model: DetectionModel, dataset: COCODataset, imagesDirectory: URL) {
        self.model = model
        self.dataset = dataset
        self.imagesDirectory = imagesDirectory
    }

    /// Category id for a class id: by name when the dataset's category names match the model's
    /// class names, else the class id itself (torchvision's 91-class COCO indexing).
    public func categoryID(forClass classID: Int) -> Int {
        guard classID < model.classes.count else { return classID }
        let name = model.classes[classID]
        return dataset.categories.first { $0.name == name }?.id ?? classID
    }

    /// Detections for `imageIDs` in COCO results format (bbox `[x, y, w, h]`, and RLE segmentation
    /// for mask models). `progress` is called after each image with (done, total).
    /// `slicing`, when given, chooses per image whether and how to run sliced (nil: not sliced).
    public func detections(imageIDs: [Int], options: DetectionModel.Options = .init(),
                           slicing: (RGBImage) -> SliceOptions? = { _ in nil },
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> [COCODetection] {
        var results: [COCODetection] = []
        for (n, id) in imageIDs.enumerated() {
            guard let info = dataset.image(id: id), let name = info.fileName else {
                throw COCOError.invalidFile(path: "annotations", reason: "image \(id) has no file_name")
            }
            let path = imagesDirectory.appendingPathComponent(name)
            // The stored frame, never the EXIF orientation: COCO annotations are in stored pixels.
            let rgb: RGBImage
            do { rgb = try ImageDecoder.decode(try Data(contentsOf: path), applyEXIFOrientation: false) } catch {
                throw COCOError.invalidFile(path: path.path, reason: "\(error)")
            }
            let det = slicing(rgb).map { model.detectSliced(rgb, options: options, slicing: $0).detections }
                ?? model.detect(rgb, options: options).detections
            for i in 0..<det.count {
                let b = det.boxes[i]
                var d = COCODetection(imageID: id, categoryID: categoryID(forClass: det.labels[i]), score: Double(det.scores[i]),
                                      bbox: COCOBox(x: Double(b.x1), y: Double(b.y1), width: Double(b.x2 - b.x1), height: Double(b.y2 - b.y1)))
                if let m = det.masks?[i] { d.segmentation = .rle(m.rle()) }
                // COCO results format: [x, y, v] per keypoint with v = 1 (torchvision's reference
                // writes its predicted visibility, always 1); the evaluation reads only x and y.
                if let k = det.keypoints?[i] { d.keypoints = k.flatMap { [Double($0.x), Double($0.y), 1] } }
                results.append(d)
            }
            progress(n + 1, imageIDs.count)
        }
        return results
    }

    /// Whether keypoints are scored: a keypoint model on a dataset whose annotations carry keypoints.
    public var evaluatesKeypoints: Bool {
        model.hasKeypoints && dataset.annotations.contains { $0.keypoints != nil }
    }

    /// COCO evaluation of `results` over `imageIDs`: bbox, plus segm for mask models, plus
    /// keypoints (OKS with the model config's `keypoint_sigmas`) for keypoint models on datasets
    /// with keypoints. Keypoint results are scored as torchvision's reference scores them: without
    /// boxes, so a detection's area is its keypoints' extent. `keypoints: false` leaves keypoints
    /// out (for detections made without them).
    public func evaluate(_ results: [COCODetection], imageIDs: [Int], keypoints: Bool = true) throws -> [(COCOIoUType, COCOEvaluation)] {
        var out: [(COCOIoUType, COCOEvaluation)] = []
        var types: [COCOIoUType] = model.hasMasks ? [.bbox, .segm] : [.bbox]
        if keypoints && evaluatesKeypoints { types.append(.keypoints) }
        for iouType in types {
            let dt = try dataset.loadResults(results.compactMap { r in
                var r = r
                switch iouType {
                case .bbox: r.segmentation = nil; r.keypoints = nil
                case .segm: r.keypoints = nil
                case .keypoints:
                    guard r.keypoints != nil else { return nil }
                    r.bbox = nil; r.segmentation = nil
                }
                return r
            })
            var parameters = COCOEvalParameters(iouType: iouType)
            parameters.imageIDs = imageIDs
            if iouType == .keypoints {
                let count = model.config.keypointPredictor?.numKeypoints ?? 0
                if let sigmas = model.config.keypointSigmas {
                    parameters.keypointSigmas = sigmas
                } else if count != parameters.keypointSigmas.count {
                    throw COCOError.invalidParameters("model '\(model.name)' predicts \(count) keypoints and its config has no keypoint_sigmas for the OKS")
                }
            }
            out.append((iouType, try COCOEvaluator(groundTruth: dataset, detections: dt, parameters: parameters).evaluate()))
        }
        return out
    }
}
