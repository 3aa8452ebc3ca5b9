import Foundation

/// Turning detector output into a dataset that can be evaluated (pycocotools' `COCO.loadRes`).
extension COCODataset {
    /// Reads a COCO results file (a JSON list of `COCODetection`) and loads it with
    /// `loadResults(_:)`.
    public func loadResults(contentsOf url: URL) throws -> COCODataset {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw COCOError.invalidFile(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try loadResults(decodeJSON([COCODetection].self, from: data, path: url.path))
    }

    /// Makes a detections dataset against this ground truth, as `COCO.loadRes` does: the images
    /// and categories are this dataset's, and detection `i` (0-based, file order) becomes
    /// annotation id `i + 1` with `iscrowd` 0.
    ///
    /// The first detection decides the kind, as in pycocotools:
    /// - with a box: box results. `area` is `width * height` of the box, even for mask
    ///   evaluation, and a detection without a mask gets its box as a polygon.
    /// - without a box, with a mask: mask results. `area` is the mask's pixel count and a
    ///   missing box is the mask's bounding box.
    /// - with keypoints only: keypoint results. The box is the keypoints' extent (every
    ///   keypoint, whatever its score) and `area` that box's area.
    ///
    /// Keypoints are carried over in every kind, for keypoint evaluation.
    ///
    /// An empty list gives a dataset with no annotations (pycocotools fails on it; evaluating
    /// it gives AP 0 wherever there is ground truth).
    ///
    /// - Throws: `COCOError.unknownImage` for a detection on an image not in this dataset,
    ///   `COCOError.missingField` for a detection without the box (box results), mask (mask
    ///   results) or keypoints (keypoint results) the first detection set the kind to,
    ///   `COCOError.invalidKeypoints` for keypoints that are not finite `(x, y, score)` triples
    ///   (keypoint results need at least one).
    public func loadResults(_ detections: [COCODetection]) throws -> COCODataset {
        var annotations: [COCOAnnotation] = []
        annotations.reserveCapacity(detections.count)
        let first = detections.first
        let boxResults = first?.bbox != nil
        let keypointResults = !boxResults && first?.segmentation == nil && first?.keypoints != nil
        for (index, detection) in detections.enumerated() {
            let id = index + 1
            guard let image = image(id: detection.imageID) else {
                throw COCOError.unknownImage(imageID: detection.imageID)
            }
            var annotation = COCOAnnotation(id: id, imageID: detection.imageID, categoryID: detection.categoryID,
                                            bbox: detection.bbox, area: 0, isCrowd: false,
                                            segmentation: detection.segmentation, score: detection.score,
                                            keypoints: detection.keypoints)
            if keypointResults {
                guard let keypoints = detection.keypoints else {
                    throw COCOError.missingField(annotationID: id, field: "keypoints")
                }
                let box = try Self.keypointExtent(keypoints, annotationID: id)
                annotation.bbox = box
                annotation.area = box.width * box.height
            } else if boxResults {
                guard let box = detection.bbox else { throw COCOError.missingField(annotationID: id, field: "bbox") }
                if annotation.segmentation == nil {
                    let x1 = box.x, x2 = box.x + box.width, y1 = box.y, y2 = box.y + box.height
                    annotation.segmentation = .polygons([[x1, y1, x1, y2, x2, y2, x2, y1]])
                }
                annotation.area = box.width * box.height
            } else {
                guard let segmentation = detection.segmentation else {
                    throw COCOError.missingField(annotationID: id, field: "segmentation")
                }
                // pycocotools only accepts a compressed RLE here; other forms are rasterized the
                // way evaluation would rasterize them.
                let rle = segmentation.rle(imageHeight: image.height, imageWidth: image.width)
                annotation.area = Double(rle.area)
                if annotation.bbox == nil { annotation.bbox = rle.boundingBox }
            }
            annotations.append(annotation)
        }
        return COCODataset(images: images, annotations: annotations, categories: categories)
    }

    /// The box from the smallest to the largest keypoint x and y, as `loadRes` computes it.
    private static func keypointExtent(_ keypoints: [Double], annotationID: Int) throws -> COCOBox {
        if let problem = ObjectKeypointSimilarity.problem(with: keypoints) {
            throw COCOError.invalidKeypoints(annotationID: annotationID, reason: "detection \(problem)")
        }
        if keypoints.isEmpty {
            throw COCOError.invalidKeypoints(annotationID: annotationID, reason: "detection has no keypoints")
        }
        var x0 = Double.infinity, x1 = -Double.infinity, y0 = Double.infinity, y1 = -Double.infinity
        for k in stride(from: 0, to: keypoints.count, by: 3) {
            x0 = min(x0, keypoints[k])
            x1 = max(x1, keypoints[k])
            y0 = min(y0, keypoints[k + 1])
            y1 = max(y1, keypoints[k + 1])
        }
        return COCOBox(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}
