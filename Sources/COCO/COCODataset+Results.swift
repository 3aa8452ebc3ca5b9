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
    /// - without a box: mask results. `area` is the mask's pixel count and a missing box is the
    ///   mask's bounding box.
    ///
    /// An empty list gives a dataset with no annotations (pycocotools fails on it; evaluating
    /// it gives AP 0 wherever there is ground truth).
    ///
    /// - Throws: `COCOError.unknownImage` for a detection on an image not in this dataset,
    ///   `COCOError.missingField` for a detection without the box (box results) or mask (mask
    ///   results) the first detection set the kind to.
    public func loadResults(_ detections: [COCODetection]) throws -> COCODataset {
        var annotations: [COCOAnnotation] = []
        annotations.reserveCapacity(detections.count)
        let boxResults = detections.first?.bbox != nil
        for (index, detection) in detections.enumerated() {
            let id = index + 1
            guard let image = image(id: detection.imageID) else {
                throw COCOError.unknownImage(imageID: detection.imageID)
            }
            var annotation = COCOAnnotation(id: id, imageID: detection.imageID, categoryID: detection.categoryID,
                                            bbox: detection.bbox, area: 0, isCrowd: false,
                                            segmentation: detection.segmentation, score: detection.score)
            if boxResults {
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
}
